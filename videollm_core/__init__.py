"""videollm-core: decoder-only LLMs as general video-sequence reasoners (VideoLLM, Chen et al. 2023).

The kernel: registries, plugin hooks, configs, the pipeline and the runner. Model
and task code lives in plugins (the built-ins are the package `videollm_plugins`).
Everything but the errors and hook markers loads on first use, so `import videollm_core`
stays cheap (no torch).
"""
from __future__ import annotations

from typing import Any

from .errors import ConfigError, DataError, PluginError, RegistryError, UserError
from .hookspecs import hookimpl, hookspec

__version__ = "0.1.0"

#: name -> (module, attribute): loaded on first use (PEP 562), so that reading a config or
#: printing an error never imports torch; `from videollm_core import Translator` works as usual.
_LAZY = {
    **{name: ("base", name) for name in ("PLUGIN_API_VERSION", "Encoder", "EncoderStream", "LLMAdapter", "TaskHead",
                                         "TextEncoder", "Translator", "TranslatorStream", "Tuner")},
    **{name: ("data", name) for name in ("DataErrors", "FeatureSource", "Metric", "VideoDataset", "pad_collate")},
    **{name: ("features", name) for name in ("build_feature_source", "features_from_path")},
    **{name: ("plugins", name) for name in ("DATASETS", "ENCODERS", "FEATURES", "HEADS", "LLMS", "METRICS",
                                             "REGISTRIES", "TRANSLATORS", "TUNERS", "Registries")},
    **{name: ("types", name) for name in ("StreamInputs", "TokenSequence", "VideoBatch")},
    "load_config": ("config", "load_config"),
    "Config": ("config", "Config"),
    "validate_config": ("validation", "validate_config"),
    "RunConfig": ("sections", "RunConfig"),
    "task_specs": ("task_spec", "task_specs"),
    "build_pipeline": ("pipeline", "build_pipeline"),
    "VideoLLM": ("pipeline", "VideoLLM"),
    "Runner": ("engine.runner", "Runner"),
    "save_pretrained": ("engine.pretrained", "save_pretrained"),  # (pipeline, DIR, config=, **info): what videollm export writes
    "from_pretrained": ("engine.pretrained", "from_pretrained"),  # VideoLLM.from_pretrained itself
    "PluginManager": ("plugins", "PluginManager"),
    "get_plugin_manager": ("plugins", "get_plugin_manager"),
    "configure_plugins": ("plugins", "configure_plugins"),
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        value = getattr(importlib.import_module(f".{module}", __name__), attr)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'videollm_core' has no attribute {name!r}")


__all__ = ["UserError", "ConfigError", "RegistryError", "PluginError", "DataError", "hookimpl", "hookspec", *_LAZY]

"""Building `transformers` models: the one builder of the built-in plugins.

The LLM adapters (`llms`), the frame and text encoders (`encoders`) and the
extraction backbones (`features.backbones`) all build their model in two steps, so
they share the errors, the dtype names and the dry run:

1. `hf_config`: the `transformers` config from exactly one of `pretrained:` (hub
   name or local directory: its `config.json`; on the meta device the paper's LLMs come
   from the architectures shipped in `llms.architectures`, nothing is downloaded)
   and `config:` (a mapping with `model_type`, every key checked, random weights).
2. `build_hf_model`: `cls.from_pretrained(pretrained)` with real weights, or a
   model with random weights from the config (always so, and allocation-free, on the meta
   device of a dry run).

Weights load in `dtype` (`None`: `transformers`' default, float32). `transformers` is
imported inside the functions only.
"""
from __future__ import annotations

import inspect
import os
from typing import Any

import torch
from torch import nn

from videollm_core.errors import ConfigError

from .llms.architectures import known_architecture, known_names

_DTYPES = {"float32": torch.float32, "fp32": torch.float32, "float16": torch.float16, "fp16": torch.float16,
           "bfloat16": torch.bfloat16, "bf16": torch.bfloat16}

#: keys every transformers config accepts besides its own fields (popped or stored by
#: `PreTrainedConfig.__post_init__`, or common to published `config.json` files).
GENERIC_CONFIG_KEYS = frozenset({
    "bos_token_id", "eos_token_id", "pad_token_id", "sep_token_id", "decoder_start_token_id",
    "tie_word_embeddings", "tie_encoder_decoder", "is_decoder", "add_cross_attention", "use_cache",
    "torch_dtype", "num_labels", "rope_theta", "rope_scaling", "name_or_path", "output_attentions",
    "attn_implementation", "tokenizer_class", "task_specific_params", "prefix", "_name_or_path",
})


def resolve_dtype(dtype: str | None, where: str) -> Any:
    """`"float32" | "bfloat16" | "float16" | "auto" | None` -> what `from_pretrained(dtype=)` takes."""
    if dtype is None or dtype == "auto":
        return dtype
    if dtype not in _DTYPES:
        raise ConfigError(f"unknown dtype {dtype!r}", where=f"{where}.dtype", hint=f"one of {sorted(_DTYPES)} or auto")
    return _DTYPES[dtype]


def on_meta_device() -> bool:
    """True inside `with torch.device("meta")` (the dry run)."""
    return torch.get_default_device().type == "meta"


def model_class(name: str, where: str) -> Any:
    """The `transformers` model class called `name` (`AutoModel`, `CLIPVisionModel`...)."""
    import transformers
    from transformers.models.auto.auto_factory import _BaseAutoModelClass

    cls = getattr(transformers, str(name), None)
    if not (isinstance(cls, type) and issubclass(cls, (transformers.PreTrainedModel, _BaseAutoModelClass))):
        raise ConfigError(f"'{name}' is not a transformers model class", where=where,
                          hint="a class name exported by transformers, e.g. CLIPVisionModel, BertModel")
    return cls


def unknown_config_keys(model_type: str, keys: Any) -> list[str]:
    """The `keys` that the transformers config class of `model_type` does not know (sorted)."""
    from transformers import GenerationConfig
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING

    cls = CONFIG_MAPPING[model_type]
    known = set(GENERIC_CONFIG_KEYS) | set(getattr(cls, "attribute_map", {}))
    known |= set(GenerationConfig._get_default_generation_params())
    for klass in cls.__mro__:
        if "__init__" in vars(klass):
            known |= set(inspect.signature(klass.__init__).parameters)
    return sorted(k for k in keys if k not in known and k != "model_type")


def config_from_dict(config: Any, *, where: str) -> Any:
    """`{model_type: ..., sizes...}` -> the transformers config; a key the `model_type`
    does not know is a [`ConfigError`][videollm_core.errors.ConfigError] naming it (transformers would keep it as an
    unused attribute and build the default architecture)."""
    from transformers import AutoConfig

    if not isinstance(config, dict) or "model_type" not in config:
        raise ConfigError("'config' must be a mapping with 'model_type' (gpt2, opt, llama, t5, vit...)", where=where)
    args = dict(config)
    model_type = args.pop("model_type")
    try:
        unknown = unknown_config_keys(model_type, args)
    except KeyError as e:
        raise ConfigError(f"unknown model_type {model_type!r}", where=f"{where}.model_type",
                          hint="a transformers model type, e.g. gpt2, opt, llama, t5") from e
    if unknown:
        raise ConfigError(f"{', '.join(repr(k) for k in unknown)} not known to model_type {model_type!r}",
                          where=f"{where}.{unknown[0]}",
                          hint=f"use the {model_type} config's own names (see transformers' "
                               f"{type(AutoConfig.for_model(model_type)).__name__}), or drop them")
    try:
        return AutoConfig.for_model(model_type, **args)
    except (ValueError, KeyError, TypeError) as e:
        raise ConfigError(f"bad transformers config: {e}", where=where) from e


def _load_hint() -> str:
    return ("a local directory written by save_pretrained, or a hub name available offline "
            f"(architectures shipped for dry runs: {', '.join(known_names())})")


def hf_config(pretrained: str | None, config: dict | None, *, where: str, config_class: Any = None,
              trust_remote_code: bool = False) -> Any:
    """The `transformers` config to build at `where` (the owner of `pretrained`/`config`):
    from `config` (needs `model_type`), from a shipped hub name (meta device only), or read
    from `pretrained` (a local directory or the hub) as `config_class` (default
    `AutoConfig`; e.g. `CLIPVisionConfig` reads the vision tower's part of a CLIP checkpoint)."""
    from transformers import AutoConfig

    if (pretrained is None) == (config is None):
        raise ConfigError("give exactly one of 'pretrained' (hub name or directory) and 'config' (a mapping with model_type)",
                          where=where, hint="e.g. config: {model_type: gpt2, n_layer: 2, n_embd: 64, n_head: 2} "
                                            "for a random tiny model")
    if config is not None:
        return config_from_dict(config, where=f"{where}.config")
    pretrained = str(pretrained)
    shipped = known_architecture(pretrained)
    if on_meta_device() and shipped is not None and not os.path.isdir(pretrained):
        return config_from_dict(shipped, where=f"{where}.config")
    reader = config_class if config_class is not None else AutoConfig
    try:
        return reader.from_pretrained(pretrained, trust_remote_code=trust_remote_code)
    except (OSError, ValueError) as e:
        raise ConfigError(f"cannot load {pretrained!r}: cannot read the config ({e})", where=f"{where}.pretrained",
                          hint=_load_hint()) from e


def build_hf_model(cls: Any, pretrained: str | None, cfg: Any, *, where: str, dtype: Any = None,
                   attn_implementation: str | None = None, trust_remote_code: bool = False) -> Any:
    """`cls.from_pretrained(pretrained, config=cfg)` with real weights, or `cls` built from
    `cfg` (the `hf_config`) with random ones (always random, and allocation-free, on
    the meta device). `cls`: a `transformers` model class or Auto class."""
    from transformers import PreTrainedModel

    kwargs: dict[str, Any] = {}
    if attn_implementation is not None:
        kwargs["attn_implementation"] = attn_implementation
    if pretrained is not None and not on_meta_device():
        try:
            return cls.from_pretrained(str(pretrained), config=cfg, dtype=dtype, trust_remote_code=trust_remote_code,
                                       **kwargs)
        except (OSError, ValueError) as e:
            raise ConfigError(f"cannot load {str(pretrained)!r}: {e}", where=f"{where}.pretrained",
                              hint=_load_hint()) from e
    if attn_implementation is not None:
        cfg._attn_implementation = attn_implementation
    make = cls._from_config if issubclass(cls, PreTrainedModel) else cls.from_config  # model classes | Auto classes
    return make(cfg, dtype=dtype if isinstance(dtype, torch.dtype) else None)


def load_hf_model(pretrained: str | None, config: dict | None, class_name: str | None = None, *, where: str) -> nn.Module:
    """`hf_config` then `build_hf_model` for a `transformers` class named `class_name`
    (default `AutoModel`; a model class reads `pretrained`'s config as its own config class,
    e.g. `CLIPVisionModel` the vision tower of a CLIP checkpoint)."""
    from transformers import PreTrainedModel

    cls = model_class(class_name or "AutoModel", f"{where}.model_class")
    config_class = cls.config_class if issubclass(cls, PreTrainedModel) else None
    cfg = hf_config(pretrained, config, where=where, config_class=config_class)
    return build_hf_model(cls, pretrained, cfg, where=where)


def freeze(model: nn.Module) -> nn.Module:
    """`requires_grad_(False)` and eval mode (dropout off); returns `model`."""
    model.requires_grad_(False)
    return model.eval()

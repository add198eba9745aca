"""Building a ``transformers`` model for an LLM adapter: from ``pretrained:`` (hub name or
local directory, through ``from_pretrained``), from ``config:`` (random weights), or on the
meta device for a dry run (architecture from :mod:`.architectures`, nothing downloaded).
"""
from __future__ import annotations

import logging
import os
from typing import Any

import torch

from videollm_core.errors import ConfigError

from .architectures import known_architecture, known_names

log = logging.getLogger("videollm")

_DTYPES = {"float32": torch.float32, "fp32": torch.float32, "float16": torch.float16, "fp16": torch.float16,
           "bfloat16": torch.bfloat16, "bf16": torch.bfloat16}


def resolve_dtype(dtype: str | None, where: str) -> Any:
    """``"float32" | "bfloat16" | "float16" | "auto" | None`` -> what ``from_pretrained(dtype=)`` takes."""
    if dtype is None or dtype == "auto":
        return dtype
    if dtype not in _DTYPES:
        raise ConfigError(f"unknown dtype {dtype!r}", where=f"{where}.dtype", hint=f"one of {sorted(_DTYPES)} or auto")
    return _DTYPES[dtype]


def on_meta_device() -> bool:
    """True inside ``with torch.device("meta")`` (the dry run)."""
    return torch.get_default_device().type == "meta"


#: keys every transformers config accepts besides its own fields (popped or stored by
#: ``PreTrainedConfig.__post_init__``, or common to published ``config.json`` files).
GENERIC_CONFIG_KEYS = frozenset({
    "bos_token_id", "eos_token_id", "pad_token_id", "sep_token_id", "decoder_start_token_id",
    "tie_word_embeddings", "tie_encoder_decoder", "is_decoder", "add_cross_attention", "use_cache",
    "torch_dtype", "num_labels", "rope_theta", "rope_scaling", "name_or_path", "output_attentions",
    "attn_implementation", "tokenizer_class", "task_specific_params", "prefix", "_name_or_path",
})


def unknown_config_keys(model_type: str, keys: Any) -> list[str]:
    """The ``keys`` that the transformers config class of ``model_type`` does not know (sorted)."""
    import inspect

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
    """``{model_type: ..., sizes...}`` -> the transformers config; a key the ``model_type``
    does not know is a :class:`ConfigError` naming it (transformers would keep it as an
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


def hf_config(pretrained: str | None, config: dict | None, *, trust_remote_code: bool, where: str) -> Any:
    """The ``transformers`` config to build: from ``config`` (needs ``model_type``), from a known
    hub name (meta device only), or read from ``pretrained`` (a local directory or the hub)."""
    from transformers import AutoConfig

    if (pretrained is None) == (config is None):
        raise ConfigError("give exactly one of 'pretrained' (hub name or directory) and 'config' (architecture)",
                          where=where, hint="e.g. config: {model_type: gpt2, n_layer: 2, n_embd: 64, n_head: 2}")
    if config is not None:
        return config_from_dict(config, where=f"{where}.config")
    shipped = known_architecture(pretrained)
    if on_meta_device() and shipped is not None and not os.path.isdir(pretrained):
        return hf_config(None, shipped, trust_remote_code=trust_remote_code, where=where)
    try:
        return AutoConfig.from_pretrained(pretrained, trust_remote_code=trust_remote_code)
    except (OSError, ValueError) as e:
        raise ConfigError(f"cannot read the config of {pretrained!r}: {e}", where=f"{where}.pretrained",
                          hint=f"give a local directory; architectures shipped for dry runs: {', '.join(known_names())}") from e


def build_hf_model(cls: Any, pretrained: str | None, cfg: Any, *, dtype: Any, attn_implementation: str | None,
                   trust_remote_code: bool, where: str) -> Any:
    """``cls.from_pretrained(pretrained)`` with real weights, or ``cls(cfg)`` with random ones
    (always random, and allocation-free, on the meta device)."""
    kwargs: dict[str, Any] = {}
    if attn_implementation is not None:
        kwargs["attn_implementation"] = attn_implementation
    if pretrained is not None and not on_meta_device():
        try:
            return cls.from_pretrained(pretrained, config=cfg, dtype=dtype, trust_remote_code=trust_remote_code, **kwargs)
        except (OSError, ValueError) as e:
            raise ConfigError(f"cannot load {pretrained!r}: {e}", where=f"{where}.pretrained",
                              hint="give a local directory saved with save_pretrained (no model hub offline)") from e
    if attn_implementation is not None:
        cfg._attn_implementation = attn_implementation
    make = getattr(cls, "from_config", None) or cls._from_config  # Auto classes | model classes
    return make(cfg, dtype=dtype if isinstance(dtype, torch.dtype) else None)

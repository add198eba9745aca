"""Building a transformers backbone from ``pretrained:`` (hub name or directory) or ``config:``.

Shared by the frame (image) and text encoders. ``config`` is a transformers config
as a mapping with ``model_type`` (random initialisation, for tests and demos);
``model_class`` optionally names the transformers class to use instead of
``AutoModel`` (e.g. ``CLIPVisionModel`` for the image tower of a CLIP checkpoint).
"""
from __future__ import annotations

from typing import Any

from torch import nn

from videollm_core import ConfigError
from videollm_plugins.llms.loading import config_from_dict


def build_hf_model(pretrained: str | None, config: dict[str, Any] | None, model_class: str | None, where: str) -> nn.Module:
    """A transformers model (``PreTrainedModel``) from exactly one of ``pretrained`` / ``config``."""
    import transformers  # lazy

    if (pretrained is None) == (config is None):
        raise ConfigError("give exactly one of 'pretrained' (hub name or directory) and 'config' (a mapping with model_type)",
                          where=where, hint="e.g. config: {model_type: vit, hidden_size: 32, ...} for a random tiny model")
    cls: Any = transformers.AutoModel
    if model_class is not None:
        cls = getattr(transformers, str(model_class), None)
        if not (isinstance(cls, type) and issubclass(cls, transformers.PreTrainedModel)):
            raise ConfigError(f"'{model_class}' is not a transformers model class", where=f"{where}.model_class",
                              hint="a class name exported by transformers, e.g. CLIPVisionModel, BertModel")
    if pretrained is not None:
        try:
            return cls.from_pretrained(str(pretrained))
        except (OSError, ValueError) as e:
            raise ConfigError(f"cannot load '{pretrained}': {e}", where=f"{where}.pretrained",
                              hint="a local directory written by save_pretrained, or a hub name available offline") from e
    cfg = config_from_dict(config, where=f"{where}.config")
    if cls is transformers.AutoModel:
        return cls.from_config(cfg)
    return cls(cfg)


def freeze(model: nn.Module) -> nn.Module:
    """``requires_grad_(False)`` and eval mode (dropout off); returns ``model``."""
    model.requires_grad_(False)
    return model.eval()

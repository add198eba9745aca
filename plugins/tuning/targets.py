"""Modules peft methods target, per architecture (`config.model_type`).

T5's decoder blocks hold an `EncDecAttention` that the decoder-only use never runs:
targets there would get no gradient (and break DDP / AdaLoRA), so T5 targets are regexes
on `SelfAttention` and the feed-forward only.
"""
from __future__ import annotations

from typing import Any

from videollm_core.errors import ConfigError

#: model_type -> attention projections for LoRA / AdaLoRA.
LORA_TARGETS: dict[str, Any] = {
    "gpt2": ["c_attn"],
    "opt": ["q_proj", "v_proj"],
    "llama": ["q_proj", "v_proj"],
    "mistral": ["q_proj", "v_proj"],
    "qwen2": ["q_proj", "v_proj"],
    "gpt_neox": ["query_key_value"],
    "bloom": ["query_key_value"],
    "t5": r".*\.SelfAttention\.(q|v)$",
}

#: model_type -> (IA3 targets, IA3 feed-forward modules).
IA3_TARGETS: dict[str, tuple[Any, Any]] = {
    "gpt2": (["c_attn", "mlp.c_proj"], ["mlp.c_proj"]),
    "opt": (["k_proj", "v_proj", "fc2"], ["fc2"]),
    "llama": (["k_proj", "v_proj", "down_proj"], ["down_proj"]),
    "mistral": (["k_proj", "v_proj", "down_proj"], ["down_proj"]),
    "qwen2": (["k_proj", "v_proj", "down_proj"], ["down_proj"]),
    "gpt_neox": (["query_key_value", "dense_4h_to_h"], ["dense_4h_to_h"]),
    "bloom": (["query_key_value", "dense_4h_to_h"], ["dense_4h_to_h"]),
    "t5": (r".*\.(SelfAttention\.(k|v)|DenseReluDense\.wo)$", r".*\.DenseReluDense\.wo$"),
}


def lora_targets(model_type: str, where: str) -> Any:
    """LoRA / AdaLoRA `target_modules` for `model_type`."""
    if model_type not in LORA_TARGETS:
        raise ConfigError(f"no default LoRA target modules for model_type {model_type!r}", where=f"{where}.target_modules",
                          hint=f"set target_modules (known defaults: {', '.join(sorted(LORA_TARGETS))})")
    return LORA_TARGETS[model_type]


def ia3_targets(model_type: str, where: str) -> tuple[Any, Any]:
    """IA3 `(target_modules, feedforward_modules)` for `model_type`."""
    if model_type not in IA3_TARGETS:
        raise ConfigError(f"no default IA3 target modules for model_type {model_type!r}", where=f"{where}.target_modules",
                          hint=f"set target_modules and feedforward_modules (defaults: {', '.join(sorted(IA3_TARGETS))})")
    return IA3_TARGETS[model_type]

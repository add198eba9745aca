"""Optimizer and learning-rate schedule of the runner.

AdamW over the trainable parameters only, with two groups: weight decay on weight
matrices, none on biases and normalisation parameters (LayerNorm, RMSNorm, GroupNorm,
BatchNorm...). Schedules are `transformers.get_scheduler`'s, functions of the optimizer step `s`
(0-based), warmup first: `s / warmup_steps` for `s < warmup_steps`, then

- `cosine`:   `0.5 * (1 + cos(pi * p))`, `p = (s - warmup) / (max_steps - warmup)`
- `linear`:   `1 - p`
- `constant`: `1` (`constant_with_warmup`)

(factors multiply `train.lr`).
"""
from __future__ import annotations


import torch
from torch import nn

from ..errors import ConfigError
from ..sections import SCHEDULERS



def _is_norm(module: nn.Module) -> bool:
    norm_types: tuple[type, ...] = (nn.LayerNorm, nn.GroupNorm, nn.modules.batchnorm._NormBase, nn.LocalResponseNorm)
    rms = getattr(nn, "RMSNorm", None)
    if rms is not None:
        norm_types = norm_types + (rms,)
    return isinstance(module, norm_types) or "norm" in type(module).__name__.lower()


def no_decay_names(model: nn.Module) -> set[str]:
    """Names of parameters that get no weight decay: biases and parameters of norm layers."""
    names = set()
    for mod_name, module in model.named_modules():
        for p_name, _ in module.named_parameters(recurse=False):
            full = f"{mod_name}.{p_name}" if mod_name else p_name
            if p_name.endswith("bias") or _is_norm(module):
                names.add(full)
    return names


def param_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    """Two AdamW groups over `model`'s parameters with `requires_grad`.

    Returns `[{"params": decayed, "weight_decay": wd, "names": [...]},
    {"params": others, "weight_decay": 0.0, "names": [...]}]` (empty groups dropped).
    """
    skip = no_decay_names(model)
    decay: tuple[list[nn.Parameter], list[str]] = ([], [])
    plain: tuple[list[nn.Parameter], list[str]] = ([], [])
    seen: set[int] = set()
    for name, p in model.named_parameters():
        if not p.requires_grad or id(p) in seen:
            continue
        seen.add(id(p))
        target = plain if name in skip else decay
        target[0].append(p)
        target[1].append(name)
    groups = [
        {"params": decay[0], "weight_decay": float(weight_decay), "names": decay[1]},
        {"params": plain[0], "weight_decay": 0.0, "names": plain[1]},
    ]
    return [g for g in groups if g["params"]]


def build_optimizer(model: nn.Module, lr: float, weight_decay: float, *, where: str = "train") -> torch.optim.AdamW:
    """AdamW over the trainable parameters of `model` (see `param_groups`)."""
    groups = param_groups(model, weight_decay)
    if not groups:
        raise ConfigError("nothing to train: no parameter has requires_grad", where=where,
                          hint="the tuner froze everything; use a trainable translator/head or another model.tuner")
    return torch.optim.AdamW(groups, lr=float(lr))


#: `train.scheduler` -> the `transformers.get_scheduler` name (each starts with a linear warmup).
TRANSFORMERS_SCHEDULES = {"cosine": "cosine", "linear": "linear", "constant": "constant_with_warmup"}


def build_scheduler(optimizer: torch.optim.Optimizer, name: str, warmup_steps: int, max_steps: int) -> torch.optim.lr_scheduler.LambdaLR:
    """The schedule `name` of `transformers.get_scheduler` (see the module docstring); step it once per optimizer step."""
    from transformers import get_scheduler

    if name not in TRANSFORMERS_SCHEDULES:
        raise ConfigError(f"unknown scheduler {name!r}", where="train.scheduler", hint=f"use one of {', '.join(SCHEDULERS)}")
    return get_scheduler(TRANSFORMERS_SCHEDULES[name], optimizer, num_warmup_steps=int(warmup_steps), num_training_steps=int(max_steps))


__all__ = ["SCHEDULERS", "TRANSFORMERS_SCHEDULES", "no_decay_names", "param_groups", "build_optimizer", "build_scheduler"]

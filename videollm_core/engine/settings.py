"""The runner's settings: `train:` and `data:` of a config with their defaults.

`train:` keys (all optional): `max_steps` (optimizer steps; else `epochs` over the
first task's training set), `lr`, `weight_decay`, `scheduler` (`cosine` | `linear`
| `constant`, or `{type: NAME}`), `warmup_steps`, `grad_accum` (micro-batches per
optimizer step), `clip_grad` (max global L2 norm, null = off), `mixed_precision`
(`no` | `bf16` | `fp16`; CUDA only, CPU runs in fp32), `eval_every` / `save_every`
/ `log_every` (steps; 0 = at the end only), `keep_last` (checkpoints kept besides the
best), `seed`, `on_nan` (`stop` | `skip`), `log_with` (accelerate's experiment trackers:
`tensorboard` (default), `wandb`, `mlflow`... a list of them, or `none`; `metrics.jsonl` is always written), `primary_metric` (`TASK/KEY`: the validation
score that picks the best checkpoint; default: the first task's metric's primary key). Plugins add
their own keys (`videollm_config_keys`; the built-in `early_stopping` plugin adds `early_stopping`).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Mapping

from ..errors import ConfigErrors
from ..validation import settings_problems


@dataclass
class TrainSettings:
    max_steps: int | None = None
    epochs: int | None = None
    lr: float = 1.0e-3
    weight_decay: float = 0.01
    scheduler: str = "cosine"
    warmup_steps: int = 0
    grad_accum: int = 1
    clip_grad: float | None = 1.0
    mixed_precision: str = "no"
    eval_every: int = 0
    save_every: int = 0
    keep_last: int = 2
    log_every: int = 10
    seed: int = 0
    on_nan: str = "stop"
    log_with: list[str] = dataclasses.field(default_factory=lambda: ["tensorboard"])
    batch_size: int = 4
    num_workers: int = 0
    on_error: str = "raise"


def train_settings(cfg: Mapping[str, Any], registries: Any = None) -> TrainSettings:
    """Read `train:`/`data:` with defaults; bad keys or values raise `ConfigError`
    (the schema of `settings_problems`, with the `train:` keys of the plugins of `registries`)."""
    problems = settings_problems(cfg, registries) if registries is not None else settings_problems(cfg)
    if problems:
        raise problems[0] if len(problems) == 1 else ConfigErrors(problems)
    train = dict(cfg.get("train") or {})
    data = cfg.get("data") or {}
    s = TrainSettings(seed=int(train.get("seed", cfg.get("seed", 0)) or 0))
    for key in ("max_steps", "epochs", "lr", "weight_decay", "warmup_steps", "grad_accum", "clip_grad",
                "mixed_precision", "eval_every", "save_every", "keep_last", "log_every", "on_nan"):
        if key in train and (train[key] is not None or key == "clip_grad"):
            setattr(s, key, train[key])
    trackers = train.get("log_with", s.log_with)
    s.log_with = [t for t in ([trackers] if isinstance(trackers, str) else list(trackers)) if t != "none"]
    sched = train.get("scheduler", s.scheduler)
    s.scheduler = sched.get("type", "") if isinstance(sched, Mapping) else str(sched)
    for key in ("batch_size", "num_workers", "on_error"):
        if data.get(key) is not None:
            setattr(s, key, data[key])
    return s


__all__ = ["TrainSettings", "train_settings"]

"""Early stopping: end training when a validation metric stops improving.

Config (`train.early_stopping`; absent or null = off):

    early_stopping: {monitor: oad/mAP, patience: 3, mode: max, min_delta: 0.0}

`monitor` is a logged key `TASK/KEY` (default: the key that picks the best
checkpoint, i.e. the first task's metric `primary_key`), `patience` the number of
evaluations without an improvement larger than `min_delta` before training stops,
`mode` `max` or `min` (default: the metric's `higher_is_better`). A bare number
is the patience. The plugin only sets `runner.should_stop`; the runner saves a
checkpoint and ends as after the last step.
"""
from __future__ import annotations

import logging
import weakref
from typing import Any

import videollm_core
from videollm_core.errors import ConfigError
from videollm_core.rules import MAPPING, NONNEG_NUM, POS_INT, STR, Rule, any_of, choice, optional

log = logging.getLogger("videollm.early_stopping")
#: the keys of the mapping form.
KEYS = ("monitor", "patience", "mode", "min_delta")


@videollm_core.hookimpl
def videollm_config_keys() -> dict[str, dict[str, Rule]]:
    """`train.early_stopping`: a mapping of `KEYS`, a patience, or null (as any plugin declares its keys)."""
    fields = {"monitor": STR, "patience": POS_INT, "mode": choice("max", "min"), "min_delta": NONNEG_NUM}
    mapping = Rule(MAPPING.check, "a mapping", {"type": "object", "additionalProperties": False,
                                                "properties": {k: fields[k].json for k in KEYS}})
    return {"train": {"early_stopping": optional(any_of(mapping, POS_INT))}}


def _settings(runner: Any) -> dict[str, Any] | None:
    raw = (runner.cfg.get("train") or {}).get("early_stopping")
    if raw is None or raw is False:
        return None
    if isinstance(raw, (int, float)) and not isinstance(raw, bool):
        raw = {"patience": raw}
    if not isinstance(raw, dict):
        raise ConfigError(f"expected a mapping or a patience, got {raw!r}", where="train.early_stopping")
    unknown = set(raw) - set(KEYS)
    if unknown:
        raise ConfigError(f"unknown key(s) {sorted(unknown)}", where="train.early_stopping",
                          hint=f"known keys: {', '.join(KEYS)}")
    mode = raw.get("mode")
    if mode not in (None, "max", "min"):
        raise ConfigError(f"mode must be max or min, got {mode!r}", where="train.early_stopping.mode")
    patience = raw.get("patience", 3)
    if not isinstance(patience, int) or patience < 1:
        raise ConfigError(f"patience must be an integer >= 1, got {patience!r}", where="train.early_stopping.patience")
    return {"monitor": raw.get("monitor"), "patience": patience, "mode": mode, "min_delta": float(raw.get("min_delta", 0.0))}


class EarlyStopping:
    """Counts evaluations without improvement; state lives on the runner (`runner.early_stopping`)."""

    def __init__(self, monitor: str, patience: int, higher: bool, min_delta: float):
        self.monitor, self.patience, self.higher, self.min_delta = monitor, patience, higher, min_delta
        self.best: float | None = None
        self.bad = 0

    def update(self, value: float) -> bool:
        """Record one evaluation; True when training should stop."""
        improved = self.best is None or (value > self.best + self.min_delta if self.higher else value < self.best - self.min_delta)
        if improved:
            self.best, self.bad = value, 0
        else:
            self.bad += 1
        return self.bad >= self.patience


#: runner -> its early-stopping state, built at the first evaluation (from the history when resumed).
_STATE: "weakref.WeakKeyDictionary[Any, EarlyStopping]" = weakref.WeakKeyDictionary()


@videollm_core.hookimpl
def videollm_train_start(runner: Any) -> None:
    _STATE.pop(runner, None)


@videollm_core.hookimpl
def videollm_evaluate_end(runner: Any, step: int, metrics: dict) -> None:
    cfg = _settings(runner)
    if cfg is None:
        return
    state = _STATE.get(runner)
    if state is None:
        primary = runner.primary_metric or (None, True)
        monitor = cfg["monitor"] or primary[0]
        if monitor not in metrics:
            raise ConfigError(f"metric {monitor!r} is not logged", where="train.early_stopping.monitor",
                              hint=f"use one of: {', '.join(sorted(metrics))}")
        higher = primary[1] if cfg["mode"] is None else cfg["mode"] == "max"
        state = _STATE[runner] = EarlyStopping(monitor, cfg["patience"], higher, cfg["min_delta"])
        for record in runner.history:  # a resumed run replays the evaluations before its checkpoint
            if record.get("split") == "val" and record.get("step", 0) < step and isinstance(record.get(monitor), (int, float)):
                state.update(float(record[monitor]))
    if state.update(float(metrics[state.monitor])):
        log.warning("early stopping at step %d: %s has not improved for %d evaluations (best %.4g)",
                    step, state.monitor, state.patience, state.best)
        runner.should_stop = True


@videollm_core.hookimpl
def videollm_register(registries: Any) -> None:
    """Registers no component: this plugin only implements runner hooks."""

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
from videollm_core.rules import NONNEG_NUM, POS_INT, STR, Rule, any_of, choice, optional

log = logging.getLogger("videollm.early_stopping")
#: the keys of the mapping form and their rules.
FIELDS = {"monitor": STR, "patience": POS_INT, "mode": choice("max", "min"), "min_delta": NONNEG_NUM}
#: `train.early_stopping`: a mapping of `FIELDS`, a patience, or null; validation checks it, once.
RULE = optional(any_of(Rule(lambda v: isinstance(v, dict) and all(k in FIELDS and FIELDS[k].check(x) for k, x in v.items()),
                            "a mapping of " + ", ".join(f"{k} ({r.what})" for k, r in FIELDS.items()),
                            {"type": "object", "additionalProperties": False, "properties": {k: r.json for k, r in FIELDS.items()}}),
                       POS_INT))


@videollm_core.hookimpl
def videollm_config_keys() -> dict[str, dict[str, Rule]]:
    """`train.early_stopping` (as any plugin declares its keys)."""
    return {"train": {"early_stopping": RULE}}


def _settings(runner: Any) -> dict[str, Any] | None:
    """The runner's validated `train.early_stopping` with defaults; None: off."""
    raw = runner.config.train.early_stopping
    if raw is None:
        return None
    raw = {"patience": raw} if isinstance(raw, int) else raw
    return {"monitor": raw.get("monitor"), "patience": raw.get("patience", 3), "mode": raw.get("mode"),
            "min_delta": float(raw.get("min_delta", 0.0))}


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

"""The `plots` plugin: pictures in the work dir, on the runner's hooks (matplotlib, Agg
backend; no display needed). A picture never breaks a run: a failure is a warning.

- `plots/TASK_predictions.png` after every evaluation (`videollm_task_evaluated`): the
  task metric's [`plot`][videollm_core.data.Metric.plot] of predictions against ground truth
  (timelines of segments, scores over time);
- `plots/loss.png` when training ends (`videollm_train_end`): training loss (and learning
  rate on a second axis) against the optimizer step;
- `plots/metrics.png` likewise: one panel per evaluated `TASK/KEY` against the step.

`-p no:plots` turns them off.

Per-task pictures of predictions against ground truth come from each task's
[`videollm_core.base.Metric.plot`][videollm_core.data.Metric.plot].
"""
from __future__ import annotations

import logging
import math
import os
from pathlib import Path
from typing import Any

import videollm_core

log = logging.getLogger("videollm")


def _figure(rows: int, cols: int, size: tuple[float, float]):
    """A bare Figure on the Agg canvas (no pyplot global state, works headless)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=size)
    FigureCanvasAgg(fig)
    return fig, fig.subplots(rows, cols, squeeze=False)


def _series(history: list[dict[str, Any]], split: str, key: str) -> tuple[list[int], list[float]]:
    xs, ys = [], []
    for r in history:
        v = r.get(key)
        if r.get("split") == split and isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v):
            xs.append(int(r["step"]))
            ys.append(float(v))
    return xs, ys


def plot_loss(history: list[dict[str, Any]], path: str | os.PathLike) -> bool:
    """Training loss (left axis) and learning rate (right axis) per step. False if no data."""
    steps, loss = _series(history, "train", "loss")
    if not steps:
        return False
    fig, axes = _figure(1, 1, (7, 4))
    ax = axes[0, 0]
    ax.plot(steps, loss, color="tab:blue", marker="o", markersize=3, label="train loss")
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("loss")
    ax.grid(alpha=0.3)
    lr_steps, lr = _series(history, "train", "lr")
    lines = list(ax.get_lines())
    if lr_steps:
        ax2 = ax.twinx()
        lines += ax2.plot(lr_steps, lr, color="tab:orange", alpha=0.6, marker=".", label="learning rate (right axis)")
        ax2.set_ylabel("learning rate")
    ax.legend(lines, [line.get_label() for line in lines], fontsize=8, loc="upper right")
    ax.set_title("training loss")
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(str(path), dpi=100)
    return True


def plot_metrics(history: list[dict[str, Any]], path: str | os.PathLike, split: str = "val") -> bool:
    """One panel per `TASK/KEY` evaluated on `split`, value against step. False if none."""
    keys: list[str] = []
    for r in history:
        if r.get("split") == split:
            keys += [k for k in r if "/" in k and k not in keys]
    series = {k: _series(history, split, k) for k in keys}
    series = {k: v for k, v in series.items() if v[0]}
    if not series:
        return False
    cols = min(3, len(series))
    rows = math.ceil(len(series) / cols)
    fig, axes = _figure(rows, cols, (4 * cols, 3 * rows))
    for ax, (key, (xs, ys)) in zip(axes.flat, series.items()):
        ax.plot(xs, ys, marker="o", markersize=3)
        ax.set_title(key, fontsize=9)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(series):]:
        ax.axis("off")
    fig.suptitle(f"{split} metrics")
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(str(path), dpi=100)
    return True


__all__ = ["plot_loss", "plot_metrics"]


@videollm_core.hookimpl
def videollm_task_evaluated(runner: Any, task: str, metric: Any, predictions: Any, ground_truth: Any) -> None:
    """Draw `plots/TASK_predictions.png` (the metric's picture, when it has one)."""
    picture = runner.work_dir / "plots" / f"{task}_predictions.png"
    picture.parent.mkdir(parents=True, exist_ok=True)
    try:
        metric.plot(predictions, ground_truth, picture)
    except Exception as e:  # a picture never breaks a run
        log.warning("task %s: could not draw %s: %s", task, picture, e)


@videollm_core.hookimpl
def videollm_train_end(runner: Any) -> None:
    """Draw the curves of `runner.history` (main process only)."""
    if runner.accelerator.is_main_process:
        plot_loss(runner.history, runner.work_dir / "plots" / "loss.png")
        plot_metrics(runner.history, runner.work_dir / "plots" / "metrics.png")


@videollm_core.hookimpl
def videollm_register(registries: Any) -> None:
    """Registers no component: this plugin only implements runner hooks."""

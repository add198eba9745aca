"""What the runner records and shows: `metrics.jsonl`, the experiment trackers (accelerate's:
TensorBoard by default, `train.log_with`), progress bars, the one-line summaries.

`metrics.jsonl` holds one JSON object per logged training step
(`{"step", "split": "train", "loss", "lr", "grad_norm", "samples_per_s", ...}`) or
evaluation (`{"step", "split": "val", "TASK/KEY": value, ...}`). On resume, records
after the checkpoint's step are dropped so the file tells one consistent story.

`progress_bar` is the one progress bar of the project (training steps, evaluation
batches, extracted videos, predicted videos): tqdm with rate and time left, silent when
stderr is not a terminal or `QUIET_ENV` is set (the `--quiet` flag of every command).
`RunOutputs` is where a run put its outputs; the command line prints its
`line` when a run ends.
"""
from __future__ import annotations

import dataclasses
import json
import logging
import math
import os
import sys
from pathlib import Path
from typing import Any, Callable, Iterable

log = logging.getLogger("videollm")


def read_metrics(path: str | os.PathLike) -> list[dict[str, Any]]:
    """The records of a `metrics.jsonl` (`videollm_core.paths.read_jsonl`); a damaged line (cut
    by a kill, not UTF-8, not a JSON object) is logged as a warning and left out, never an error."""
    from ..paths import read_jsonl

    return read_jsonl(path, "metrics log", dict, on_error=lambda e: log.warning("%s: %s (the line is left out)", e.where, e.message))


def _clean(value: Any) -> Any:
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)  # JSON has no NaN/Inf
    return value


class MetricsLog:
    """Appends records to `metrics.jsonl` (the record tools and the study runner read) and hands
    their scalars to the experiment trackers as `SPLIT/KEY`; keeps them in `history`.

    Only the main process writes (`enabled=False` elsewhere); all processes keep
    `history` so hooks see the same thing everywhere.

    Args:
        tracker: `(values, step) -> None`, e.g. `accelerator.log` (None: the file only).
    """

    def __init__(self, work_dir: str | os.PathLike, *, enabled: bool = True, resume_step: int | None = None,
                 tracker: Callable[[dict[str, float], int], None] | None = None):
        self.path = Path(work_dir) / "metrics.jsonl"
        self.enabled = enabled
        self.history: list[dict[str, Any]] = []
        if self.path.is_file():
            if resume_step is None:
                if enabled:
                    self.path.unlink()
            else:
                self.history = [r for r in read_metrics(self.path) if r.get("step", 0) <= resume_step]
                if enabled:
                    self._rewrite()
        self._tracker = tracker

    def _rewrite(self) -> None:
        tmp = self.path.with_name(".metrics.jsonl.tmp")
        with open(tmp, "w", encoding="utf-8") as f:
            for r in self.history:
                f.write(json.dumps(r) + "\n")
        os.replace(tmp, self.path)

    def log(self, record: dict[str, Any]) -> dict[str, Any]:
        """Add one record (`step` and `split` keys plus scalars); return it cleaned."""
        record = {k: _clean(v) for k, v in record.items()}
        self.history.append(record)
        if not self.enabled:
            return record
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")
            f.flush()
        if self._tracker is not None:
            split = record.get("split", "train")
            scalars = {f"{split}/{k}": v for k, v in record.items()
                       if k not in ("step", "split") and isinstance(v, (int, float)) and not isinstance(v, bool)}
            if scalars:
                self._tracker(scalars, int(record.get("step", 0)))
        return record


#: set to 1 (`--quiet` on any command does) to turn every progress bar off.
QUIET_ENV = "VIDEOLLM_QUIET"


def quiet() -> bool:
    """True when progress bars stay silent: `QUIET_ENV` is set, or stderr is not a terminal."""
    flag = os.environ.get(QUIET_ENV, "").strip().lower() not in ("", "0", "false", "no")
    return flag or not sys.stderr.isatty()


def progress_bar(total: int | None, initial: int = 0, *, desc: str, unit: str = "step", enabled: bool = True,
                 leave: bool = True, iterable: Iterable[Any] | None = None):
    """A tqdm progress bar on stderr: count, rate and time left; silent when `quiet`.

    Args:
        total: how many `unit` the job has (None: unknown, no time left shown).
        initial: how many are done already (a resumed run).
        desc: the label in front (`train`, `val oad`, `extract`...).
        unit: what is counted (`step`, `batch`, `video`).
        enabled: False hides it (e.g. on processes other than the main one).
        leave: keep the finished bar on screen (False: it is cleared when closed).
        iterable: wrap this iterable (`for x in progress_bar(len(xs), desc=..., iterable=xs)`);
            without it, call `bar.update(n)`.

    Returns:
        The `tqdm` object: `update(n)`, `set_postfix(...)`, `close()`; a context manager.
    """
    from tqdm.auto import tqdm

    return tqdm(iterable, total=total, initial=initial, desc=desc, unit=unit, leave=leave, dynamic_ncols=True,
                disable=not enabled or quiet())


def summary_line(step: int, max_steps: int, split: str, metrics: dict[str, float], best: tuple[str, float, int] | None) -> str:
    """One short line per evaluation: `[step 100/200] val oad/mAP=41.20 ... | best oad/mAP=41.20 @100`."""
    parts = [f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in metrics.items()]
    text = f"[step {step}/{max_steps}] {split} " + " ".join(parts)
    if best is not None:
        text += f" | best {best[0]}={best[1]:.4g} @{best[2]}"
    return text


@dataclasses.dataclass
class RunOutputs:
    """Where a run (training, evaluation or prediction) put its outputs, filled in as they are
    written; the runner keeps one as `runner.outputs` and prints nothing of it itself.

    Attributes:
        work_dir: the run's work dir.
        predictions: the predictions folder, when this run wrote predictions.
        plots: the pictures' folder, when there is one.
        scores: the `eval_SPLIT.json` an evaluation wrote.
        checkpoint: the best checkpoint of a training run (else its last), or the one an
            evaluation or prediction loaded; `checkpoint_kind` says which (`best`, `last`
            or empty), `checkpoint_note` adds its step and metric.
    """

    work_dir: Path
    predictions: Path | None = None
    plots: Path | None = None
    scores: Path | None = None
    checkpoint: Path | None = None
    checkpoint_kind: str = ""
    checkpoint_note: str = ""

    def line(self) -> str:
        """One line naming them: `outputs: work dir W | predictions W/predictions | plots W/plots |
        best checkpoint W/checkpoints/step_00000012 (step 12, proto/acc=91.67)`."""
        parts = [f"work dir {self.work_dir}"]
        parts += [f"{name} {path}" for name, path in (("predictions", self.predictions), ("scores", self.scores),
                                                      ("plots", self.plots)) if path is not None]
        if self.checkpoint is not None:
            label = f"{self.checkpoint_kind} checkpoint" if self.checkpoint_kind else "checkpoint"
            parts.append(f"{label} {self.checkpoint}" + (f" ({self.checkpoint_note})" if self.checkpoint_note else ""))
        elif self.checkpoint_note:
            parts.append(f"checkpoint {self.checkpoint_note}")
        return "outputs: " + " | ".join(parts)


__all__ = ["MetricsLog", "read_metrics", "QUIET_ENV", "quiet", "progress_bar", "summary_line", "RunOutputs"]

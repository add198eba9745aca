"""What the runner records: ``metrics.jsonl``, TensorBoard events, the progress bar.

``metrics.jsonl`` holds one JSON object per logged training step
(``{"step", "split": "train", "loss", "lr", "grad_norm", "samples_per_s", ...}``) or
evaluation (``{"step", "split": "val", "TASK/KEY": value, ...}``). On resume, records
after the checkpoint's step are dropped so the file tells one consistent story.
"""
from __future__ import annotations

import json
import math
import os
import sys
from pathlib import Path
from typing import Any


def _clean(value: Any) -> Any:
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)  # JSON has no NaN/Inf
    return value


class MetricsLog:
    """Appends records to ``metrics.jsonl`` and TensorBoard; keeps them in :attr:`history`.

    Only the main process writes (``enabled=False`` elsewhere); all processes keep
    :attr:`history` so hooks see the same thing everywhere.
    """

    def __init__(self, work_dir: str | os.PathLike, *, enabled: bool = True, resume_step: int | None = None):
        self.path = Path(work_dir) / "metrics.jsonl"
        self.enabled = enabled
        self.history: list[dict[str, Any]] = []
        if self.path.is_file():
            if resume_step is None:
                if enabled:
                    self.path.unlink()
            else:
                self.history = [r for r in self._read() if r.get("step", 0) <= resume_step]
                if enabled:
                    self._rewrite()
        self._tb = None
        self._tb_dir = Path(work_dir) / "tensorboard"
        self._purge_step = None if resume_step is None else resume_step + 1

    def _read(self) -> list[dict[str, Any]]:
        records = []
        with open(self.path, encoding="utf-8") as f:
            for line in f:
                line = line.strip()
                if line:
                    try:
                        records.append(json.loads(line))
                    except json.JSONDecodeError:  # a line cut by a kill
                        break
        return records

    def _rewrite(self) -> None:
        tmp = self.path.with_name(".metrics.jsonl.tmp")
        with open(tmp, "w", encoding="utf-8") as f:
            for r in self.history:
                f.write(json.dumps(r) + "\n")
        os.replace(tmp, self.path)

    def log(self, record: dict[str, Any]) -> dict[str, Any]:
        """Add one record (``step`` and ``split`` keys plus scalars); return it cleaned."""
        record = {k: _clean(v) for k, v in record.items()}
        self.history.append(record)
        if not self.enabled:
            return record
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")
            f.flush()
        writer = self._writer()
        if writer is not None:
            split, step = record.get("split", "train"), int(record.get("step", 0))
            for key, value in record.items():
                if key not in ("step", "split") and isinstance(value, (int, float)) and not isinstance(value, bool):
                    writer.add_scalar(f"{split}/{key}", value, step)
            writer.flush()
        return record

    def _writer(self):
        if self._tb is None:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:  # pragma: no cover - tensorboard is a dependency
                return None
            self._tb = SummaryWriter(str(self._tb_dir), purge_step=self._purge_step)
        return self._tb

    def close(self) -> None:
        if self._tb is not None:
            self._tb.close()
            self._tb = None


def progress_bar(total: int, initial: int, *, enabled: bool, desc: str = "train"):
    """A tqdm bar (loss, throughput and ETA in its postfix); silent when not on a TTY."""
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, desc=desc, dynamic_ncols=True, unit="step",
                disable=not (enabled and sys.stderr.isatty()))


def summary_line(step: int, max_steps: int, split: str, metrics: dict[str, float], best: tuple[str, float, int] | None) -> str:
    """One short line per evaluation: ``[step 100/200] val oad/mAP=41.20 ... | best oad/mAP=41.20 @100``."""
    parts = [f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in metrics.items()]
    text = f"[step {step}/{max_steps}] {split} " + " ".join(parts)
    if best is not None:
        text += f" | best {best[0]}={best[1]:.4g} @{best[2]}"
    return text


__all__ = ["MetricsLog", "progress_bar", "summary_line"]

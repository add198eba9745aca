"""The metric of the ``example`` task: time-weighted labelling accuracy."""
from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from videollm_core import DataError, Metric

from .formats import ANNOTATION_COLUMNS, Segments, parse_segment, read_predictions, read_rows, write_predictions


class ExampleAccuracy(Metric):
    """Share of ground-truth time covered by a predicted segment of the same label, x100.

    ``accuracy = 100 * sum_videos sum_(g, p same label) overlap(g, p) / sum_videos sum_g len(g)``
    over every ground-truth video (a video without predictions adds its length and
    nothing covered). A video's predicted segments must not overlap each other.

    Args:
        classes: class names by index (supplied by the dataset) to name head predictions.
        split: evaluate only the ground-truth rows of this split (``None``: all rows).
    """

    task: ClassVar[str] = "example"
    keys: ClassVar[tuple[str, ...]] = ("accuracy",)
    primary_key: ClassVar[str] = "accuracy"
    higher_is_better: ClassVar[bool] = True
    prediction_suffix: ClassVar[str] = ".csv"

    def __init__(self, classes: list[str] | None = None, split: str | None = None):
        super().__init__()
        self.classes = list(classes) if classes is not None else None
        self.split = split

    def load_ground_truth(self, path: str | Path) -> Segments:
        out: Segments = {}
        for line, row in read_rows(path, ANNOTATION_COLUMNS):
            if self.split is None or row["split"] == self.split:
                out.setdefault(row["video_id"], []).append(parse_segment(row, f"{path}:{line}"))
        return out

    def load_predictions(self, path: str | Path) -> Segments:
        return read_predictions(path)

    def save_predictions(self, predictions: Segments, path: str | Path) -> None:
        write_predictions(predictions, path)

    def format_predictions(self, entries: list[dict[str, Any]]) -> Segments:
        def name(c: int) -> str:
            return self.classes[c] if self.classes is not None else str(c)

        return {e["video_id"]: [(float(s), float(t), name(int(c))) for s, t, c in e["segments"]] for e in entries}

    def evaluate(self, predictions: Segments, ground_truth: Segments) -> dict[str, float]:
        covered = total = 0.0
        for video_id, truth in ground_truth.items():
            predicted = sorted(predictions.get(video_id, []))
            for (s0, e0, _), (s1, _, _) in zip(predicted, predicted[1:]):
                if s1 < e0 - 1e-6:
                    raise DataError(f"predicted segments overlap at {s1} s", where=f"predictions of {video_id!r}",
                                    hint="predict one label per moment: segments must not overlap")
            total += sum(end - start for start, end, _ in truth)
            covered += sum(max(0.0, min(e, pe) - max(s, ps)) for s, e, g in truth for ps, pe, p in predicted if p == g)
        return {"accuracy": 100.0 * covered / total if total > 0 else 0.0}

"""Natural language query metric: Recall@k at IoU=m and mean IoU (METRICS.md §2.4).

Reimplements Ego4D's `evaluate_nlq_performance` with two deliberate fixes: the mean
runs over **all ground-truth queries** (a query without a prediction, or with an empty
`predicted_times`, is a miss with IoU 0; the reference divides by the submitted
entries), and predictions for unknown queries raise [`DataError`][videollm_core.errors.DataError] (the reference
asserts). A hit needs IoU **strictly greater** than m among the first k windows.
Values are percentages; `mIoU` is the mean top-1 IoU x100.

Files: ground truth = Ego4D `nlq_*.json` or a Charades-STA `.txt` (`formats`);
predictions = `{"version": "1.0", "challenge": "ego4d_nlq_challenge", "results":
[{"clip_uid", "annotation_uid", "query_idx", "predicted_times": [[s, e], ...]}]}`.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from videollm_core.base import Metric
from videollm_core.errors import DataError

from ..common.detection import tiou_matrix
from .formats import QueryKey, load_queries, read_submission, write_submission

RANKS = (1, 5)
THRESHOLDS = (0.3, 0.5)


def result_key(r: dict[str, Any]) -> QueryKey:
    return (str(r["clip_uid"]), str(r["annotation_uid"]), int(r["query_idx"]))


class NaturalLanguageQueryMetric(Metric):
    """Ego4D NLQ / Charades-STA grounding: `R@{1,5},IoU={0.3,0.5}` and `mIoU`."""

    task: ClassVar[str] = "nlq"
    keys: ClassVar[tuple[str, ...]] = tuple(f"R@{k},IoU={m}" for k in RANKS for m in THRESHOLDS) + ("mIoU",)
    primary_key: ClassVar[str] = "R@1,IoU=0.3"
    higher_is_better: ClassVar[bool] = True

    # -- official files ---------------------------------------------------------
    def load_ground_truth(self, path: str | Path) -> dict[QueryKey, dict[str, Any]]:
        return {r["key"]: r for r in load_queries(path)}

    def load_predictions(self, path: str | Path) -> dict[str, Any]:
        return read_submission(path)

    def save_predictions(self, predictions: dict[str, Any], path: str | Path) -> None:
        write_submission(predictions, path)

    def format_predictions(self, entries: list[dict[str, Any]]) -> dict[str, Any]:
        """Head entries `{"video_id", "annotation_uid", "query_idx", "windows": [[s, e]...]}` -> submission."""
        results = [
            {
                "clip_uid": str(e["video_id"]),
                "annotation_uid": str(e["annotation_uid"]),
                "query_idx": int(e["query_idx"]),
                "predicted_times": [[float(w[0]), float(w[1])] for w in e["windows"]],
            }
            for e in entries
        ]
        return {"version": "1.0", "challenge": "ego4d_nlq_challenge", "results": results}

    # -- evaluation ---------------------------------------------------------------
    def evaluate(self, predictions: dict[str, Any], ground_truth: dict[QueryKey, dict[str, Any]]) -> dict[str, float]:
        by_key: dict[QueryKey, list] = {}
        for i, r in enumerate(predictions.get("results", [])):  # entries checked by formats.read_submission
            key = result_key(r)
            if key not in ground_truth:
                raise DataError(f"prediction for an unknown query {key}", where=f"results[{i}]", hint="predict only queries of the ground-truth file")
            if key in by_key:
                raise DataError(f"two predictions for query {key}", where=f"results[{i}]", hint="one entry per query")
            by_key[key] = np.asarray(r["predicted_times"], dtype=np.float64).reshape(-1, 2)
        if not ground_truth:
            return {k: 0.0 for k in self.keys}
        hits = {(k, m): [] for k in RANKS for m in THRESHOLDS}
        top1 = []
        for key, gt in ground_truth.items():
            windows = by_key.get(key, np.zeros((0, 2)))
            ious = tiou_matrix(windows, [gt["window"]])[:, 0] if len(windows) else np.zeros(0)
            top1.append(float(ious[0]) if len(ious) else 0.0)
            for k in RANKS:
                for m in THRESHOLDS:
                    hits[(k, m)].append(bool((ious[:k] > m).any()))
        out = {f"R@{k},IoU={m}": 100.0 * float(np.mean(hits[(k, m)])) for k in RANKS for m in THRESHOLDS}
        out["mIoU"] = 100.0 * float(np.mean(top1))
        return out

    # -- pictures ---------------------------------------------------------------
    def plot(self, predictions: dict[str, Any], ground_truth: dict[QueryKey, dict[str, Any]], path: str | Path, max_videos: int = 3) -> bool:
        """One panel per query: the GT window against the top-5 predicted windows."""
        from ..common.plots import plot_segment_timelines

        by_key = {result_key(r): r.get("predicted_times") or [] for r in predictions.get("results", [])}
        panels = []
        for key, gt in list(ground_truth.items())[:max_videos]:
            panels.append({
                "video_id": f"{gt['video_id']}: {gt['query'][:60]}",
                "duration": gt.get("duration"),
                "tracks": {
                    "GT": [(gt["window"][0], gt["window"][1], "")],
                    **{f"pred #{r + 1}": [(w[0], w[1], "")] for r, w in enumerate(by_key.get(key, [])[:5])},
                },
            })
        if not panels:
            return False
        plot_segment_timelines(panels, path, title="natural language query: GT vs ranked windows")
        return True

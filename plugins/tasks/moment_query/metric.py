"""Moment query / temporal action detection metric (METRICS.md §2.2).

ActivityNet-style mAP at each tIoU threshold (`>=`, classes with GT only, stable
score sort), their mean, and ActionFormer's class-mean Recall@1x at tIoU 0.5 (the
Ego4D MQ headline). Values are percentages.

Files: ground truth = an ActivityNet-style JSON (THUMOS14, ActivityNet 1.3) or an Ego4D
`moments_*.json` (see `formats`); predictions = the ActivityNet / Ego4D MQ
submission JSON `{"version", "results": {video_id: [{"label": name, "segment": [s, e],
"score"}]}, "external_data": {}}` (`detect_results` is accepted as well).
Every detection of the file is checked when it is loaded (`formats.read_submission`:
label, segment `0 <= start <= end`, finite score), whatever its video. Predictions for
videos outside the evaluated ground truth are then ignored; predictions of labels that never
occur in the ground truth are dropped with a warning, as Ego4D's
`MQ/Evaluation/ego4d/eval_detection.py` (`_import_prediction`) does.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, ClassVar, Sequence

import numpy as np

from videollm_core.base import Metric
from videollm_core.errors import ConfigError

from ..common.detection import detection_map, recall_at_kx
from .formats import Database, load_detection_database, read_submission, write_submission

DEFAULT_TIOUS = (0.1, 0.2, 0.3, 0.4, 0.5)  # Ego4D MQ / EK100; THUMOS14: 0.3:0.1:0.7
log = logging.getLogger("videollm")


def map_key(t: float) -> str:
    return f"mAP@{t:.2f}"


class MomentQueryMetric(Metric):
    """mAP@tIoU, average mAP and Recall@1x@0.50 for temporal detection.

    Args:
        tious: tIoU thresholds (`videollm evaluate --tious`); keys `mAP@0.10`...
        subset: when loading a ground-truth file, keep only this subset (`"Test"`,
            `"val"`); None keeps every video.
        class_names: id -> name, to turn head entries (class ids) into labels.
    """

    task: ClassVar[str] = "moment_query"
    keys: ClassVar[tuple[str, ...]] = tuple(map_key(t) for t in DEFAULT_TIOUS) + ("average_mAP", "Recall@1x@0.50")
    primary_key: ClassVar[str] = "average_mAP"
    higher_is_better: ClassVar[bool] = True

    def __init__(self, tious: Sequence[float] = DEFAULT_TIOUS, subset: str | None = None, class_names: Sequence[str] | None = None) -> None:
        super().__init__()
        tious = [float(t) for t in (tious if isinstance(tious, (list, tuple)) else [tious])]
        if not tious or any(not 0.0 < t <= 1.0 for t in tious):
            raise ConfigError(f"tious must be thresholds in (0, 1], got {tious}", where="metric.tious", hint="e.g. [0.1, 0.2, 0.3, 0.4, 0.5]")
        self.tious = tuple(tious)
        self.keys = tuple(map_key(t) for t in self.tious) + ("average_mAP", "Recall@1x@0.50")
        self.subset = subset
        self.class_names = list(class_names) if class_names is not None else None

    # -- official files -------------------------------------------------------
    def load_ground_truth(self, path: str | Path) -> Database:
        return load_detection_database(path, self.subset)

    def load_predictions(self, path: str | Path) -> dict[str, Any]:
        return read_submission(path, self.class_names)

    def save_predictions(self, predictions: dict[str, Any], path: str | Path) -> None:
        write_submission(predictions, path)

    def format_predictions(self, entries: list[dict[str, Any]]) -> dict[str, Any]:
        """Head entries `{"video_id", "segments": [[s, e]], "labels": [id], "scores"}` -> submission JSON."""
        results: dict[str, list[dict[str, Any]]] = {}
        for e in entries:
            dets = results.setdefault(str(e["video_id"]), [])
            for seg, lab, score in zip(e["segments"], e["labels"], e["scores"]):
                name = self.class_names[int(lab)] if self.class_names is not None else str(lab)
                dets.append({"label": name, "segment": [float(seg[0]), float(seg[1])], "score": float(score)})
        return {"version": "VERSION 1.3", "results": results, "external_data": {}}

    # -- evaluation ---------------------------------------------------------------
    def evaluate(self, predictions: dict[str, Any], ground_truth: Database) -> dict[str, float]:
        results = predictions.get("results", predictions.get("detect_results", {}))
        gt = [(v, a["label"], a["segment"][0], a["segment"][1]) for v, d in ground_truth.items() for a in d["annotations"]]
        preds = [(vid, str(d["label"]), float(d["segment"][0]), float(d["segment"][1]), float(d["score"]))
                 for vid, dets in results.items() if vid in ground_truth for d in dets]
        labels = {g[1] for g in gt}
        unknown = sorted({p[1] for p in preds} - labels)
        if unknown:
            log.warning("moment_query: %d detection(s) of %d label(s) absent from the ground truth are dropped, e.g. %s",
                        sum(p[1] not in labels for p in preds), len(unknown), unknown[:3])
        mean_ap, _ = detection_map(gt, preds, self.tious)
        out = {map_key(t): 100.0 * float(m) for t, m in zip(self.tious, mean_ap)}
        out["average_mAP"] = 100.0 * float(np.mean(mean_ap))
        out["Recall@1x@0.50"] = 100.0 * recall_at_kx(gt, preds, k=1.0, tiou_threshold=0.5)
        return out

    # -- pictures ---------------------------------------------------------------
    def plot(self, predictions: Any, ground_truth: Database, path: str | Path, max_videos: int = 3) -> bool:
        """Timelines of GT vs the best-scored detections (as many as GT, at least 3) for a few videos."""
        from ..common.plots import plot_segment_timelines

        results = predictions.get("results", predictions.get("detect_results", {}))
        videos = []
        for vid, item in ground_truth.items():
            if len(videos) >= max_videos or not item["annotations"]:
                continue
            dets = sorted(results.get(vid, []), key=lambda d: -float(d["score"]))[: max(3, len(item["annotations"]))]
            videos.append({
                "video_id": vid,
                "duration": item["duration"],
                "tracks": {
                    "GT": [(a["segment"][0], a["segment"][1], a["label"]) for a in item["annotations"]],
                    "pred": [(d["segment"][0], d["segment"][1], str(d["label"])) for d in dets],
                },
            })
        if not videos:
            return False
        plot_segment_timelines(videos, path, title="moment query: ground truth vs top detections")
        return True

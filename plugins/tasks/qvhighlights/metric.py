"""QVHighlights moment retrieval (MR) + highlight detection (HD) metric (METRICS.md §2.5).

Reimplements `jayleicn/moment_detr` `standalone_eval/eval.py` (commit `b7e553a`):
values are percentages rounded to two decimals exactly as the official evaluator prints
them, so `videollm evaluate qvhighlights` reproduces `sample_val_preds_metrics_raw.json`.

Files: ground truth = the official `highlight_{val,test_with_gt}*.jsonl` (one query per
line: `qid, query, duration, vid, relevant_windows [[st, ed] s], relevant_clip_ids,
saliency_scores [[a1, a2, a3] per relevant 2-s clip]`); predictions = the official
submission jsonl (`qid, query, vid, pred_relevant_windows [[st, ed, score], ...] ranked,
pred_saliency_scores [one per 2-s clip]`), plain or gzip-compressed (read and written by
`formats`).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from videollm_core.base import Metric
from videollm_core.errors import DataError

from ..common.detection import detection_ap, tiou_matrix
from ..common.plots import plot_score_curves
from .formats import CLIP_LENGTH_S, read_jsonl, read_submission, write_jsonl

#: HD label thresholds: a clip is positive for an annotator when its score >= the threshold.
SALIENCY_LEVELS = {"Fair": 2, "Good": 3, "VeryGood": 4}


def _r2(x: float) -> float:
    """The official evaluator's `float(f"{x:.2f}")`."""
    return float(f"{x:.2f}")


def hd_ap(labels: np.ndarray, scores: np.ndarray) -> float:
    """moment_detr's `get_ap`: mean interpolated precision over distinct recall levels.

    `labels [K]` 0/1, `scores [K]`. All labels 0 -> 0, all 1 -> 1. Otherwise sweep the
    unique scores descending (ties enter together); for every distinct recall level
    `r > 0` take `max{precision at recall >= r}`; return their mean. This is not
    sklearn's `average_precision_score`.
    """
    labels = np.asarray(labels, dtype=np.float64)
    scores = np.asarray(scores, dtype=np.float64)
    if labels.min() == labels.max():
        return float(labels[0] != 0)
    order = np.argsort(-scores, kind="stable")
    sorted_scores, sorted_labels = scores[order], labels[order]
    # the last index of each run of equal scores: where a threshold admits a tie group
    ends = np.r_[np.nonzero(np.diff(sorted_scores))[0], len(scores) - 1]
    tp = np.cumsum(sorted_labels)[ends]
    recall = tp / labels.sum()
    precision = tp / (ends + 1)
    # interpolated precision at recall r = max precision at recall >= r (recall rises along ends)
    interp = np.maximum.accumulate(precision[::-1])[::-1]
    levels, first = np.unique(recall, return_index=True)
    keep = levels > 0
    return float(np.mean(interp[first[keep]]))


def hd_label_matrix(gt: dict[str, Any]) -> np.ndarray:
    """`[num_clips, 3]` annotator scores over the whole video; `num_clips = int(duration / 2)`."""
    num_clips = int(gt["duration"] / CLIP_LENGTH_S)
    full = np.zeros((num_clips, 3))
    ids = np.asarray(gt.get("relevant_clip_ids", []), dtype=np.int64)
    if len(ids) and (ids.max() >= num_clips or ids.min() < 0):
        raise DataError(
            f"relevant_clip_ids reach {int(ids.max())} but duration {gt['duration']} s has {num_clips} clips",
            where=f"qid {gt.get('qid')}",
            hint="clip ids index 2-second clips from 0",
        )
    if len(ids):
        full[ids] = np.asarray(gt["saliency_scores"], dtype=np.float64).reshape(len(ids), -1)[:, :3]
    return full


class QVHighlightsMetric(Metric):
    """QVHighlights MR + HD metrics with the official keys (percent, two decimals).

    Args:
        match_number: require the predicted and ground-truth qid sets to be equal (the
            official default); False evaluates their intersection.
        max_pred_windows: windows kept per query (as listed) for MR mAP.
    """

    task: ClassVar[str] = "qvhighlights"
    keys: ClassVar[tuple[str, ...]] = (
        "MR-full-R1@0.5",
        "MR-full-R1@0.7",
        "MR-full-mAP",
        "MR-full-mAP@0.5",
        "MR-full-mAP@0.75",
        "HL-min-Fair-mAP",
        "HL-min-Fair-Hit1",
        "HL-min-Good-mAP",
        "HL-min-Good-Hit1",
        "HL-min-VeryGood-mAP",
        "HL-min-VeryGood-Hit1",
    )
    primary_key: ClassVar[str] = "MR-full-mAP"
    higher_is_better: ClassVar[bool] = True
    prediction_suffix: ClassVar[str] = ".jsonl"

    MR_TIOUS: ClassVar[tuple[float, ...]] = tuple(round(0.5 + 0.05 * i, 2) for i in range(10))

    def __init__(self, match_number: bool = True, max_pred_windows: int = 10) -> None:
        super().__init__()
        self.match_number = bool(match_number)
        if int(max_pred_windows) < 1:
            from videollm_core.errors import ConfigError

            raise ConfigError(f"max_pred_windows must be >= 1, got {max_pred_windows}", where="metric.max_pred_windows", hint="the official value is 10")
        self.max_pred_windows = int(max_pred_windows)

    # -- official files ---------------------------------------------------
    def load_ground_truth(self, path: str | Path) -> list[dict[str, Any]]:
        return read_jsonl(path)

    def load_predictions(self, path: str | Path) -> list[dict[str, Any]]:
        """The submission jsonl, every row checked (`formats.read_submission`)."""
        return read_submission(path)

    def save_predictions(self, predictions: list[dict[str, Any]], path: str | Path) -> None:
        write_jsonl(predictions, path)

    def format_predictions(self, entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Head entries (already one official row per query) -> rows with the official fields."""
        fields = ("qid", "query", "vid", "pred_relevant_windows", "pred_saliency_scores")
        return [{k: e[k] for k in fields if k in e} for e in entries]

    # -- evaluation ---------------------------------------------------------
    def _pair(self, predictions: list[dict[str, Any]], ground_truth: list[dict[str, Any]]):
        preds = {p["qid"]: p for p in predictions}
        gts = {g["qid"]: g for g in ground_truth}
        if self.match_number and set(preds) != set(gts):
            missing, extra = set(gts) - set(preds), set(preds) - set(gts)
            raise DataError(
                f"predicted qids differ from ground truth: {len(missing)} missing (e.g. {sorted(missing)[:3]}), "
                f"{len(extra)} unknown (e.g. {sorted(extra)[:3]})",
                where="predictions",
                hint="predict every ground-truth query once, or evaluate with match_number=False",
            )
        qids = [q for q in gts if q in preds]
        return qids, preds, gts

    def evaluate(self, predictions: list[dict[str, Any]], ground_truth: list[dict[str, Any]]) -> dict[str, float]:
        qids, preds, gts = self._pair(predictions, ground_truth)
        out: dict[str, float] = {}
        out.update(self._moment_retrieval(qids, preds, gts))
        out.update(self._highlight_detection(qids, preds, gts))
        return {k: out[k] for k in self.keys}

    def _moment_retrieval(self, qids, preds, gts) -> dict[str, float]:
        r1_ious, aps = [], []
        for q in qids:
            windows = preds[q].get("pred_relevant_windows") or []
            gt_windows = np.asarray(gts[q].get("relevant_windows") or [], dtype=np.float64).reshape(-1, 2)
            if not windows or len(gt_windows) == 0:
                r1_ious.append(0.0)
            else:  # the first window as listed vs its best-overlapping GT window (first on ties)
                top = np.asarray(windows[0][:2], dtype=np.float64)
                best = int(np.argmax(tiou_matrix([top], gt_windows)[0]))
                r1_ious.append(float(tiou_matrix([top], gt_windows[best : best + 1], "paired")[0, 0]))
            if len(gt_windows) == 0:
                continue
            kept = np.asarray([w[:3] for w in windows[: self.max_pred_windows]], dtype=np.float64).reshape(-1, 3)
            aps.append(
                detection_ap(gt_windows, [0] * len(gt_windows), kept[:, :2], kept[:, 2], [0] * len(kept), self.MR_TIOUS)
            )
        r1 = np.asarray(r1_ious)
        ap = np.mean(np.stack(aps), axis=0) if aps else np.zeros(len(self.MR_TIOUS))
        by_t = dict(zip(self.MR_TIOUS, ap))
        return {
            "MR-full-R1@0.5": _r2(100 * np.mean(r1 >= 0.5)) if len(r1) else 0.0,
            "MR-full-R1@0.7": _r2(100 * np.mean(r1 >= 0.7)) if len(r1) else 0.0,
            "MR-full-mAP": _r2(100 * float(np.mean(ap))),
            "MR-full-mAP@0.5": _r2(100 * by_t[0.5]),
            "MR-full-mAP@0.75": _r2(100 * by_t[0.75]),
        }

    def _highlight_detection(self, qids, preds, gts) -> dict[str, float]:
        out = {}
        full = {q: hd_label_matrix(gts[q]) for q in qids}
        for name, level in SALIENCY_LEVELS.items():
            hits, aps = [], []
            for q in qids:
                labels = (full[q] >= level).astype(np.float64)  # [num_clips, 3]
                scores = np.asarray(preds[q].get("pred_saliency_scores") or [], dtype=np.float64)
                top = int(np.argmax(scores)) if len(scores) else len(labels)
                hits.append(float(labels[top].max()) if top < len(labels) else 0.0)
                padded = np.zeros(len(labels))
                padded[: min(len(scores), len(labels))] = scores[: len(labels)]
                if len(labels) == 0:
                    aps.extend([0.0] * 3)
                    continue
                aps.extend(hd_ap(labels[:, a], padded) for a in range(3))
            out[f"HL-min-{name}-mAP"] = _r2(100 * float(np.mean(aps))) if aps else 0.0
            out[f"HL-min-{name}-Hit1"] = _r2(100 * float(np.mean(hits))) if hits else 0.0
        return out

    # -- pictures -------------------------------------------------------------
    def plot(self, predictions: Any, ground_truth: Any, path: str | Path, max_videos: int = 3) -> bool:
        return plot_qvhighlights(predictions, ground_truth, path, max_videos)


def plot_qvhighlights(predictions: list[dict[str, Any]], ground_truth: list[dict[str, Any]], path: str | Path, max_videos: int = 3) -> bool:
    """One panel per query: predicted saliency and mean GT saliency / 4 per 2-s clip, GT windows
    shaded ("GT"), the top predicted window shaded ("pred #1")."""
    preds = {p["qid"]: p for p in predictions}
    panels = []
    for gt in ground_truth:
        p = preds.get(gt["qid"])
        if p is None or "relevant_windows" not in gt:
            continue
        labels = hd_label_matrix(gt).mean(1) / 4.0
        scores = np.asarray(p.get("pred_saliency_scores") or [], dtype=np.float64)[: len(labels)]
        times = (np.arange(len(labels)) + 0.5) * CLIP_LENGTH_S
        truth = [(w[0], w[1], "GT") for w in gt["relevant_windows"]]
        truth += [(w[0], w[1], "pred #1") for w in (p.get("pred_relevant_windows") or [])[:1]]
        panels.append({"video_id": f"{gt['vid']}: {str(gt['query'])[:60]}", "times": times[: len(scores)],
                       "curves": {"predicted saliency": scores, "GT saliency / 4": labels[: len(scores)]}, "truth": truth})
        if len(panels) >= max_videos:
            break
    if not panels:
        return False
    plot_score_curves(panels, path, title="QVHighlights: windows and clip saliency")
    return True

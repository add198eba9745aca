"""Action-segmentation scores of MS-TCN's ``eval.py`` (``yabufarha/ms-tcn`` @ ``33ed91c``).

Inputs are frame-wise label sequences (strings or ints) of one video, both at the
ground truth's frame rate (15 fps for Breakfast). Conventions (METRICS.md §2.9):

* segments are runs of equal labels; runs whose label is in ``bg_class`` are dropped.
  As in the reference's ``get_labels_start_end_time``, a segment ends at the index of
  the next run's first frame, except the video's last segment, which ends at ``F - 1``
  (the loop variable), not ``F``: kept on purpose so the numbers match MS-TCN's;
  MS-TCN's default ``bg_class = ("background",)`` never occurs in Breakfast, so ``SIL``
  segments **are** counted (the convention behind published Breakfast numbers);
* Acc is micro (frames pooled over videos), Edit is macro (mean over videos);
* F1@tau matches each predicted segment, in temporal order, to its best-IoU ground-truth
  segment (IoU 0 across labels, first on ties); a TP needs IoU **>=** tau and that ground
  truth not hit yet, with no fallback to the second best. TP/FP/FN are summed over videos.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Hashable, Sequence

import editdistance
import numpy as np

#: MS-TCN's default background classes (never present in Breakfast: SIL is counted).
DEFAULT_BG_CLASS: tuple[str, ...] = ("background",)
#: the F1 overlaps MS-TCN reports.
OVERLAPS: tuple[float, ...] = (0.10, 0.25, 0.50)


@dataclass(frozen=True)
class Segment:
    """A run of one label over frames ``[start, end)`` (frame indices; see the last-segment quirk above)."""

    label: Hashable
    start: int
    end: int


def get_segments(frame_labels: Sequence[Hashable], bg_class: Sequence[Hashable] = DEFAULT_BG_CLASS) -> list[Segment]:
    """Run-length encode ``frame_labels`` ``[F]`` into segments, dropping ``bg_class`` runs."""
    segments: list[Segment] = []
    n = len(frame_labels)
    start = 0
    for i in range(1, n + 1):
        if i == n or frame_labels[i] != frame_labels[start]:
            if frame_labels[start] not in bg_class:
                segments.append(Segment(frame_labels[start], start, i if i < n else n - 1))
            start = i
    return segments


def edit_score(pred: Sequence[Hashable], gt: Sequence[Hashable], bg_class: Sequence[Hashable] = DEFAULT_BG_CLASS) -> float:
    """Segmental edit score of one video in percent: ``(1 - Lev(P, Y) / max(|P|, |Y|)) * 100``.

    Both segment sequences empty (0/0, NaN in the reference) is defined as 100: nothing
    to segment and nothing segmented.
    """
    p = [s.label for s in get_segments(pred, bg_class)]
    y = [s.label for s in get_segments(gt, bg_class)]
    if not p and not y:
        return 100.0
    return (1.0 - editdistance.eval(p, y) / max(len(p), len(y))) * 100.0


def f1_counts(
    pred: Sequence[Hashable], gt: Sequence[Hashable], overlap: float, bg_class: Sequence[Hashable] = DEFAULT_BG_CLASS
) -> tuple[int, int, int]:
    """``(tp, fp, fn)`` of one video at IoU threshold ``overlap`` (a fraction, e.g. 0.5)."""
    p_segs = get_segments(pred, bg_class)
    y_segs = get_segments(gt, bg_class)
    if not y_segs:
        return 0, len(p_segs), 0
    y_start = np.array([s.start for s in y_segs], dtype=np.float64)
    y_end = np.array([s.end for s in y_segs], dtype=np.float64)
    y_label = [s.label for s in y_segs]
    hits = np.zeros(len(y_segs), dtype=bool)
    tp = fp = 0
    for seg in p_segs:
        inter = np.minimum(seg.end, y_end) - np.maximum(seg.start, y_start)
        union = np.maximum(seg.end, y_end) - np.minimum(seg.start, y_start)
        same = np.array([lab == seg.label for lab in y_label], dtype=np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):  # 0/0 for a 1-frame last segment, as in the reference
            iou = inter / union * same
        idx = int(np.argmax(iou))  # first on ties (and first NaN), as numpy's argmax in the reference
        if iou[idx] >= overlap and not hits[idx]:
            tp += 1
            hits[idx] = True
        else:
            fp += 1
    return tp, fp, int(len(y_segs) - hits.sum())


def f1_from_counts(tp: int, fp: int, fn: int) -> float:
    """F1 in percent from summed counts; 0 where precision + recall is 0 or undefined."""
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    if precision + recall == 0:
        return 0.0
    return 2.0 * precision * recall / (precision + recall) * 100.0


def segmentation_scores(
    predictions: dict[str, Sequence[Hashable]],
    ground_truth: dict[str, Sequence[Hashable]],
    bg_class: Sequence[Hashable] = DEFAULT_BG_CLASS,
) -> dict[str, float]:
    """MS-TCN scores over every ground-truth video -> ``{Acc, Edit, F1@10, F1@25, F1@50}`` (percent).

    ``predictions[v]`` must hold at least ``len(ground_truth[v])`` frame labels (the
    reference loops over the ground truth's length; extra predicted frames are ignored).
    """
    correct = total = 0
    edits: list[float] = []
    counts = np.zeros((len(OVERLAPS), 3), dtype=np.int64)
    for vid, gt in ground_truth.items():
        pred = list(predictions[vid][: len(gt)])
        gt = list(gt)
        correct += sum(1 for a, b in zip(pred, gt) if a == b)
        total += len(gt)
        edits.append(edit_score(pred, gt, bg_class))
        for k, overlap in enumerate(OVERLAPS):
            counts[k] += f1_counts(pred, gt, overlap, bg_class)
    out = {
        "Acc": correct / total * 100.0 if total else 0.0,
        "Edit": float(np.mean(edits)) if edits else 0.0,
    }
    for k, overlap in enumerate(OVERLAPS):
        out[f"F1@{int(round(overlap * 100))}"] = f1_from_counts(*(int(c) for c in counts[k]))
    return out

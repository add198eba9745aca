"""Temporal detection plumbing shared by the localisation tasks (METRICS.md §2.1-2.3).

Everything here works on segments `[s, e]` in **seconds** (any consistent unit works)
held in numpy arrays `[N, 2]`, and is pure numpy, so evaluators can use it without torch.

* `tiou_matrix` / `tiou` -- temporal IoU, in the three variants of the
  reference evaluators (ActivityNet, moment_detr "paired", densevid/SODA).
* `voc_ap` -- VOC 2011 "all points" interpolated AP (§2.1).
* `match_detections` / `detection_ap` / `detection_map` --
  ActivityNet-style matching and mAP (§2.2): stable descending sort, greedy matching to
  the highest-tIoU unmatched GT with `tIoU >= t`, classes without GT excluded.
* `recall_at_kx` -- ActionFormer's Recall@kx (§2.2, class-mean, `>=`).
* `nms` / `soft_nms` -- post-processing of scored segments.

Tie handling: every "sort by score" is a **stable** descending sort (input order breaks
ties), so results never depend on numpy's quicksort.
"""
from __future__ import annotations

from collections import defaultdict
from typing import Hashable, Iterable, Literal, Sequence

import numpy as np

TIoUVariant = Literal["anet", "paired", "soda"]


def _as_segments(x: Sequence | np.ndarray) -> np.ndarray:
    arr = np.asarray(x, dtype=np.float64)
    if arr.size == 0:
        return arr.reshape(0, 2)
    if arr.ndim == 1:
        arr = arr.reshape(1, -1)
    if arr.ndim != 2 or arr.shape[1] < 2:
        raise ValueError(f"segments must be [N, 2] (start, end), got shape {list(arr.shape)}")
    return arr[:, :2]


def tiou_matrix(a: Sequence | np.ndarray, b: Sequence | np.ndarray, variant: TIoUVariant = "anet") -> np.ndarray:
    """Temporal IoU of every segment of `a [N, 2]` with every segment of `b [M, 2]` -> `[N, M]`.

    Variants (METRICS.md conventions):
        `"anet"`: `inter / (len_a + len_b - inter)` (ActivityNet, ActionFormer, Ego4D).
        `"paired"`: `inter / (max(e) - min(s))` (moment_detr); equal to `"anet"`
            unless the segments are disjoint (IoU 0 either way).
        `"soda"`: `inter / (min(max(e) - min(s), len_a + len_b) + 1e-8)` (densevid, SODA).

    A zero-length union (two identical points) gives 0, never NaN. Segments with
    `start > end` have a negative length; callers validate segments first.
    """
    a, b = _as_segments(a), _as_segments(b)
    s1, e1 = a[:, None, 0], a[:, None, 1]
    s2, e2 = b[None, :, 0], b[None, :, 1]
    inter = np.clip(np.minimum(e1, e2) - np.maximum(s1, s2), 0.0, None)
    if variant == "anet":
        union = (e1 - s1) + (e2 - s2) - inter
    elif variant == "paired":
        union = np.maximum(e1, e2) - np.minimum(s1, s2)
    elif variant == "soda":
        union = np.minimum(np.maximum(e1, e2) - np.minimum(s1, s2), (e1 - s1) + (e2 - s2)) + 1e-8
    else:
        raise ValueError(f"unknown tIoU variant {variant!r}; use 'anet', 'paired' or 'soda'")
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)
    return out


def clip_segment(start: float, end: float, duration: float) -> tuple[float, float]:
    """`(start, end)` seconds inside `[0, duration]` and never reversed: a predicted segment
    that begins past the video's end becomes the empty segment at the end (readers of the
    official files refuse reversed segments)."""
    start = min(max(0.0, float(start)), float(duration))
    return start, max(start, min(float(duration), float(end)))


def tiou(a: Sequence[float], b: Sequence[float], variant: TIoUVariant = "anet") -> float:
    """tIoU of two segments `[s, e]` (see `tiou_matrix`)."""
    return float(tiou_matrix([a], [b], variant)[0, 0])


def voc_ap(recall: np.ndarray, precision: np.ndarray) -> float:
    """VOC 2011 "all points" interpolated AP from cumulative `recall`/`precision` `[K]` (§2.1).

    Pads `mrec = [0, rec, 1]`, `mprec = [0, prec, 0]`, makes precision monotone from
    the right and sums `(mrec[i] - mrec[i-1]) * mprec[i]` where recall changes. No
    detections (`K = 0`) -> 0.
    """
    recall = np.asarray(recall, dtype=np.float64)
    precision = np.asarray(precision, dtype=np.float64)
    if recall.size == 0:
        return 0.0
    mrec = np.concatenate([[0.0], recall, [1.0]])
    mprec = np.concatenate([[0.0], precision, [0.0]])
    for i in range(len(mprec) - 2, -1, -1):
        mprec[i] = max(mprec[i], mprec[i + 1])
    idx = np.where(mrec[1:] != mrec[:-1])[0] + 1
    return float(np.sum((mrec[idx] - mrec[idx - 1]) * mprec[idx]))


def stable_order(scores: Sequence[float] | np.ndarray) -> np.ndarray:
    """Indices sorting `scores` descending; equal scores keep their input order."""
    return np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")


def match_detections(
    gt_segments: np.ndarray,
    gt_groups: Sequence[Hashable],
    pred_segments: np.ndarray,
    pred_scores: np.ndarray,
    pred_groups: Sequence[Hashable],
    tious: Sequence[float],
) -> tuple[np.ndarray, np.ndarray]:
    """ActivityNet greedy matching of one class's predictions to its GT (§2.2 steps 2-3).

    Args:
        gt_segments: `[P, 2]` GT segments; `gt_groups` `[P]` their video ids.
        pred_segments: `[K, 2]`; `pred_scores` `[K]`; `pred_groups` `[K]` video ids.
        tious: thresholds; a match needs `tIoU >= t`.

    Returns:
        `(tp, fp)`, each `[len(tious), K]` 0/1 in **descending-score order** (stable).
    """
    gt_segments, pred_segments = _as_segments(gt_segments), _as_segments(pred_segments)
    order = stable_order(pred_scores)
    n_t, k = len(tious), len(order)
    tp = np.zeros((n_t, k))
    fp = np.zeros((n_t, k))
    by_group: dict[Hashable, list[int]] = defaultdict(list)
    for j, g in enumerate(gt_groups):
        by_group[g].append(j)
    locked = np.zeros((n_t, len(gt_segments)), dtype=bool)
    for rank, i in enumerate(order):
        gt_idx = by_group.get(pred_groups[i])
        if not gt_idx:
            fp[:, rank] = 1
            continue
        ious = tiou_matrix(pred_segments[i : i + 1], gt_segments[gt_idx])[0]
        visit = stable_order(ious)
        for ti, thr in enumerate(tious):
            for v in visit:
                if ious[v] < thr:
                    break
                if locked[ti, gt_idx[v]]:
                    continue
                locked[ti, gt_idx[v]] = True
                tp[ti, rank] = 1
                break
            if not tp[ti, rank]:
                fp[ti, rank] = 1
    return tp, fp


def ap_from_matches(tp: np.ndarray, fp: np.ndarray, num_gt: int) -> np.ndarray:
    """`tp`/`fp` `[n_t, K]` in score order and `P = num_gt` -> AP per threshold `[n_t]` (§2.1)."""
    n_t = tp.shape[0]
    if tp.shape[1] == 0:
        return np.zeros(n_t)
    if num_gt <= 0:
        raise ValueError("AP needs at least one ground-truth instance (P = 0); evaluate only classes with GT")
    ctp, cfp = np.cumsum(tp, axis=1), np.cumsum(fp, axis=1)
    rec = ctp / num_gt
    prec = ctp / (ctp + cfp)
    return np.array([voc_ap(rec[t], prec[t]) for t in range(n_t)])


def detection_ap(
    gt_segments: np.ndarray,
    gt_groups: Sequence[Hashable],
    pred_segments: np.ndarray,
    pred_scores: np.ndarray,
    pred_groups: Sequence[Hashable],
    tious: Sequence[float],
) -> np.ndarray:
    """AP of one class at every threshold `[len(tious)]` (§2.2 steps 2-4); no predictions -> 0."""
    tp, fp = match_detections(gt_segments, gt_groups, pred_segments, pred_scores, pred_groups, tious)
    return ap_from_matches(tp, fp, len(gt_groups))


Detection = tuple[Hashable, str, float, float, float]  # (video, label, start, end, score)
Instance = tuple[Hashable, str, float, float]  # (video, label, start, end)


def detection_map(
    ground_truth: Iterable[Instance],
    predictions: Iterable[Detection],
    tious: Sequence[float],
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """ActivityNet-style mAP (§2.2): per class, all videos pooled.

    Args:
        ground_truth: `(video, label, start_s, end_s)` instances.
        predictions: `(video, label, start_s, end_s, score)` detections; those whose label
            has no GT instance are dropped (Ego4D behaviour), those for videos without GT
            of their class count as false positives.
        tious: thresholds (`>=`).

    Returns:
        `(mAP [len(tious)], {label: AP [len(tious)]})`; mAP is the mean over the classes
        that have GT. No GT at all -> zeros.
    """
    gt_by: dict[str, list[Instance]] = defaultdict(list)
    for inst in ground_truth:
        gt_by[inst[1]].append(inst)
    pred_by: dict[str, list[Detection]] = defaultdict(list)
    for det in predictions:
        if det[1] in gt_by:
            pred_by[det[1]].append(det)
    aps: dict[str, np.ndarray] = {}
    for label, gts in gt_by.items():
        preds = pred_by.get(label, [])
        aps[label] = detection_ap(
            np.array([[g[2], g[3]] for g in gts]),
            [g[0] for g in gts],
            np.array([[p[2], p[3]] for p in preds]).reshape(-1, 2),
            np.array([p[4] for p in preds]),
            [p[0] for p in preds],
            tious,
        )
    if not aps:
        return np.zeros(len(tious)), aps
    return np.mean(np.stack(list(aps.values())), axis=0), aps


def recall_at_kx(
    ground_truth: Iterable[Instance],
    predictions: Iterable[Detection],
    k: float = 1.0,
    tiou_threshold: float = 0.5,
) -> float:
    """ActionFormer's Recall@kx (§2.2), a fraction in [0, 1].

    Per class c and video v with `n` GT instances of c: keep the `k*n` best-scored
    (stable) class-c predictions of v; a GT counts as recalled when any kept prediction
    has `tIoU >= tiou_threshold` with it (no one-to-one matching). Recall of c =
    recalled / #GT of c; the result is the mean over classes with GT (0 if none).
    """
    gt_by: dict[tuple[str, Hashable], list[tuple[float, float]]] = defaultdict(list)
    for v, label, s, e in ground_truth:
        gt_by[(label, v)].append((s, e))
    pred_by: dict[tuple[str, Hashable], list[tuple[float, float, float]]] = defaultdict(list)
    for v, label, s, e, score in predictions:
        if (label, v) in gt_by:
            pred_by[(label, v)].append((s, e, score))
    hits: dict[str, list[float]] = defaultdict(list)
    for (label, v), gts in gt_by.items():
        preds = pred_by.get((label, v), [])
        keep = int(round(k * len(gts)))
        if preds and keep > 0:
            order = stable_order([p[2] for p in preds])[:keep]
            ious = tiou_matrix(np.array(gts), np.array([preds[i][:2] for i in order]))
            hits[label].extend((ious >= tiou_threshold).any(axis=1).astype(float).tolist())
        else:
            hits[label].extend([0.0] * len(gts))
    if not hits:
        return 0.0
    return float(np.mean([np.mean(h) for h in hits.values()]))


def nms(segments: np.ndarray, scores: np.ndarray, iou_threshold: float = 0.5, max_keep: int | None = None) -> np.ndarray:
    """Greedy non-maximum suppression of `segments [K, 2]` / `scores [K]`.

    Visits segments by descending score (stable) and drops any with `tIoU > iou_threshold`
    to an already kept one. Returns kept indices `[K']` in descending-score order.
    """
    segments = _as_segments(segments)
    order = list(stable_order(scores))
    keep: list[int] = []
    while order and (max_keep is None or len(keep) < max_keep):
        i = order.pop(0)
        keep.append(i)
        if order:
            ious = tiou_matrix(segments[i : i + 1], segments[order])[0]
            order = [j for j, o in zip(order, ious) if o <= iou_threshold]
    return np.array(keep, dtype=np.int64)


def soft_nms(
    segments: np.ndarray,
    scores: np.ndarray,
    sigma: float = 0.5,
    iou_threshold: float = 0.0,
    min_score: float = 1e-3,
    max_keep: int | None = None,
    method: Literal["gaussian", "linear"] = "gaussian",
) -> tuple[np.ndarray, np.ndarray]:
    """Soft-NMS (Bodla et al. 2017) as used by ActionFormer's post-processing.

    Repeatedly keeps the best remaining segment and decays the others' scores by
    `exp(-iou^2 / sigma)` (gaussian) or `1 - iou` when `iou > iou_threshold`
    (linear); segments whose score falls below `min_score` are dropped.

    Returns:
        `(indices [K'], decayed scores [K'])` in the order kept (descending decayed score).
    """
    segments = _as_segments(segments)
    live = np.asarray(scores, dtype=np.float64).copy()
    remaining = list(range(len(live)))
    keep, kept_scores = [], []
    while remaining and (max_keep is None or len(keep) < max_keep):
        best = max(remaining, key=lambda j: (live[j], -j))
        if live[best] < min_score:
            break
        remaining.remove(best)
        keep.append(best)
        kept_scores.append(live[best])
        if not remaining:
            break
        ious = tiou_matrix(segments[best : best + 1], segments[remaining])[0]
        if method == "gaussian":
            decay = np.exp(-(ious**2) / sigma)
        elif method == "linear":
            decay = np.where(ious > iou_threshold, 1.0 - ious, 1.0)
        else:
            raise ValueError(f"unknown soft-NMS method {method!r}; use 'gaussian' or 'linear'")
        live[remaining] *= decay
    return np.array(keep, dtype=np.int64), np.array(kept_scores)


__all__ = ["clip_segment", 
    "tiou",
    "tiou_matrix",
    "voc_ap",
    "stable_order",
    "match_detections",
    "ap_from_matches",
    "detection_ap",
    "detection_map",
    "recall_at_kx",
    "nms",
    "soft_nms",
]

"""Class-mean top-k recall (RULSTM `topk_recall` / EK100 anticipation and OAD protocol).

METRICS.md §2.6: a sample is a hit when its ground-truth class is among its first
`k` ranked classes; the recall of class `c` is hits / samples of class `c`; the
score is the mean over the classes that occur as ground truth in the evaluated set
(classes never seen there are ignored). Ranking uses a *stable* descending sort, so
among tied scores the lower class id ranks first (the reference's quicksort leaves tie
order unspecified).
"""
from __future__ import annotations

import math
from typing import Iterable, Sequence

import numpy as np


def rank_classes(scores: np.ndarray) -> np.ndarray:
    """`scores [N, C]` -> class ids `[N, C]` by descending score (stable: ties keep id order)."""
    scores = np.asarray(scores, dtype=np.float64)
    return np.argsort(-scores, axis=-1, kind="stable")


def topk_hits(scores: np.ndarray, labels: Sequence[int], k: int = 5, chunk: int = 4096) -> np.ndarray:
    """`scores [N, C]`, `labels [N]` -> `[N]` bool: label among the top `k` classes.

    The label's rank under `rank_classes` (classes scoring higher, plus tied classes
    with a lower id) is counted directly, `chunk` rows at a time: no `[N, C]` sort.
    """
    labels = np.asarray(labels, dtype=np.int64)
    out = np.zeros(len(labels), dtype=bool)
    ids = None
    for a in range(0, len(labels), chunk):
        s = np.asarray(scores[a : a + chunk], dtype=np.float64)
        lab = labels[a : a + chunk]
        if ids is None:
            ids = np.arange(s.shape[1])
        own = s[np.arange(len(lab)), lab][:, None]
        rank = (s > own).sum(1) + ((s == own) & (ids[None, :] < lab[:, None])).sum(1)
        out[a : a + chunk] = rank < k
    return out


class TopKRecallCounter:
    """Class-mean top-`k` recall accumulated batch by batch (bounded memory: two counts per class)."""

    def __init__(self, k: int = 5) -> None:
        self.k = int(k)
        self.hits: dict[int, int] = {}
        self.counts: dict[int, int] = {}

    def update(self, scores: np.ndarray, labels: Sequence[int]) -> None:
        labels = np.asarray(labels, dtype=np.int64)
        if len(labels) == 0:
            return
        hits = topk_hits(scores, labels, self.k)
        classes, inverse = np.unique(labels, return_inverse=True)
        for c, n, h in zip(classes.tolist(), np.bincount(inverse).tolist(), np.bincount(inverse, weights=hits).tolist()):
            self.counts[c] = self.counts.get(c, 0) + int(n)
            self.hits[c] = self.hits.get(c, 0) + int(h)

    def value(self) -> float:
        """Fraction in `[0, 1]`; NaN when nothing was counted."""
        if not self.counts:
            return math.nan
        return float(np.mean([self.hits[c] / n for c, n in self.counts.items()]))


def ranked_list_hits(ranked: Sequence[Sequence[object]], labels: Sequence[object], k: int = 5) -> np.ndarray:
    """Hits when each sample comes with its own ranked list of candidates (e.g. EK100's 100
    submitted `(verb, noun)` pairs): `labels[i] in ranked[i][:k]`. A label outside the
    list is a miss."""
    return np.array([lab in list(r[:k]) for r, lab in zip(ranked, labels)], dtype=bool)


def class_mean_recall(hits: Sequence[bool], labels: Sequence[object], classes: Iterable[object] | None = None) -> float:
    """Mean over classes present in `labels` (and in `classes` when given) of the hit rate.

    Returns a fraction in `[0, 1]`; NaN when no class is left (empty set).
    """
    hits = np.asarray(hits, dtype=bool)
    labels = list(labels)
    if len(hits) != len(labels):
        raise ValueError(f"hits ({len(hits)}) and labels ({len(labels)}) differ in length")
    keep = None if classes is None else set(classes)
    per_class: dict[object, list[int]] = {}
    for h, lab in zip(hits, labels):
        if keep is not None and lab not in keep:
            continue
        acc = per_class.setdefault(lab, [0, 0])
        acc[0] += int(h)
        acc[1] += 1
    if not per_class:
        return math.nan
    return float(np.mean([h / n for h, n in per_class.values()]))


def mean_topk_recall(scores: np.ndarray, labels: Sequence[int], k: int = 5, classes: Iterable[int] | None = None) -> float:
    """Class-mean top-`k` recall of `scores [N, C]` for `labels [N]` (fraction; NaN if empty)."""
    return class_mean_recall(topk_hits(scores, labels, k), labels, classes)


__all__ = ["rank_classes", "topk_hits", "TopKRecallCounter", "ranked_list_hits", "class_mean_recall", "mean_topk_recall"]

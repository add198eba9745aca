"""Non-interpolated average precision over a ranking, as scikit-learn's
``average_precision_score`` defines it (METRICS.md §2.7), without the dependency.

``AP = sum_n (R_n - R_{n-1}) * P_n`` over the distinct score thresholds in descending
order (tied scores enter together), ``R_0 = 0``; no interpolation.
"""
from __future__ import annotations

import math

import numpy as np


def average_precision(positive: np.ndarray, scores: np.ndarray) -> float:
    """AP of ``scores [n]`` for the binary labels ``positive [n]``.

    Returns NaN when there is no positive (sklearn warns and returns a meaningless value
    there; callers evaluate only classes with positives).
    """
    y = np.asarray(positive, dtype=bool).ravel()
    s = np.asarray(scores, dtype=np.float64).ravel()
    if y.shape != s.shape:
        raise ValueError(f"labels {y.shape} and scores {s.shape} differ in length")
    if not y.any():
        return math.nan
    order = np.argsort(-s, kind="mergesort")
    y, s = y[order], s[order]
    last_of_tie = np.r_[np.flatnonzero(np.diff(s)), y.size - 1]  # last index of each distinct score
    tp = np.cumsum(y)[last_of_tie]
    precision = tp / (last_of_tie + 1)
    recall = tp / tp[-1]
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


__all__ = ["average_precision"]

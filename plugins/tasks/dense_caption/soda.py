"""SODA_c (Fujita et al. 2020; ``fujiso/SODA`` @ ``9cb3e2c``, reimplemented; METRICS.md §2.10).

Per video, predictions and references sorted by start time; ``M[g, p] = tIoU(g, p) *
METEOR(g, p)``; an order-preserving assignment maximises the sum by dynamic programming,
``dp[i, j] = max(dp[i-1, j], dp[i, j-1], dp[i-1, j-1] + M[i, j])``; with ``S = dp[-1, -1]``,
precision ``S / #pred``, recall ``S / #ref``, F = 2PR / (P + R). Videos are those of the
reference file that appear in the predictions (missing ones are dropped; an empty
prediction list scores 0). As PDVC's ``eval_soda.py`` does with val_1/val_2, SODA runs
once per reference file and the F values are averaged.

Faithful details of the reference: METEOR is called as ``compute_score(res, gt)``, i.e.
with the *reference* caption as METEOR's hypothesis and the prediction as its reference
(METEOR is not symmetric); tIoU is the densevid variant; the DP is iterative here (the
reference recursion returns 0 on ``RecursionError`` for very long videos).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..common.captioning import tokenize
from ..common.detection import tiou_matrix
from .annotations import References, remove_nonascii
from .meteor import MeteorSession


def chased_dp_assignment(scores: np.ndarray) -> float:
    """Best order-preserving assignment score of ``scores [G, P]`` (0 when empty)."""
    g, p = scores.shape
    if g == 0 or p == 0:
        return 0.0
    dp = np.zeros((g + 1, p + 1))
    for i in range(1, g + 1):
        for j in range(1, p + 1):
            dp[i, j] = max(dp[i - 1, j], dp[i, j - 1], dp[i - 1, j - 1] + scores[i - 1, j - 1])
    return float(dp[g, p])


def soda_f(score: float, num_pred: int, num_ref: int) -> float:
    """F-measure of an assignment score."""
    p = score / num_pred if num_pred else 0.0
    r = score / num_ref if num_ref else 0.0
    return 2 * p * r / (p + r) if p + r > 0 else 0.0


def soda_c(predictions: dict[str, list[dict[str, Any]]], references: list[References], meteor: MeteorSession) -> float:
    """SODA_c F (a fraction): mean over reference files of the mean F over their predicted videos."""
    texts: set[str] = set()
    for vid, preds in predictions.items():
        texts.update(remove_nonascii(str(x["sentence"])) for x in preds)
    for ref in references:
        for vid in ref:
            if vid in predictions:
                texts.update(remove_nonascii(s) for s in ref[vid]["sentences"])
    order = sorted(texts)
    tokens = tokenize({i: [s] for i, s in enumerate(order)}) if order else {}
    tok = {s: tokens[i][0] for i, s in enumerate(order)}
    per_file = []
    for ref in references:
        fs = []
        for vid, entry in ref.items():
            if vid not in predictions:
                continue
            preds = sorted(predictions[vid], key=lambda x: float(x["timestamp"][0]))
            if not preds:
                fs.append(0.0)
                continue
            gold = sorted(zip(entry["timestamps"], entry["sentences"]), key=lambda x: float(x[0][0]))
            iou = tiou_matrix(np.array([g[0] for g in gold], dtype=float), np.array([p["timestamp"] for p in preds], dtype=float), "soda")
            p_tok = [tok[remove_nonascii(str(p["sentence"]))] for p in preds]
            g_tok = [tok[remove_nonascii(sentence)] for _, sentence in gold]
            ids = [(i, j) for i in range(len(gold)) for j in range(len(preds))]  # segment scores are independent: one call
            _, per = meteor.score({k: [p_tok[j]] for k, (i, j) in enumerate(ids)}, {k: g_tok[i] for k, (i, j) in enumerate(ids)})
            scores = np.array(per).reshape(len(gold), len(preds))
            fs.append(soda_f(chased_dp_assignment(iou * scores), len(preds), len(gold)))
        per_file.append(float(np.mean(fs)) if fs else 0.0)
    return float(np.mean(per_file)) if per_file else 0.0

"""densevid_eval, 2018 deterministic variant (METRICS.md §2.10).

Follows ``ttengwang/PDVC`` ``densevid_eval3/evaluate2018.py`` (a py3 port of
``ranjaykrishna/densevid_eval`` at ``deba7d7``): the variant that pairs a prediction
overlapping no reference with the fixed garbage reference ``'abc123!@#'`` (2021's
random string makes METEOR non-deterministic).

For each tIoU ``t``: every ground-truth video (union of the reference files) and each of
its predictions (first ``max_proposals`` as listed) gives one (prediction, reference)
pair per reference caption in **either** file with ``tIoU >= t``, or one garbage pair;
each scorer runs on one video's pairs at a time (CIDEr's IDF from that video); videos
without predictions score 0; the score at ``t`` is the mean over all ground-truth videos.
Localisation: per video and reference file, recall = references covered by a prediction
with ``tIoU > t`` / references, precision = predictions covering one / predictions; the
better file per video; means over videos. Finally everything is averaged over ``t``.
tIoU is the densevid/SODA variant (:func:`..common.detection.tiou_matrix`, ``"soda"``).
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ..common.captioning import score_captions, tokenize
from ..common.detection import tiou_matrix
from .annotations import References, remove_nonascii
from .meteor import MeteorSession

GARBAGE_REFERENCE = "abc123!@#"
DEFAULT_TIOUS = (0.3, 0.5, 0.7, 0.9)


def _segments(timestamps: Sequence[Sequence[float]]) -> np.ndarray:
    return np.asarray(timestamps, dtype=np.float64).reshape(-1, 2)


def gt_video_ids(references: list[References]) -> list[str]:
    """Videos in any reference file, in first-seen order."""
    seen: dict[str, None] = {}
    for ref in references:
        seen.update(dict.fromkeys(ref))
    return list(seen)


def localisation_scores(predictions: dict[str, list[dict[str, Any]]], references: list[References], tiou: float) -> tuple[float, float]:
    """``(precision, recall)`` fractions at ``tiou`` (strict ``>``), mean over ground-truth videos."""
    precision, recall = [], []
    for vid in gt_video_ids(references):
        best_p = best_r = 0.0
        preds = predictions.get(vid)
        for ref in references:
            if vid not in ref:
                continue
            gt = _segments(ref[vid]["timestamps"])
            if preds:
                hit = tiou_matrix(_segments([p["timestamp"] for p in preds]), gt, "soda") > tiou  # [P, G]
                best_p = max(best_p, float(hit.any(axis=1).sum()) / len(preds))
                covered = int(hit.any(axis=0).sum())
            else:
                covered = 0
            best_r = max(best_r, covered / len(gt) if len(gt) else 0.0)
        precision.append(best_p)
        recall.append(best_r)
    return float(np.mean(precision)) if precision else 0.0, float(np.mean(recall)) if recall else 0.0


def caption_pairs(predictions: dict[str, list[dict[str, Any]]], references: list[References], tiou: float) -> dict[str, list[tuple[str, str]]]:
    """``{video: [(predicted sentence, reference sentence), ...]}`` at ``tiou`` (``>=``, garbage when none)."""
    pairs: dict[str, list[tuple[str, str]]] = {}
    for vid in gt_video_ids(references):
        pairs[vid] = []
        for pred in predictions.get(vid, []):
            sentence = remove_nonascii(str(pred["sentence"]))
            added = False
            for ref in references:
                if vid not in ref:
                    continue
                ious = tiou_matrix(_segments([pred["timestamp"]]), _segments(ref[vid]["timestamps"]), "soda")[0]
                for k in np.flatnonzero(ious >= tiou):
                    pairs[vid].append((sentence, remove_nonascii(ref[vid]["sentences"][k])))
                    added = True
            if not added:
                pairs[vid].append((sentence, GARBAGE_REFERENCE))
    return pairs


def densevid_scores(
    predictions: dict[str, list[dict[str, Any]]],
    references: list[References],
    tious: Sequence[float] = DEFAULT_TIOUS,
    max_proposals: int = 1000,
    meteor: MeteorSession | None = None,
) -> dict[str, float]:
    """``{"METEOR", "BLEU@4", "CIDEr", "Recall", "Precision"}`` as fractions, averaged over ``tious``.

    ``meteor``: an open :class:`MeteorSession`; ``None`` leaves METEOR out (NaN).
    """
    predictions = {vid: list(preds)[:max_proposals] for vid, preds in predictions.items()}
    vids = gt_video_ids(references)
    per_t: dict[str, list[float]] = {"METEOR": [], "BLEU@4": [], "CIDEr": [], "Recall": [], "Precision": []}
    pairs_t = [caption_pairs(predictions, references, t) for t in tious]
    sentences = {s for pairs in pairs_t for ps in pairs.values() for pair in ps for s in pair}
    order = sorted(sentences)
    tokens = tokenize({i: [s] for i, s in enumerate(order)}) if order else {}
    tok = {s: tokens[i][0] for i, s in enumerate(order)}
    for t, pairs in zip(tious, pairs_t):
        scores = {"METEOR": [], "BLEU@4": [], "CIDEr": []}
        for vid in vids:
            if not pairs[vid]:
                for v in scores.values():
                    v.append(0.0)
                continue
            cands = {i: tok[p] for i, (p, _) in enumerate(pairs[vid])}
            refs = {i: [tok[r]] for i, (_, r) in enumerate(pairs[vid])}
            other = score_captions(cands, refs, metrics=("BLEU@4", "CIDEr"), tokenized=True)
            scores["BLEU@4"].append(other["BLEU@4"])
            scores["CIDEr"].append(other["CIDEr"])
            scores["METEOR"].append(meteor.score(refs, cands)[0] if meteor is not None else float("nan"))
        for k, v in scores.items():
            per_t[k].append(float(np.mean(v)) if v else 0.0)
        precision, recall = localisation_scores(predictions, references, t)
        per_t["Precision"].append(precision)
        per_t["Recall"].append(recall)
    return {k: float(np.mean(v)) for k, v in per_t.items()}

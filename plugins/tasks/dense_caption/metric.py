"""`dense_caption` metric: densevid_eval (2018 variant) + SODA_c on ActivityNet Captions.

Ground truth: one or several reference files (`val_1.json,val_2.json`, comma-separated
on the command line), a list of `{video_id: {duration, timestamps, sentences}}`.
Predictions: the densevid submission (`formats`).

**densevid_eval**, 2018 deterministic variant (METRICS.md §2.10).

Follows `ttengwang/PDVC` `densevid_eval3/evaluate2018.py` (a py3 port of
`ranjaykrishna/densevid_eval` at `deba7d7`): the variant that pairs a prediction
overlapping no reference with the fixed garbage reference `'abc123!@#'` (2021's
random string makes METEOR non-deterministic).

For each tIoU `t`: every ground-truth video (union of the reference files) and each of
its predictions (first `max_proposals` as listed) gives one (prediction, reference)
pair per reference caption in **either** file with `tIoU >= t`, or one garbage pair;
each scorer runs on one video's pairs at a time (CIDEr's IDF from that video); videos
without predictions score 0; the score at `t` is the mean over all ground-truth videos.
Localisation: per video and reference file, recall = references covered by a prediction
with `tIoU > t` / references, precision = predictions covering one / predictions; the
better file per video; means over videos. Finally everything is averaged over `t`.
tIoU is the densevid/SODA variant (`common.detection.tiou_matrix`, `"soda"`).

**SODA_c** (Fujita et al. 2020; `fujiso/SODA` @ `9cb3e2c`, reimplemented; METRICS.md §2.10).

Per video, predictions and references sorted by start time; `M[g, p] = tIoU(g, p) *
METEOR(g, p)`; an order-preserving assignment maximises the sum by dynamic programming,
`dp[i, j] = max(dp[i-1, j], dp[i, j-1], dp[i-1, j-1] + M[i, j])`; with `S = dp[-1, -1]`,
precision `S / #pred`, recall `S / #ref`, F = 2PR / (P + R). Videos are those of the
reference file that appear in the predictions (missing ones are dropped; an empty
prediction list scores 0). As PDVC's `eval_soda.py` does with val_1/val_2, SODA runs
once per reference file and the F values are averaged.

Faithful details of the reference: METEOR is called as `compute_score(res, gt)`, i.e.
with the *reference* caption as METEOR's hypothesis and the prediction as its reference
(METEOR is not symmetric); tIoU is the densevid variant; the DP is iterative here (the
reference recursion returns 0 on `RecursionError` for very long videos).

**METEOR**: one METEOR 1.5 process kept open for many calls (densevid scores every video and SODA
every video's caption matrix; starting a JVM per call would take seconds each).
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, ClassVar, Sequence

import numpy as np

from videollm_core.base import Metric
from videollm_core.errors import ConfigError, DataError

from ..common.captioning import score_captions, tokenize
from ..common.meteor import MeteorSession, meteor_available, shared_meteor
from ..common.detection import tiou_matrix
from .formats import References, read_references, read_submission, remove_nonascii, split_paths, write_submission

log = logging.getLogger("videollm")


# -- densevid_eval ---------------------------------------------------------------------
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
    """`(precision, recall)` fractions at `tiou` (strict `>`), mean over ground-truth videos."""
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
    """`{video: [(predicted sentence, reference sentence), ...]}` at `tiou` (`>=`, garbage when none)."""
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
    """`{"METEOR", "BLEU@4", "CIDEr", "Recall", "Precision"}` as fractions, averaged over `tious`.

    `meteor`: an open `MeteorSession`; `None` leaves METEOR out (NaN).
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


# -- SODA_c ------------------------------------------------------------------------------
def chased_dp_assignment(scores: np.ndarray) -> float:
    """Best order-preserving assignment score of `scores [G, P]` (0 when empty)."""
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


# -- the metric --------------------------------------------------------------------------
class DenseCaptionMetric(Metric):
    """METEOR, BLEU@4, CIDEr (averaged over `tious`), localisation Recall/Precision and SODA_c, x100.

    Args:
        tious: tIoU thresholds (densevid: 0.3, 0.5, 0.7, 0.9).
        max_proposals: predictions kept per video, as listed (densevid's `max_proposals_per_video`).
        soda: compute SODA_c (one METEOR call per video; `False` reports NaN).
    """

    task: ClassVar[str] = "dense_caption"
    keys: ClassVar[tuple[str, ...]] = ("METEOR", "BLEU@4", "CIDEr", "Recall", "Precision", "SODA_c")
    primary_key: ClassVar[str] = "METEOR"
    higher_is_better: ClassVar[bool] = True

    def __init__(self, tious: Sequence[float] = DEFAULT_TIOUS, max_proposals: int = 1000, soda: bool = True):
        super().__init__()
        self.tious = [float(t) for t in tious]
        if not self.tious or not all(0.0 <= t <= 1.0 for t in self.tious):
            raise ConfigError(f"tious must be thresholds in [0, 1], got {list(tious)}", where="metric.tious")
        if int(max_proposals) < 1:
            raise ConfigError(f"max_proposals must be >= 1, got {max_proposals}", where="metric.max_proposals")
        self.max_proposals = int(max_proposals)
        self.soda = bool(soda)

    # -- official files -------------------------------------------------
    def load_ground_truth(self, path: str | Path | list) -> list[References]:
        """Reference file(s): a path, `"a.json,b.json"` or a list; `.json.gz` accepted."""
        paths = split_paths(path)
        if not paths:
            raise DataError("no reference file given", where=str(path), hint="e.g. val_1.json,val_2.json")
        return [read_references(p) for p in paths]

    def load_predictions(self, path: str | Path) -> dict[str, list[dict[str, Any]]]:
        return read_submission(path)

    def save_predictions(self, predictions: dict[str, list[dict[str, Any]]], path: str | Path) -> None:
        write_submission(predictions, path)

    def format_predictions(self, entries: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
        """Head entries `{"video_id", "events": [{"timestamp", "sentence", "score"}]}` -> `results`."""
        return {
            str(e["video_id"]): [{"timestamp": [float(x["timestamp"][0]), float(x["timestamp"][1])], "sentence": str(x["sentence"])} for x in e["events"]]
            for e in entries
        }

    # -- evaluation -------------------------------------------------------
    def evaluate(self, predictions: dict[str, list[dict[str, Any]]], ground_truth: list[References] | References) -> dict[str, float]:
        """Scores over every ground-truth video (union of the reference files), x100."""
        refs = [ground_truth] if isinstance(ground_truth, dict) else list(ground_truth)
        if not any(refs):
            raise DataError("the ground truth holds no video", where="ground truth", hint="check the reference files")
        unknown = [v for v in predictions if not any(v in r for r in refs)]
        if unknown:
            log.warning("dense_caption: %d predicted video(s) are not in the references and are ignored, e.g. %s", len(unknown), unknown[:3])
        if not meteor_available():
            log.warning("dense_caption: METEOR and SODA_c need Java; reported as NaN")
            out = densevid_scores(predictions, refs, self.tious, self.max_proposals, meteor=None)
            out["SODA_c"] = float("nan")
        else:
            meteor = shared_meteor()
            out = densevid_scores(predictions, refs, self.tious, self.max_proposals, meteor=meteor)
            out["SODA_c"] = soda_c(predictions, refs, meteor) if self.soda else float("nan")
        return {k: out[k] * 100.0 for k in self.keys}

    def plot(self, predictions: Any, ground_truth: Any, path: str | Path, max_videos: int = 3) -> bool:
        """Timelines per video: each reference file's captions and the predicted ones.

        Captions are normalised as the scorers see them (lower case, no punctuation:
        `common.captioning.simple_ptb_tokenize`), so "A person cuts the bread." and
        "a person cuts the bread." are one label with one colour.
        """
        from ..common.captioning import simple_ptb_tokenize
        from ..common.plots import plot_segment_timelines

        refs = [ground_truth] if isinstance(ground_truth, dict) else list(ground_truth)
        vids = [v for v in predictions if any(v in r for r in refs)][:max_videos]
        if not vids:
            return False
        videos = []
        for vid in vids:
            tracks: dict[str, list[tuple[float, float, str]]] = {}
            duration = 0.0
            for k, ref in enumerate(refs):
                if vid in ref:
                    duration = max(duration, float(ref[vid]["duration"]))
                    tracks[f"GT {k + 1}"] = [(float(s), float(e), simple_ptb_tokenize(t)) for (s, e), t in zip(ref[vid]["timestamps"], ref[vid]["sentences"])]
            tracks["pred"] = [(float(p["timestamp"][0]), float(p["timestamp"][1]), simple_ptb_tokenize(str(p["sentence"]))) for p in predictions[vid]]
            videos.append({"video_id": vid, "tracks": tracks, "duration": duration or None})
        plot_segment_timelines(videos, path, title="dense captioning: references vs predictions")
        return True

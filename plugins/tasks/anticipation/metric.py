"""EK100 action anticipation: class-mean top-5 recall (METRICS.md §2.6) of the official submission.

The submission and the ground truth files are `formats`. An action is the verb-noun
pair, id `verb * 1000 + noun`, as `evaluate_anticipation_json_ek100.py` of
`epic-kitchens/C3-Action-Anticipation` scores it; when no segment of the submission has
action scores they are derived from the verb and noun scores, as the official script does.
Keys: `{verb,noun,action}/{overall,unseen,tail}`, x100. A subset with no segment
(e.g. no unseen participant) gives NaN.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from videollm_core.base import Metric
from videollm_core.errors import DataError

from ..common import ek100
from ..common.topk import class_mean_recall, ranked_list_hits, topk_hits
from .formats import (NUM_ACTIONS_SUBMITTED, EK100GroundTruth, SubmissionWriter, action_id, derive_action_scores,
                      load_ek100_ground_truth, read_submission, submission_header, submission_result)


def derived_action_topk(verb: np.ndarray, noun: np.ndarray, k: int, n: int = NUM_ACTIONS_SUBMITTED, chunk: int = 512) -> np.ndarray:
    """`derive_action_scores` for score matrices `verb [S, V]`, `noun [S, N]` at once, `chunk`
    segments at a time: the ids `verb * 1000 + noun` of the `k` best derived actions `[S, k]`
    (the same stable order: ties keep the lower verb rank, then the lower noun rank)."""
    out = np.zeros((len(verb), k), dtype=np.int64)
    for a in range(0, len(verb), chunk):
        v, m = verb[a : a + chunk], noun[a : a + chunk]
        rows = np.arange(len(v))[:, None]
        top_v, top_n = np.argsort(-v, axis=1, kind="stable")[:, :n], np.argsort(-m, axis=1, kind="stable")[:, :n]
        pv, pn = v[rows, top_v], m[rows, top_n]
        pv, pn = np.exp(pv - pv[:, :1]), np.exp(pn - pn[:, :1])
        joint = ((pv / pv.sum(1, keepdims=True))[:, :, None] * (pn / pn.sum(1, keepdims=True))[:, None, :]).reshape(len(v), -1)
        best = _stable_topk(joint, k)
        out[a : a + chunk] = top_v[rows, best // top_n.shape[1]] * 1000 + top_n[rows, best % top_n.shape[1]]
    return out


def _stable_topk(x: np.ndarray, k: int) -> np.ndarray:
    """Per row, the indices of the `k` largest values in stable descending order (ties: lower index
    first), as `argsort(-x, kind="stable")[:, :k]` but with a partition instead of a full sort."""
    if k >= x.shape[1]:
        return np.argsort(-x, axis=1, kind="stable")[:, :k]
    kth = -np.partition(-x, k - 1, axis=1)[:, k - 1 : k]  # the k-th largest value per row
    out = np.empty((len(x), k), dtype=np.int64)
    for i in range(len(x)):
        cand = np.flatnonzero(x[i] >= kth[i, 0])  # every value tied with the k-th is a candidate
        out[i] = cand[np.lexsort((cand, -x[i, cand]))][:k]
    return out


def _score_matrix(rows: list[dict[str, Any]], key: str) -> np.ndarray:
    """`[{key: {"class id": score}}]` -> `[S, C]` (the official `read_array_from_dict`; absent classes -inf)."""
    width = 1 + max(max(int(c) for c in r[key]) for r in rows) if rows else 0
    listed = [str(c) for c in range(width)]
    out = np.full((len(rows), width), -np.inf)
    for i, r in enumerate(rows):
        scores = r[key]
        if list(scores) == listed:  # the usual "0".."C-1" in order: no per-key parsing
            out[i] = np.fromiter(scores.values(), np.float64, width)
        else:
            out[i, [int(c) for c in scores]] = [float(x) for x in scores.values()]
    return out


def _ranked(scores: dict[str, float]) -> list[str]:
    """Keys by descending score, stable in the listed order for ties."""
    items = list(scores.items())
    order = np.argsort(-np.array([float(s) for _, s in items], dtype=np.float64), kind="stable")
    return [items[i][0] for i in order]


class AnticipationMetric(Metric):
    """Class-mean top-5 recall of verb, noun and action, on the overall / unseen / tail subsets.

    Args:
        actions: `actions.csv` used to turn action-id scores into `"v,n"` pairs when
            formatting head entries (default: none; the pairs are then derived from
            the verb and noun scores as the official script does).
        splits_dir: folder of the official `EPIC_100_*` split files (default: found
            beside the ground-truth csv or in `../official`).
        k: top-k (5 in the benchmark).
        sls_pt, sls_tl, sls_td: supervision levels written into the submission (0-5).
    """

    task: ClassVar[str] = "anticipation"
    keys: ClassVar[tuple[str, ...]] = tuple(f"{h}/{s}" for s in ("overall", "unseen", "tail") for h in ("verb", "noun", "action"))
    primary_key: ClassVar[str] = "action/overall"
    higher_is_better: ClassVar[bool] = True
    prediction_suffix: ClassVar[str] = ".json"

    def __init__(self, actions: str | None = None, splits_dir: str | None = None, k: int = 5, sls_pt: int = 0, sls_tl: int = 3, sls_td: int = 3) -> None:
        super().__init__()
        self.actions_path = actions
        self.splits_dir = splits_dir
        self.k = int(k)
        self.sls = {"sls_pt": int(sls_pt), "sls_tl": int(sls_tl), "sls_td": int(sls_td)}
        self._pairs: np.ndarray | None = None

    # -- files ----------------------------------------------------------------
    def load_ground_truth(self, path: str | Path) -> EK100GroundTruth:
        return load_ek100_ground_truth(path, self.actions_path, self.splits_dir)

    def load_predictions(self, path: str | Path) -> dict[str, Any]:
        return read_submission(path)

    def format_predictions(self, entries: list[dict[str, Any]]) -> dict[str, Any]:
        """Head entries `{narration_id, verb [V], noun [N], action [A] (optional)}` -> submission."""
        results = {str(e["narration_id"]): self._result(e) for e in entries}
        return {**self._header(), "results": results}

    def open_writer(self, path: str | Path) -> SubmissionWriter:
        """Writes the submission JSON one segment at a time as entries arrive (see `SubmissionWriter`)."""
        return SubmissionWriter(path, self._header(), self._result)

    def _header(self) -> dict[str, Any]:
        return submission_header(self.sls)

    def _result(self, e: dict[str, Any]) -> dict[str, Any]:
        """One segment's entry of the submission."""
        return submission_result(e, self._action_pairs() if e.get("action") is not None else None)

    def _action_pairs(self) -> np.ndarray | None:
        if self._pairs is None and self.actions_path:
            self._pairs = ek100.read_actions(self.actions_path)[0]
        return self._pairs

    # -- evaluation -----------------------------------------------------------
    def evaluate(self, predictions: dict[str, Any], ground_truth: EK100GroundTruth) -> dict[str, float]:
        results = predictions.get("results", predictions)
        segs = ground_truth.segments
        missing = [s.narration_id for s in segs if s.narration_id not in results]
        if missing:
            raise DataError(f"{len(missing)} of {len(segs)} segments have no prediction (first: {missing[:3]})",
                            where="predictions", hint="the submission needs an entry per narration_id of the ground truth")
        with_action = sum("action" in results[s.narration_id] for s in segs)
        derive = with_action == 0  # the official script derives actions only when no segment has them
        rows = [results[s.narration_id] for s in segs]
        verb, noun = _score_matrix(rows, "verb"), _score_matrix(rows, "noun")
        labels = {"verb": [s.verb for s in segs], "noun": [s.noun for s in segs], "action": [s.verb * 1000 + s.noun for s in segs]}
        for head, mat in (("verb", verb), ("noun", noun)):
            if max(labels[head], default=-1) >= mat.shape[1]:  # the official script: MissingScoreException
                raise DataError(f"the ground truth has {head} class {max(labels[head])}, the submission scores {mat.shape[1]} {head} classes",
                                where="predictions", hint="score every class of the benchmark (EK100: 97 verbs, 300 nouns)")
        hits = {"verb": topk_hits(verb, labels["verb"], self.k), "noun": topk_hits(noun, labels["noun"], self.k)}
        if derive:
            top = derived_action_topk(verb, noun, self.k)
            hits["action"] = (top == np.asarray(labels["action"])[:, None]).any(1)
        else:
            ranked = [[action_id(x) for x in _ranked(r.get("action", {}))[: self.k]] for r in rows]
            hits["action"] = ranked_list_hits(ranked, labels["action"], self.k)
        sp = ground_truth.splits
        subsets = {
            "overall": np.ones(len(segs), dtype=bool),
            "unseen": np.array([s.participant in sp.unseen_participants for s in segs], dtype=bool),
            "tail": {
                "verb": np.array([s.verb in sp.tail_verbs for s in segs], dtype=bool),
                "noun": np.array([s.noun in sp.tail_nouns for s in segs], dtype=bool),
                "action": np.array([s.verb in sp.tail_verbs or s.noun in sp.tail_nouns for s in segs], dtype=bool),
            },
        }
        out: dict[str, float] = {}
        for key in self.keys:
            head, subset = key.split("/")
            mask = subsets[subset][head] if isinstance(subsets[subset], dict) else subsets[subset]
            h = hits[head][mask]
            lab = [x for x, m in zip(labels[head], mask) if m]
            out[key] = 100.0 * class_mean_recall(h, lab)
        return out

    def plot(self, predictions: dict[str, Any], ground_truth: EK100GroundTruth, path: str | Path, max_videos: int = 3) -> bool:
        from ..common.plots import plot_segment_timelines

        results = predictions.get("results", {})
        names = {(int(v), int(n)): ground_truth.action_names[i] if i < len(ground_truth.action_names) else f"{v},{n}"
                 for i, (v, n) in enumerate(ground_truth.actions.tolist())}
        videos: dict[str, dict[str, list]] = {}
        for s in ground_truth.segments:
            if s.narration_id not in results or (s.video_id not in videos and len(videos) >= max_videos):
                continue
            tracks = videos.setdefault(s.video_id, {"GT": [], "top-1 anticipated": []})
            tracks["GT"].append((s.start_s, s.end_s, names.get((s.verb, s.noun), f"{s.verb},{s.noun}")))
            acts = results[s.narration_id].get("action") or derive_action_scores(results[s.narration_id]["verb"], results[s.narration_id]["noun"])
            v, n = (int(x) for x in _ranked(acts)[0].split(","))
            tracks["top-1 anticipated"].append((s.start_s, s.end_s, names.get((v, n), f"{v},{n}")))
        if not videos:
            return False
        plot_segment_timelines([{"video_id": v, "tracks": t} for v, t in videos.items()], path, title="EK100 anticipation (tau_a = 1 s)")
        return True


__all__ = ["derived_action_topk", "AnticipationMetric"]

"""Ego4D long-term anticipation: edit distance ED@Z (METRICS.md §2.8) of the challenge
submission (`formats`).

For each sample, `ED = min_k Lev(pred_k, gt) / Z` with plain Levenshtein distance
(`editdistance`; insert/delete/substitute cost 1, no transpositions); ED@Z is the
mean over samples. `action` treats the (verb, noun) pair as one token (a position
matches only if both do) -- the challenge's action ED is not in the public code, so
this is the documented reading. Keys `ED@20/verb`, `ED@20/noun`, `ED@20/action`;
lower is better; values are fractions as the official tool reports them (not x100).
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any, ClassVar

from videollm_core.base import Metric
from videollm_core.errors import DataError

from . import formats


def edit_distance_at_z(preds: list[list[Any]], gt: list[Any]) -> float:
    """`min_k Lev(preds[k], gt) / len(gt)` (items compared with `==`: ids or tuples)."""
    import editdistance

    return min(editdistance.eval(list(p), list(gt)) for p in preds) / len(gt)


class LTAMetric(Metric):
    """ED@Z of K candidate future sequences.

    Args:
        num_input_actions: observed actions per sample (N; windows of the ground truth
            start at action N-1 of a clip). The SlowFast baseline config uses 2.
        z: future actions per sample (20). k: candidate sequences required (5).
    """

    task: ClassVar[str] = "lta"
    keys: ClassVar[tuple[str, ...]] = ("ED@20/verb", "ED@20/noun", "ED@20/action")
    primary_key: ClassVar[str] = "ED@20/action"
    higher_is_better: ClassVar[bool] = False
    prediction_suffix: ClassVar[str] = ".json"

    def __init__(self, num_input_actions: int = 2, z: int = 20, k: int = 5) -> None:
        super().__init__()
        self.num_input_actions, self.z, self.k = int(num_input_actions), int(z), int(k)

    def load_ground_truth(self, path: str | Path) -> dict[str, dict[str, list[int]]]:
        """`fho_lta_<split>.json` -> `{sample key: {"verb": [Z], "noun": [Z]}}`."""
        clips = formats.read_annotations(path)
        return {w.key: {"verb": w.future_verbs, "noun": w.future_nouns}
                for w in formats.windows(clips, self.num_input_actions, self.z)}

    def load_predictions(self, path: str | Path) -> dict[str, Any]:
        return formats.read_submission(path, self.k, self.z)

    def format_predictions(self, entries: list[dict[str, Any]]) -> dict[str, Any]:
        """Head entries `{key, verb [K][Z], noun [K][Z]}` -> the submission dict."""
        return formats.format_submission(entries)

    def evaluate(self, predictions: dict[str, Any], ground_truth: dict[str, dict[str, list[int]]]) -> dict[str, float]:
        if not ground_truth:
            return {k: math.nan for k in self.keys}
        sums = {"verb": 0.0, "noun": 0.0, "action": 0.0}
        for key, gt in ground_truth.items():
            if key not in predictions:
                raise DataError(f"no prediction for sample {key!r}", where="predictions",
                                hint="the submission needs every '<clip_uid>_<last_visible_action_idx>' of the ground truth")
            pred = predictions[key]
            formats.check_sample(pred, f"predictions[{key!r}]", self.k, self.z)
            if len(gt["verb"]) != self.z:
                raise DataError(f"ground truth has {len(gt['verb'])} future actions, expected {self.z}", where=f"ground truth {key}")
            sums["verb"] += edit_distance_at_z(pred["verb"], gt["verb"])
            sums["noun"] += edit_distance_at_z(pred["noun"], gt["noun"])
            pairs = [list(zip(v, n)) for v, n in zip(pred["verb"], pred["noun"])]
            sums["action"] += edit_distance_at_z(pairs, list(zip(gt["verb"], gt["noun"])))
        return {f"ED@{self.z}/{h}": s / len(ground_truth) for h, s in sums.items()}

    def plot(self, predictions: dict[str, Any], ground_truth: dict[str, dict[str, list[int]]], path: str | Path, max_videos: int = 3) -> bool:
        from ..common.plots import plot_segment_timelines

        rows = []
        for key in list(ground_truth)[:max_videos]:
            if key not in predictions:
                continue
            gt = ground_truth[key]
            tracks = {"GT": [(i, i + 1, f"{v},{n}") for i, (v, n) in enumerate(zip(gt["verb"], gt["noun"]))]}
            p = predictions[key]
            tracks["candidate 1"] = [(i, i + 1, f"{v},{n}") for i, (v, n) in enumerate(zip(p["verb"][0], p["noun"][0]))]
            rows.append({"video_id": f"{key} (x: future action index)", "tracks": tracks, "duration": len(gt["verb"])})
        if not rows:
            return False
        plot_segment_timelines(rows, path, title="long-term anticipation: (verb, noun) ids")
        return True


__all__ = ["edit_distance_at_z", "LTAMetric"]

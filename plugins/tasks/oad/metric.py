"""Online action detection metrics (METRICS.md §2.7) and the per-frame score file.

Keys: `mAP` (LSTR's `perframe_average_precision`: per class, sklearn's
`average_precision_score` over its column of the multi-hot per-frame target, so a frame
where two actions overlap is a positive of both; mean over the classes with a positive
frame, background and ignored frames excluded)
and `{action,verb,noun}/mean_top5_recall` (EK100/MAT protocol: frames whose action
label is not background, RULSTM class-mean top-5 recall over the classes present;
scores ranked over all classes, background included). All x100. Ground truth without
verb/noun (THUMOS) gives NaN for those keys.

Predictions: per-frame score matrices, as the JSON file or the compact float16 folder
of `formats` (both read by `videollm evaluate oad`; runs write the compact form
unless `compact: false`). Frame `i` covers `[i/fps, (i+1)/fps)` seconds; column 0
is background. `verb`/`noun` may be left out: they are then marginalised from the
action softmax through `actions.csv` (EK100).

Memory: `OADMetric.evaluate` reads one video at a time into one `[frames, C]`
matrix stored by column (float16 for the compact form: 1.4 GB for EK100 validation), so
each class's AP reads one contiguous column; top-k recalls are counted per video.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from videollm_core.base import Metric
from videollm_core.errors import DataError

from ..common import ek100
from ..common.average_precision import multilabel_mean_ap
from ..common.topk import TopKRecallCounter
from .formats import IGNORED, OADGroundTruth, OADScores, ScoreWriter, ek100_ground_truth, lstr_ground_truth, open_scores

class OADMetric(Metric):
    """Per-frame mAP and EK100 mean top-5 recalls of online action detection.

    Args:
        fps: frame grid of ground truth built from a segment csv (EK100 OAD: 4).
        k: top-k of the recalls (5).
        data_info: LSTR `data_info.json` for a `target_perframe` ground truth.
        dataset_name: its key (default: the ground-truth folder's name, e.g. `THUMOS`).
        session_set: `test_session_set` or `train_session_set` to evaluate (LSTR layout).
        compact: runs write the float16 `.npz` folder (True) or the JSON file (False).
    """

    task: ClassVar[str] = "oad"
    keys: ClassVar[tuple[str, ...]] = ("mAP", "action/mean_top5_recall", "verb/mean_top5_recall", "noun/mean_top5_recall")
    primary_key: ClassVar[str] = "mAP"
    higher_is_better: ClassVar[bool] = True
    prediction_suffix: ClassVar[str] = ".json"

    def __init__(self, fps: float = 4.0, k: int = 5, data_info: str | None = None, dataset_name: str | None = None,
                 session_set: str = "test_session_set", compact: bool = True) -> None:
        super().__init__()
        self.fps, self.k = float(fps), int(k)
        self.data_info, self.dataset_name, self.session_set = data_info, dataset_name, session_set
        self.compact = bool(compact)
        self.prediction_suffix = "" if self.compact else ".json"  # "": the compact folder

    # -- files ----------------------------------------------------------------
    def load_ground_truth(self, path: str | Path) -> OADGroundTruth:
        """A RULSTM csv (EK100; `actions.csv` beside it) or an LSTR folder with `target_perframe/`."""
        path = Path(path)
        if path.is_dir():
            return lstr_ground_truth(path, self.data_info, self.dataset_name, self.session_set, self.fps)
        actions, names = ek100.read_actions(path.parent / "actions.csv")
        nv, nn_ = ek100.class_counts(ek100.find_official_dir(path), actions)
        return ek100_ground_truth(ek100.read_segments(path), actions, self.fps, nv, nn_, names=names)

    def load_predictions(self, path: str | Path) -> OADScores:
        """The JSON file or the compact folder (see `formats`), read lazily."""
        return open_scores(path)

    def open_writer(self, path: str | Path) -> ScoreWriter:
        """Writes head entries to `path` as they arrive (compact folder or JSON, see `formats`)."""
        return ScoreWriter(path, self.fps, self.compact)

    def format_predictions(self, entries: list[dict[str, Any]]) -> dict[str, Any]:
        """Stitch head entries `{video_id, first_step, fps, action [L, C], verb?, noun?}` per video."""
        videos: dict[str, list[dict[str, Any]]] = {}
        fps = self.fps
        for e in entries:
            videos.setdefault(str(e["video_id"]), []).append(e)
            fps = float(e.get("fps", fps))
        results = {}
        for vid, parts in videos.items():
            parts.sort(key=lambda e: int(e["first_step"]))
            out: dict[str, Any] = {}
            for key in ("action", "verb", "noun"):
                if all(p.get(key) is not None for p in parts):
                    total = max(int(p["first_step"]) + len(p[key]) for p in parts)
                    mat = np.zeros((total, np.asarray(parts[0][key]).shape[1]), dtype=np.float64)
                    for p in parts:
                        mat[int(p["first_step"]) : int(p["first_step"]) + len(p[key])] = np.asarray(p[key])
                    out[key] = mat.tolist()
            results[vid] = out
        return {"version": "1.0", "challenge": "online_action_detection", "fps": fps, "results": results}

    # -- evaluation -----------------------------------------------------------
    def _lengths(self, scores: OADScores, gt: OADGroundTruth) -> dict[str, int]:
        if not math.isnan(scores.fps) and not math.isclose(scores.fps, gt.fps, rel_tol=1e-6):
            raise DataError(f"predictions are at {scores.fps} frames/s, the ground truth at {gt.fps}", where="predictions.fps",
                            hint="evaluate on the same frame grid (EK100/THUMOS OAD: 4 fps)")
        lengths = {}
        for vid, lab in gt.labels.items():
            if vid not in scores:
                raise DataError(f"no scores for video {vid}", where="predictions.results", hint="predict every frame of every ground-truth video")
            t, n_gt = scores.num_steps(vid), len(lab["action"])
            if t < n_gt or (t > n_gt and not gt.extendable):
                raise DataError(f"{t} frames of scores, the ground truth has {n_gt}", where=f"predictions.results.{vid}")
            lengths[vid] = t
        return lengths

    @staticmethod
    def _video(scores: OADScores, vid: str, gt: OADGroundTruth) -> dict[str, np.ndarray]:
        """`scores[vid]` (finite `[T, C]` matrices, checked as read) with the ground truth's class counts."""
        arrays = scores[vid]
        for key, arr in arrays.items():
            n = gt.num_classes.get(key)
            if n is not None and arr.shape[1] != n:
                raise DataError(f"{key} scores must be [T, {n}] (background first), got {list(arr.shape)}",
                                where=f"{scores.path or 'predictions'}: results[{vid!r}].{key}",
                                hint="one column per class of the ground truth's class table")
        return arrays

    def evaluate(self, predictions: OADScores | dict[str, Any], ground_truth: OADGroundTruth) -> dict[str, float]:
        """Scores of every ground-truth video (an `OADScores` or the JSON object) -> the metric keys."""
        gt = ground_truth
        scores = predictions if isinstance(predictions, OADScores) else OADScores.from_json(predictions)
        lengths = self._lengths(scores, gt)
        total, n_cls = sum(lengths.values()), gt.num_classes["action"]
        matrix: np.ndarray | None = None  # [frames, C] in column order: one class = one contiguous column
        keep = np.zeros(total, dtype=bool)
        positives, counters, off = [], {key: TopKRecallCounter(self.k) for key in ("action", "verb", "noun")}, 0
        for vid, t in lengths.items():
            lab, arrays = gt.labels[vid], self._video(scores, vid, gt)
            act = arrays["action"]
            if matrix is None:
                matrix = np.zeros((total, n_cls), dtype=np.result_type(act.dtype, np.float16), order="F")
            matrix[off : off + t] = act
            full = {key: np.zeros(t, dtype=np.int64) for key in lab}
            for key in lab:
                full[key][: len(lab[key])] = lab[key]
            keep[off : off + t] = full["action"] != IGNORED
            fg = keep[off : off + t] & (full["action"] != 0)
            for key in full:
                if key == "action":
                    counters[key].update(act[fg], full[key][fg])
                else:
                    own = arrays.get(key)
                    counters[key].update((own[:t] if own is not None else self._marginal(act, gt, key))[fg], full[key][fg])
            pos = gt.video_positives(vid)
            positives.append(pos[pos[:, 0] < t] + np.array([off, 0]))
            off += t
        for vid in scores:  # the videos outside the ground truth: refused when malformed, else unused
            if vid not in lengths:
                self._video(scores, vid, gt)
        out = {"mAP": 100.0 * self._map(matrix, keep, np.concatenate(positives) if positives else np.zeros((0, 2), np.int64))}
        for key in ("action", "verb", "noun"):
            out[f"{key}/mean_top5_recall"] = 100.0 * counters[key].value()
        return out

    @staticmethod
    def _map(matrix: np.ndarray | None, keep: np.ndarray, positives: np.ndarray) -> float:
        """Per-frame mAP over the kept frames (the ignored ones removed first, as LSTR's THUMOS postprocessing)."""
        if matrix is None:
            return math.nan
        positives = positives[keep[positives[:, 0]]]
        if keep.all():
            return multilabel_mean_ap(lambda c: matrix[:, c], positives, len(keep))
        kept = np.flatnonzero(keep)
        remap = np.cumsum(keep) - 1
        return multilabel_mean_ap(lambda c: matrix[kept, c], np.stack([remap[positives[:, 0]], positives[:, 1]], axis=1), len(kept))

    @staticmethod
    def _marginal(action_scores: np.ndarray, gt: OADGroundTruth, key: str) -> np.ndarray:
        """Verb/noun scores as sums of action probabilities (background -> background)."""
        if gt.actions is None:
            raise DataError(f"predictions have no {key} scores and the ground truth has no action table", where="predictions")
        col = 0 if key == "verb" else 1
        action_scores = np.asarray(action_scores, dtype=np.float64)
        is_prob = (action_scores >= 0).all() and np.allclose(action_scores.sum(1), 1.0, atol=1e-2)  # float16 sums drift
        e = np.exp(action_scores - action_scores.max(1, keepdims=True))
        p = action_scores if is_prob else e / e.sum(1, keepdims=True)
        to_class = np.zeros((len(gt.actions), gt.num_classes[key]))
        to_class[np.arange(len(gt.actions)), gt.actions[:, col] + 1] = 1.0
        out = p[:, 1:] @ to_class
        out[:, 0] = p[:, 0]
        return out

    def plot(self, predictions: dict[str, Any], ground_truth: OADGroundTruth, path: str | Path, max_videos: int = 3) -> bool:
        from ..common.plots import plot_score_curves, runs_to_segments

        scores = predictions if isinstance(predictions, OADScores) else OADScores.from_json(predictions)
        videos = []
        names = ground_truth.class_names
        for vid, lab in list(ground_truth.labels.items())[:max_videos]:
            if vid not in scores:
                continue
            act = np.asarray(scores[vid]["action"], dtype=np.float32)
            n = min(len(act), len(lab["action"]))
            times = (np.arange(n) + 0.5) / ground_truth.fps
            gt = lab["action"][:n]
            name = lambda c: names[c] if c < len(names) else str(c)  # noqa: E731
            truth = [(s, e, name(int(c))) for s, e, c in runs_to_segments(gt.tolist(), times - 0.5 / ground_truth.fps, 1 / ground_truth.fps, skip=(0, IGNORED))]
            gt_score = act[np.arange(n), np.clip(gt, 0, act.shape[1] - 1)]
            videos.append({"video_id": vid, "times": times, "truth": truth,
                           "curves": {"score of the GT class": np.where(gt > 0, gt_score, np.nan), "background": act[:n, 0]}})
        if not videos:
            return False
        plot_score_curves(videos, path, title="online action detection (shaded: ground truth)")
        return True


def per_frame_map(scores: np.ndarray, labels: np.ndarray) -> float:
    """Mean over classes `c >= 1` with a positive frame of the AP of `scores[:, c]` for single-label
    frames `labels [N]` (fraction; the multi-hot form is `multilabel_mean_ap`)."""
    frames = np.flatnonzero(np.asarray(labels) >= 1)
    return multilabel_mean_ap(lambda c: scores[:, c], np.stack([frames, np.asarray(labels)[frames]], axis=1), len(labels))


__all__ = ["OADMetric", "per_frame_map"]

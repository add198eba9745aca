"""Online action detection metrics (METRICS.md §2.7) and the per-frame score file.

Keys: ``mAP`` (per-frame AP as sklearn's ``average_precision_score`` defines it, mean over the
classes with at least one positive frame, background and ignored frames excluded)
and ``{action,verb,noun}/mean_top5_recall`` (EK100/MAT protocol: frames whose action
label is not background, RULSTM class-mean top-5 recall over the classes present;
scores ranked over all classes, background included). All x100. Ground truth without
verb/noun (THUMOS) gives NaN for those keys.

Prediction file (there is no official OAD submission; this is LSTR's per-frame
score matrices as JSON)::

    {"version": "1.0", "challenge": "online_action_detection", "fps": 4.0,
     "results": {video_id: {"action": [[C scores] x T], "verb": [...], "noun": [...]}}}

Frame ``i`` of a video covers ``[i/fps, (i+1)/fps)`` seconds; row 0 of every class
axis is background. ``verb``/``noun`` may be left out: they are then marginalised
from the action softmax through ``actions.csv`` (EK100).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from videollm_core.base import Metric
from videollm_core.errors import DataError

from ..common.average_precision import average_precision
from ..common.jsonfile import read_json
from ..common import ek100
from ..common.topk import mean_topk_recall
from . import lstr


#: the layout of the prediction file, for error messages.
SUBMISSION_SHAPE = "{'version', 'challenge', 'fps', 'results': {video_id: {'action': [[...]]}}}"
#: frames with this label are dropped (THUMOS "Ambiguous").
IGNORED = -100


@dataclass
class OADGroundTruth:
    """Per-frame labels (0 = background, :data:`IGNORED` = drop) on an ``fps`` grid.

    ``labels[video]["action"]`` is ``[T]``; ``verb``/``noun`` are present for EK100.
    ``extendable``: predictions may run past ``T`` (frames after the last annotated
    segment are background; true when built from a segment csv).
    """

    fps: float
    labels: dict[str, dict[str, np.ndarray]]
    num_classes: dict[str, int]
    extendable: bool = False
    actions: np.ndarray | None = None  # [A, 2] (verb, noun) of action id a (= class a + 1)
    class_names: list[str] = field(default_factory=list)


def ek100_ground_truth(segments: list[ek100.EK100Segment], actions: np.ndarray, fps: float, num_verbs: int, num_nouns: int,
                       num_steps: dict[str, int] | None = None, names: list[str] | None = None) -> OADGroundTruth:
    """Per-frame EK100 labels from segments; lengths from ``num_steps`` or the last segment end."""
    by_video: dict[str, list[ek100.EK100Segment]] = {}
    for s in segments:
        by_video.setdefault(s.video_id, []).append(s)
    labels = {}
    for vid, segs in by_video.items():
        n = num_steps[vid] if num_steps else max(ek100.step_range(s, fps)[1] for s in segs) + 1
        labels[vid] = ek100.frame_labels(segs, n, fps)
    return OADGroundTruth(fps, labels, {"action": len(actions) + 1, "verb": num_verbs + 1, "noun": num_nouns + 1},
                          extendable=num_steps is None, actions=actions, class_names=["background"] + list(names or []))


class OADMetric(Metric):
    """Per-frame mAP and EK100 mean top-5 recalls of online action detection.

    Args:
        fps: frame grid of ground truth built from a segment csv (EK100 OAD: 4).
        k: top-k of the recalls (5).
        data_info: LSTR ``data_info.json`` for a ``target_perframe`` ground truth.
        dataset_name: its key (default: the ground-truth folder's name, e.g. ``THUMOS``).
        session_set: ``test_session_set`` or ``train_session_set`` to evaluate (LSTR layout).
    """

    task: ClassVar[str] = "oad"
    keys: ClassVar[tuple[str, ...]] = ("mAP", "action/mean_top5_recall", "verb/mean_top5_recall", "noun/mean_top5_recall")
    primary_key: ClassVar[str] = "mAP"
    higher_is_better: ClassVar[bool] = True
    prediction_suffix: ClassVar[str] = ".json"

    def __init__(self, fps: float = 4.0, k: int = 5, data_info: str | None = None, dataset_name: str | None = None,
                 session_set: str = "test_session_set") -> None:
        super().__init__()
        self.fps, self.k = float(fps), int(k)
        self.data_info, self.dataset_name, self.session_set = data_info, dataset_name, session_set

    # -- files ----------------------------------------------------------------
    def load_ground_truth(self, path: str | Path) -> OADGroundTruth:
        """A RULSTM csv (EK100; ``actions.csv`` beside it) or an LSTR folder with ``target_perframe/``."""
        path = Path(path)
        if path.is_dir():
            return lstr.load_ground_truth(path, self.data_info, self.dataset_name, self.session_set, self.fps)
        actions, names = ek100.read_actions(path.parent / "actions.csv")
        nv, nn_ = ek100.class_counts(ek100.find_official_dir(path), actions)
        return ek100_ground_truth(ek100.read_segments(path), actions, self.fps, nv, nn_, names=names)

    def load_predictions(self, path: str | Path) -> dict[str, Any]:
        return read_json(path, dict, SUBMISSION_SHAPE, "prediction file", require={"results": dict})

    def format_predictions(self, entries: list[dict[str, Any]]) -> dict[str, Any]:
        """Stitch head entries ``{video_id, first_step, fps, action [L, C], verb?, noun?}`` per video."""
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
    def _frames(self, predictions: dict[str, Any], gt: OADGroundTruth) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        results = predictions.get("results", {})
        fps = float(predictions.get("fps", gt.fps))
        if not math.isclose(fps, gt.fps, rel_tol=1e-6):
            raise DataError(f"predictions are at {fps} frames/s, the ground truth at {gt.fps}", where="predictions.fps",
                            hint="evaluate on the same frame grid (EK100/THUMOS OAD: 4 fps)")
        scores: dict[str, list[np.ndarray]] = {"action": [], "verb": [], "noun": []}
        labels: dict[str, list[np.ndarray]] = {"action": [], "verb": [], "noun": []}
        for vid, lab in gt.labels.items():
            if vid not in results or results[vid].get("action") is None:
                raise DataError(f"no scores for video {vid}", where="predictions.results", hint="predict every frame of every ground-truth video")
            act = np.asarray(results[vid]["action"], dtype=np.float64)
            n_gt = len(lab["action"])
            if act.ndim != 2 or act.shape[1] != gt.num_classes["action"]:
                raise DataError(f"action scores must be [T, {gt.num_classes['action']}] (background first), got {list(act.shape)}",
                                where=f"predictions.results.{vid}.action")
            if act.shape[0] < n_gt or (act.shape[0] > n_gt and not gt.extendable):
                raise DataError(f"{act.shape[0]} frames of scores, the ground truth has {n_gt}", where=f"predictions.results.{vid}")
            t = act.shape[0]
            for key in ("action", "verb", "noun"):
                if key not in lab:
                    continue
                full = np.zeros(t, dtype=np.int64)
                full[:n_gt] = lab[key]
                labels[key].append(full)
                if key == "action":
                    scores[key].append(act)
                elif results[vid].get(key) is not None:
                    scores[key].append(np.asarray(results[vid][key], dtype=np.float64)[:t])
                else:
                    scores[key].append(self._marginal(act, gt, key))
        cat = lambda xs: np.concatenate(xs) if xs else np.zeros(0)  # noqa: E731
        return {k: cat(v) for k, v in scores.items() if v}, {k: cat(v) for k, v in labels.items() if v}

    @staticmethod
    def _marginal(action_scores: np.ndarray, gt: OADGroundTruth, key: str) -> np.ndarray:
        """Verb/noun scores as sums of action probabilities (background -> background)."""
        if gt.actions is None:
            raise DataError(f"predictions have no {key} scores and the ground truth has no action table", where="predictions")
        col = 0 if key == "verb" else 1
        e = np.exp(action_scores - action_scores.max(1, keepdims=True))
        p = e / e.sum(1, keepdims=True) if not np.allclose(action_scores.sum(1), 1.0) else action_scores
        out = np.zeros((len(p), gt.num_classes[key]))
        out[:, 0] = p[:, 0]
        np.add.at(out.T, gt.actions[:, col] + 1, p[:, 1:].T)
        return out

    def evaluate(self, predictions: dict[str, Any], ground_truth: OADGroundTruth) -> dict[str, float]:
        scores, labels = self._frames(predictions, ground_truth)
        keep = labels["action"] != IGNORED
        out = {"mAP": 100.0 * per_frame_map(scores["action"][keep], labels["action"][keep])}
        fg = keep & (labels["action"] != 0)
        for key in ("action", "verb", "noun"):
            if key in labels and key in scores:
                out[f"{key}/mean_top5_recall"] = 100.0 * mean_topk_recall(scores[key][fg], labels[key][fg], self.k)
            else:
                out[f"{key}/mean_top5_recall"] = math.nan
        return out

    def plot(self, predictions: dict[str, Any], ground_truth: OADGroundTruth, path: str | Path, max_videos: int = 3) -> bool:
        from ..common.plots import plot_score_curves, runs_to_segments

        results = predictions.get("results", {})
        videos = []
        names = ground_truth.class_names
        for vid, lab in list(ground_truth.labels.items())[:max_videos]:
            if vid not in results:
                continue
            act = np.asarray(results[vid]["action"])
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
    """Mean over classes ``c >= 1`` with a positive frame of the AP of ``scores[:, c]`` (fraction;
    sklearn's ``average_precision_score`` definition, see :mod:`..common.average_precision`)."""
    aps = [average_precision(labels == c, scores[:, c]) for c in range(1, scores.shape[1]) if (labels == c).any()]
    return float(np.mean(aps)) if aps else math.nan


__all__ = ["IGNORED", "OADGroundTruth", "ek100_ground_truth", "OADMetric", "per_frame_map"]

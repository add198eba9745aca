"""``action_segmentation`` metric: MS-TCN's Acc, Edit, F1@{10,25,50} on frame labels.

Ground truth: the MS-TCN ``groundTruth/`` folder (every ``*.txt``) or a split bundle
(``splits/test.split1.bundle``, names resolved in ``../groundTruth/``).
Predictions: MS-TCN's result folder (one file per video, see :mod:`.layout`).
In memory both are ``{video_id: [label per frame]}`` at the ground truth's frame rate.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Sequence

from videollm_core.base import Metric
from videollm_core.errors import DataError

from ..common.features import check_video_id
from . import layout
from .mstcn import DEFAULT_BG_CLASS, segmentation_scores


class ActionSegmentationMetric(Metric):
    """MS-TCN ``eval.py`` scores (METRICS.md §2.9), in percent.

    Args:
        bg_class: labels whose segments Edit/F1 ignore. Default MS-TCN's
            ``["background"]``, so Breakfast's ``SIL`` is counted.
        class_names: id -> name, to turn head entries (class ids) into labels
            (supplied by the dataset's ``metric_args``).
        fps: frame rate of the labels, for plots in seconds (Breakfast: 15).
    """

    task: ClassVar[str] = "action_segmentation"
    keys: ClassVar[tuple[str, ...]] = ("Acc", "Edit", "F1@10", "F1@25", "F1@50")
    primary_key: ClassVar[str] = "F1@50"
    higher_is_better: ClassVar[bool] = True
    #: predictions are a folder of MS-TCN result files, not one file: no suffix, so the
    #: runner's ``predictions/TASK_SPLIT`` names that folder.
    prediction_suffix: ClassVar[str] = ""

    def __init__(self, bg_class: Sequence[str] | None = None, class_names: Sequence[str] | None = None, fps: float = 15.0):
        super().__init__()
        self.bg_class = tuple(bg_class) if bg_class is not None else DEFAULT_BG_CLASS
        self.class_names = list(class_names) if class_names is not None else None
        self.fps = float(fps)

    # -- official files -------------------------------------------------
    def load_ground_truth(self, path: str | Path) -> dict[str, list[str]]:
        """``groundTruth/`` folder or a ``.bundle`` file -> ``{video_id: frame labels}``."""
        path = Path(path)
        if path.is_dir():
            files = sorted(p for p in path.iterdir() if p.suffix == ".txt")
            if not files:
                raise DataError("no ground-truth .txt files in the folder", where=str(path), hint="give MS-TCN's groundTruth/ folder or a split bundle")
        elif path.suffix == ".bundle":
            gt_dir = path.parent.parent / "groundTruth"
            files = [gt_dir / check_video_id(name, f"{path}") for name in layout.read_bundle(path)]
        else:
            raise DataError(
                "expected MS-TCN's groundTruth/ folder or a split bundle (.bundle)",
                where=str(path),
                hint="e.g. data/breakfast/groundTruth or data/breakfast/splits/test.split1.bundle",
            )
        return {layout.video_id_of(p.name): layout.read_frame_labels(p) for p in files}

    def load_predictions(self, path: str | Path) -> dict[str, list[str]]:
        """MS-TCN result folder -> ``{video_id: frame labels}``."""
        path = Path(path)
        if not path.is_dir():
            raise DataError("expected a folder of MS-TCN result files", where=str(path), hint="one file per video: header line, then the frame labels")
        return {
            layout.video_id_of(p.name): layout.read_recognition(p)
            for p in sorted(path.iterdir())
            if p.is_file() and not p.name.startswith(".")
        }

    def save_predictions(self, predictions: dict[str, list[str]], path: str | Path) -> None:
        """Write MS-TCN result files ``path/<video_id>`` (``path`` becomes a folder)."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        for vid, labels in predictions.items():
            layout.write_recognition([str(x) for x in labels], path / check_video_id(vid, str(path)))

    def format_predictions(self, entries: list[dict[str, Any]]) -> dict[str, list[str]]:
        """Head entries ``{"video_id", "frame_labels": [class id per frame]}`` -> label names per video."""
        out: dict[str, list[str]] = {}
        for e in entries:
            ids = [int(i) for i in e["frame_labels"]]
            out[str(e["video_id"])] = [self.class_names[i] for i in ids] if self.class_names else [str(i) for i in ids]
        return out

    # -- evaluation -------------------------------------------------------
    def evaluate(self, predictions: dict[str, Sequence[str]], ground_truth: dict[str, Sequence[str]]) -> dict[str, float]:
        """Scores over every ground-truth video; each needs a prediction at least as long."""
        if not ground_truth:
            raise DataError("the ground truth holds no video", where="ground truth", hint="check the groundTruth folder or bundle")
        missing = [v for v in ground_truth if v not in predictions]
        if missing:
            raise DataError(
                f"{len(missing)} ground-truth video(s) have no prediction, e.g. {missing[:3]}",
                where="predictions",
                hint="predict every video of the split (MS-TCN's eval.py reads one result file per ground-truth file)",
            )
        short = [v for v, gt in ground_truth.items() if len(predictions[v]) < len(gt)]
        if short:
            v = short[0]
            raise DataError(
                f"prediction of {v!r} has {len(predictions[v])} frames, ground truth {len(ground_truth[v])}",
                where=f"predictions/{v}",
                hint="predict one label per ground-truth frame (bring unit predictions back to frames)",
            )
        return segmentation_scores(predictions, ground_truth, self.bg_class)

    def plot(self, predictions: Any, ground_truth: Any, path: str | Path, max_videos: int = 3) -> bool:
        """Timelines (seconds = frame / ``fps``) of ground truth and prediction for the first ``max_videos`` videos."""
        from ..common.plots import plot_segment_timelines, runs_to_segments

        vids = [v for v in ground_truth if v in predictions][:max_videos]
        if not vids:
            return False
        step = 1.0 / self.fps
        videos = []
        for vid in vids:
            gt = list(ground_truth[vid])
            times = [i * step for i in range(len(gt))]
            pred = list(predictions[vid])[: len(gt)]
            videos.append({"video_id": vid, "duration": len(gt) * step,
                           "tracks": {"GT": runs_to_segments(gt, times, step), "pred": runs_to_segments(pred, times, step)}})
        plot_segment_timelines(videos, path, title="action segmentation: ground truth vs prediction")
        return True

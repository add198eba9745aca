"""`action_segmentation` metric: MS-TCN's Acc, Edit, F1@{10,25,50} on frame labels.

Ground truth: the MS-TCN `groundTruth/` folder (every `*.txt`) or a split bundle
(`splits/test.split1.bundle`, names resolved in `../groundTruth/`).
Predictions: MS-TCN's result folder (one file per video, see `formats`).
In memory both are `{video_id: [label per frame]}` at the ground truth's frame rate.

The scores are those of MS-TCN's `eval.py` (`yabufarha/ms-tcn` @ `33ed91c`), on
frame-wise label sequences (strings or ints) of one video, both at the ground truth's
frame rate (15 fps for Breakfast). Conventions (METRICS.md §2.9):

* segments are runs of equal labels; runs whose label is in `bg_class` are dropped.
  As in the reference's `get_labels_start_end_time`, a segment ends at the index of
  the next run's first frame, except the video's last segment, which ends at `F - 1`
  (the loop variable), not `F`: kept on purpose so the numbers match MS-TCN's;
  MS-TCN's default `bg_class = ("background",)` never occurs in Breakfast, so `SIL`
  segments **are** counted (the convention behind published Breakfast numbers);
* Acc is micro (frames pooled over videos), Edit is macro (mean over videos);
* F1@tau matches each predicted segment, in temporal order, to its best-IoU ground-truth
  segment (IoU 0 across labels, first on ties); a TP needs IoU **>=** tau and that ground
  truth not hit yet, with no fallback to the second best. TP/FP/FN are summed over videos.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Hashable, Sequence

import editdistance
import numpy as np

from videollm_core.base import Metric
from videollm_core.errors import DataError

from ..common import entries
from ..common.features import check_video_id
from . import formats

#: MS-TCN's default background classes (never present in Breakfast: SIL is counted).
DEFAULT_BG_CLASS: tuple[str, ...] = ("background",)
#: the F1 overlaps MS-TCN reports.
OVERLAPS: tuple[float, ...] = (0.10, 0.25, 0.50)


@dataclass(frozen=True)
class Segment:
    """A run of one label over frames `[start, end)` (frame indices; see the last-segment quirk above)."""

    label: Hashable
    start: int
    end: int


def get_segments(frame_labels: Sequence[Hashable], bg_class: Sequence[Hashable] = DEFAULT_BG_CLASS) -> list[Segment]:
    """Run-length encode `frame_labels` `[F]` into segments, dropping `bg_class` runs."""
    segments: list[Segment] = []
    n = len(frame_labels)
    start = 0
    for i in range(1, n + 1):
        if i == n or frame_labels[i] != frame_labels[start]:
            if frame_labels[start] not in bg_class:
                segments.append(Segment(frame_labels[start], start, i if i < n else n - 1))
            start = i
    return segments


def edit_score(pred: Sequence[Hashable], gt: Sequence[Hashable], bg_class: Sequence[Hashable] = DEFAULT_BG_CLASS) -> float:
    """Segmental edit score of one video in percent: `(1 - Lev(P, Y) / max(|P|, |Y|)) * 100`.

    Both segment sequences empty (0/0, NaN in the reference) is defined as 100: nothing
    to segment and nothing segmented.
    """
    p = [s.label for s in get_segments(pred, bg_class)]
    y = [s.label for s in get_segments(gt, bg_class)]
    if not p and not y:
        return 100.0
    return (1.0 - editdistance.eval(p, y) / max(len(p), len(y))) * 100.0


def f1_counts(
    pred: Sequence[Hashable], gt: Sequence[Hashable], overlap: float, bg_class: Sequence[Hashable] = DEFAULT_BG_CLASS
) -> tuple[int, int, int]:
    """`(tp, fp, fn)` of one video at IoU threshold `overlap` (a fraction, e.g. 0.5)."""
    p_segs = get_segments(pred, bg_class)
    y_segs = get_segments(gt, bg_class)
    if not y_segs:
        return 0, len(p_segs), 0
    y_start = np.array([s.start for s in y_segs], dtype=np.float64)
    y_end = np.array([s.end for s in y_segs], dtype=np.float64)
    y_label = [s.label for s in y_segs]
    hits = np.zeros(len(y_segs), dtype=bool)
    tp = fp = 0
    for seg in p_segs:
        inter = np.minimum(seg.end, y_end) - np.maximum(seg.start, y_start)
        union = np.maximum(seg.end, y_end) - np.minimum(seg.start, y_start)
        same = np.array([lab == seg.label for lab in y_label], dtype=np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):  # 0/0 for a 1-frame last segment, as in the reference
            iou = inter / union * same
        idx = int(np.argmax(iou))  # first on ties (and first NaN), as numpy's argmax in the reference
        if iou[idx] >= overlap and not hits[idx]:
            tp += 1
            hits[idx] = True
        else:
            fp += 1
    return tp, fp, int(len(y_segs) - hits.sum())


def f1_from_counts(tp: int, fp: int, fn: int) -> float:
    """F1 in percent from summed counts; 0 where precision + recall is 0 or undefined."""
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    if precision + recall == 0:
        return 0.0
    return 2.0 * precision * recall / (precision + recall) * 100.0


def segmentation_scores(
    predictions: dict[str, Sequence[Hashable]],
    ground_truth: dict[str, Sequence[Hashable]],
    bg_class: Sequence[Hashable] = DEFAULT_BG_CLASS,
) -> dict[str, float]:
    """MS-TCN scores over every ground-truth video -> `{Acc, Edit, F1@10, F1@25, F1@50}` (percent).

    `predictions[v]` must hold at least `len(ground_truth[v])` frame labels (the
    reference loops over the ground truth's length; extra predicted frames are ignored).
    """
    correct = total = 0
    edits: list[float] = []
    counts = np.zeros((len(OVERLAPS), 3), dtype=np.int64)
    for vid, gt in ground_truth.items():
        pred = list(predictions[vid][: len(gt)])
        gt = list(gt)
        correct += sum(1 for a, b in zip(pred, gt) if a == b)
        total += len(gt)
        edits.append(edit_score(pred, gt, bg_class))
        for k, overlap in enumerate(OVERLAPS):
            counts[k] += f1_counts(pred, gt, overlap, bg_class)
    out = {
        "Acc": correct / total * 100.0 if total else 0.0,
        "Edit": float(np.mean(edits)) if edits else 0.0,
    }
    for k, overlap in enumerate(OVERLAPS):
        out[f"F1@{int(round(overlap * 100))}"] = f1_from_counts(*(int(c) for c in counts[k]))
    return out



class ActionSegmentationMetric(Metric):
    """MS-TCN `eval.py` scores (METRICS.md §2.9), in percent.

    Args:
        bg_class: labels whose segments Edit/F1 ignore. Default MS-TCN's
            `["background"]`, so Breakfast's `SIL` is counted.
        class_names: id -> name, to turn head entries (class ids) into labels
            (supplied by the dataset's `metric_args`).
        fps: frame rate of the labels, for plots in seconds (Breakfast: 15).
    """

    task: ClassVar[str] = "action_segmentation"
    keys: ClassVar[tuple[str, ...]] = ("Acc", "Edit", "F1@10", "F1@25", "F1@50")
    primary_key: ClassVar[str] = "F1@50"
    higher_is_better: ClassVar[bool] = True
    #: predictions are a folder of MS-TCN result files, not one file: no suffix, so the
    #: runner's `predictions/TASK_SPLIT` names that folder.
    prediction_suffix: ClassVar[str] = ""

    def __init__(self, bg_class: Sequence[str] | None = None, class_names: Sequence[str] | None = None, fps: float = 15.0):
        super().__init__()
        self.bg_class = tuple(bg_class) if bg_class is not None else DEFAULT_BG_CLASS
        self.class_names = list(class_names) if class_names is not None else None
        self.fps = float(fps)

    # -- official files -------------------------------------------------
    def load_ground_truth(self, path: str | Path) -> dict[str, list[str]]:
        """`groundTruth/` folder or a `.bundle` file -> `{video_id: frame labels}`."""
        path = Path(path)
        if path.is_dir():
            files = sorted(p for p in path.iterdir() if p.suffix == ".txt")
            if not files:
                raise DataError("no ground-truth .txt files in the folder", where=str(path), hint="give MS-TCN's groundTruth/ folder or a split bundle")
        elif path.suffix == ".bundle":
            gt_dir = path.parent.parent / "groundTruth"
            files = [gt_dir / check_video_id(name, f"{path}") for name in formats.read_bundle(path)]
        else:
            raise DataError(
                "expected MS-TCN's groundTruth/ folder or a split bundle (.bundle)",
                where=str(path),
                hint="e.g. data/breakfast/groundTruth or data/breakfast/splits/test.split1.bundle",
            )
        return {formats.video_id_of(p.name): formats.read_frame_labels(p) for p in files}

    def load_predictions(self, path: str | Path) -> dict[str, list[str]]:
        """MS-TCN result folder -> `{video_id: frame labels}`, every file read and checked.

        Two files naming one video (`vid` and `vid.txt`: MS-TCN's `name.split('.')[0]`)
        are refused. With `class_names` (the dataset's `mapping.txt`) a label outside it
        is refused; without a class table a label is compared as a string, as MS-TCN's
        `eval.py` does, so an unknown one is a wrong frame.
        """
        path = Path(path)
        if not path.is_dir():
            raise DataError("expected a folder of MS-TCN result files", where=str(path), hint="one file per video: header line, then the frame labels")
        out: dict[str, list[str]] = {}
        seen: dict[str, str] = {}
        table = set(self.class_names) if self.class_names is not None else None
        for p in sorted(path.iterdir()):
            if not p.is_file() or p.name.startswith("."):
                continue
            vid = formats.video_id_of(p.name)
            entries.once(vid, seen, str(p), "video", "one result file per video, named <video> as MS-TCN writes it")
            out[vid] = formats.read_recognition(p)
            if table is not None:
                bad = next((k for k, lab in enumerate(out[vid]) if lab not in table), None)
                if bad is not None:
                    entries.known(out[vid][bad], table, f"{p}: line 2, frame {bad}", "label",
                                  hint=f"use the class names of mapping.txt, e.g. {self.class_names[:3]}")
        return out

    def save_predictions(self, predictions: dict[str, list[str]], path: str | Path) -> None:
        """Write MS-TCN result files `path/<video_id>` (`path` becomes a folder)."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        for vid, labels in predictions.items():
            formats.write_recognition([str(x) for x in labels], path / check_video_id(vid, str(path)))

    def format_predictions(self, entries: list[dict[str, Any]]) -> dict[str, list[str]]:
        """Head entries `{"video_id", "frame_labels": [class id per frame]}` -> label names per video."""
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
        """Timelines (seconds = frame / `fps`) of ground truth and prediction for the first `max_videos` videos."""
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


__all__ = ["DEFAULT_BG_CLASS", "OVERLAPS", "Segment", "get_segments", "edit_score", "f1_counts", "f1_from_counts",
           "segmentation_scores", "ActionSegmentationMetric"]

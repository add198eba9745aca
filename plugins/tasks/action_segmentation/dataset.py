"""`BreakfastDataset`: Breakfast Actions in the MS-TCN layout (see `formats`).

One sample per video of a split bundle: features `[T, Df]` (feature step `i` covers
frames `[i*stride, (i+1)*stride)` at `fps`), timestamps `[T, 2]` seconds and
`targets["labels"]` `[T]` class ids (the label of each step's first frame, as
MS-TCN's `classes[::sample_rate]`). The metric evaluates the full frame-wise ground
truth; the head brings its per-unit classes back to frames (`meta["num_frames"]`).
"""
from __future__ import annotations

import logging
from functools import partial
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from videollm_core.base import VideoDataset
from videollm_core.errors import ConfigError, DataError

from ..common.features import check_video_id
from ..common.source_args import SourceArgs, with_source_args
from . import demo as demo_data
from . import formats

log = logging.getLogger("videollm")


class BreakfastDataset(VideoDataset):
    """Breakfast (or any MS-TCN-layout dataset) for temporal action segmentation.

    Args:
        data_root: folder with `mapping.txt`, `splits/`, `groundTruth/`, `features/`
            (default: the demo data when `demo` is given).
        split: `"train"` or `"test"`; with `split_index` picks
            `splits/<split>.split<split_index>.bundle`.
        split_index: MS-TCN split number (1-4 for Breakfast).
        bundle, ground_truth_dir, mapping: override the paths under `data_root`
            (`features_dir` defaults to `<data_root>/features`).
        fps: frame rate of the ground truth (Breakfast: 15).
        feature_stride: frames per feature step (1 when features are per frame).
        channels_first: feature files are `[Df, F]` (MS-TCN) rather than `[T, Df]`.
        max_length_mismatch: allowed difference, in feature steps, between the features
            and the ground truth (MS-TCN trains on the shorter of the two).
        features_dir, features, videos_dir, check_values, feature_dim, on_error, demo: the shared
            data-source arguments ([`SourceArgs`][videollm_plugins.tasks.common.source_args.SourceArgs]).
    """

    task: ClassVar[str] = "action_segmentation"
    provides_head_args: ClassVar[tuple[str, ...]] = ("num_classes",)

    @with_source_args(after="mapping")
    def __init__(
        self,
        data_root: str | None = None,
        split: str = "train",
        split_index: int = 1,
        bundle: str | None = None,
        ground_truth_dir: str | None = None,
        mapping: str | None = None,
        fps: float = 15.0,
        feature_stride: int = 1,
        channels_first: bool = True,
        max_length_mismatch: int = 2,
        *,
        source: SourceArgs,
    ) -> None:
        self.errors = source.data_errors("BreakfastDataset")
        if fps <= 0 or int(feature_stride) < 1:
            raise ConfigError(f"need fps > 0 and feature_stride >= 1, got fps={fps}, feature_stride={feature_stride}", where="BreakfastDataset")
        if source.demo is not None:
            from videollm_plugins.demo import ensure_demo_data

            params = demo_data.demo_params(source.demo, source.feature_dim)
            data_root = str(ensure_demo_data(self.task, partial(demo_data.generate, params=params), params))
            fps = float(params["fps"])
        no_features = all(v is None for v in (source.features_dir, source.features, source.videos_dir))
        if data_root is None and (None in (bundle, ground_truth_dir, mapping) or no_features):
            raise ConfigError(
                "BreakfastDataset needs data_root (or bundle, ground_truth_dir, mapping and features_dir)",
                where="BreakfastDataset",
                hint="point data_root at MS-TCN's data/breakfast, or set demo: {num_videos: 24} for demo data",
            )
        root = Path(data_root) if data_root is not None else None
        self.bundle = Path(bundle) if bundle else root / "splits" / f"{split}.split{split_index}.bundle"
        self.gt_dir = Path(ground_truth_dir) if ground_truth_dir else root / "groundTruth"
        if root is not None:
            source = source.with_default_features(root / "features")
        self.mapping_path = Path(mapping) if mapping else root / "mapping.txt"
        self._class_names = formats.read_mapping(self.mapping_path)
        #: frames per second of the ground truth, frames between feature steps; `fps` (the
        #: kernel's `VideoDataset.fps`) is feature steps per second.
        self.frame_rate, self.stride = float(fps), int(feature_stride)
        self.fps = self.frame_rate / self.stride
        self.channels_first, self.check_values = bool(channels_first), bool(source.check_values)
        self.max_length_mismatch = int(max_length_mismatch)
        self.feature_dim, self.split = source.feature_dim, split
        self.features = source.store(fps=self.fps, where="BreakfastDataset", channels_first=self.channels_first)
        self.videos: list[dict[str, Any]] = []
        class_id = {n: i for i, n in enumerate(self._class_names)}
        for row, name in enumerate(formats.read_bundle(self.bundle), start=1):
            try:
                self.videos.append(self._load_video(name, f"{self.bundle}:{row}", class_id))
            except DataError as e:
                self.errors.handle(e)
        if self.skipped:
            log.warning("BreakfastDataset(%s): skipped %d video(s), first: %s", split, len(self.skipped), self.skipped[0])
        if not self.videos:
            raise DataError("no usable video in the split", where=str(self.bundle), hint="check the bundle, groundTruth/ and features/")

    def _load_video(self, name: str, where: str, class_id: dict[str, int]) -> dict[str, Any]:
        vid = check_video_id(formats.video_id_of(name), where)
        gt_path = self.gt_dir / name
        labels = formats.read_frame_labels(gt_path)
        if not labels:
            raise DataError("empty ground-truth file", where=str(gt_path))
        for line, lab in enumerate(labels, start=1):
            if lab not in class_id:
                raise DataError(f"unknown class {lab!r}", where=f"{gt_path}:{line}", hint="every label must be in mapping.txt")
        feats = self.features(vid)
        expected = -(-len(labels) // self.stride)  # ceil(F / stride) steps
        if abs(feats.shape[0] - expected) > self.max_length_mismatch:
            raise DataError(
                f"{feats.shape[0]} feature steps but {len(labels)} ground-truth frames (expected {expected} steps at stride {self.stride})",
                where=f"{self.features.where}[{vid!r}]",
                hint="check feature_stride / channels_first, or raise max_length_mismatch",
            )
        ids = np.array([class_id[x] for x in labels], dtype=np.int64)
        return {"video_id": vid, "features": feats, "frame_labels": labels, "frame_ids": ids}

    def __len__(self) -> int:
        return len(self.videos)

    def __getitem__(self, index: int) -> dict[str, Any]:
        v = self.videos[index]
        num_frames = len(v["frame_ids"])
        t = min(v["features"].shape[0], -(-num_frames // self.stride))  # MS-TCN: the shorter of features and labels
        starts = np.arange(t, dtype=np.float32) * self.stride
        timestamps = np.stack([starts, np.minimum(starts + self.stride, num_frames)], axis=1) / self.frame_rate
        return {
            "features": np.array(v["features"][:t], dtype=np.float32),
            "timestamps": timestamps.astype(np.float32),
            "query": None,
            "targets": {"labels": v["frame_ids"][:: self.stride][:t]},
            "meta": {
                "video_id": v["video_id"],
                "fps": self.frame_rate,
                "num_frames": num_frames,
                "duration": num_frames / self.frame_rate,
            },
        }

    def ground_truth(self) -> dict[str, list[str]]:
        """`{video_id: frame labels}` of the loaded videos (the metric's ground-truth object)."""
        return {v["video_id"]: list(v["frame_labels"]) for v in self.videos}

    def class_names(self) -> list[str]:
        """The segment labels of `mapping.txt` in id order (head output `i` is label `i`)."""
        return list(self._class_names)

    def class_table_file(self) -> str:
        return str(self.mapping_path)

    def head_args(self) -> dict[str, Any]:
        return {"num_classes": len(self._class_names)}

    def reading(self) -> dict[str, Any]:
        """MS-TCN files are `[Df, T]` (`channels_first`); a step covers `feature_stride` frames
        at `fps` frames/s, and the head answers per frame."""
        return {**super().reading(), "channels_first": self.channels_first, "frames_per_step": self.stride, "frame_rate": self.frame_rate}

    def metric_args(self) -> dict[str, Any]:
        return {"class_names": list(self._class_names), "fps": self.frame_rate}

"""Online action detection datasets: EK100 (RULSTM csv) and THUMOS (LSTR per-frame targets).

A sample is a window of `window` seconds of one video (non-overlapping windows
cover the whole video; `window: null` = the whole video): features `[L, Df]`,
timestamps `[L, 2]` seconds and per-step targets `action [L]` (0 = background,
-100 = ignored frame), plus `verb [L]` / `noun [L]` for EK100. Feature step `i`
covers `[i/fps, (i+1)/fps)`; the evaluation grid is the feature grid (4 fps for
the EK100 and THUMOS OAD protocols).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from videollm_core.base import VideoDataset
from videollm_core.errors import ConfigError, DataError

from ..common.ek100 import frame_labels
from ..common.ek100_source import EK100Source
from ..common.features import step_timestamps
from ..common.source_args import SourceArgs, with_source_args
from . import demo as demo_data
from . import formats
from .formats import OADGroundTruth, ek100_ground_truth


class _WindowedOAD(VideoDataset):
    """Cuts each video into windows; subclasses fill `self._videos` = `{video: (features, labels)}`."""

    task: ClassVar[str] = "oad"
    fps: float
    window: float | None
    _videos: dict[str, tuple[np.ndarray, dict[str, np.ndarray]]]

    def _index(self) -> None:
        if self.window is not None and self.window <= 0:
            raise ConfigError(f"window must be > 0 seconds or null, got {self.window}", where=f"{type(self).__name__}.window")
        self._items: list[tuple[str, int, int]] = []
        for vid, (feats, _) in self._videos.items():
            size = feats.shape[0] if self.window is None else max(1, int(round(self.window * self.fps)))
            for first in range(0, feats.shape[0], size):
                self._items.append((vid, first, min(first + size, feats.shape[0])))

    def __len__(self) -> int:
        return len(self._items)

    def __getitem__(self, index: int) -> dict[str, Any]:
        vid, first, last = self._items[index]
        feats, labels = self._videos[vid]
        return {
            "features": np.array(feats[first:last], dtype=np.float32),
            "timestamps": step_timestamps(first, last, self.fps),
            "query": None,
            "targets": {k: v[first:last].copy() for k, v in labels.items()},
            "meta": {"video_id": vid, "fps": self.fps, "first_step": first, "num_steps": int(feats.shape[0])},
        }


class EK100OADDataset(_WindowedOAD):
    """EPIC-KITCHENS-100 online action detection from the RULSTM files.

    The arguments `annotations`, `actions`, `splits_dir`, `split` and `fps` are those of
    `EK100Source` (`fps` = feature steps per second = evaluation grid; 4 in the protocol).

    Args:
        window: seconds per sample (`null`: whole videos).
        features_dir, features, videos_dir, feature_dim, on_error, demo: the shared data-source
            arguments ([`SourceArgs`][videollm_plugins.tasks.common.source_args.SourceArgs]), handed to `EK100Source`.
    """

    provides_head_args: ClassVar[tuple[str, ...]] = ("num_classes", "num_verbs", "num_nouns")
    annotations_arg: ClassVar[str | None] = "annotations"

    @with_source_args(after="actions", omit=("check_values",))
    def __init__(self, annotations: str | None = None, actions: str | None = None, splits_dir: str | None = None,
                 split: str = "validation", fps: float = 4.0, window: float | None = 16.0, *, source: SourceArgs) -> None:
        self.source = src = EK100Source(annotations, actions, splits_dir, split, fps, source, where="EK100OADDataset",
                                        demo_tree=demo_data.ek100_tree)
        self.fps, self.window, self.errors = src.fps, window, src.errors
        self._videos = {}
        for vid in src.videos():
            feats = src.features(vid)
            labels = frame_labels([s for s in src.segments if s.video_id == vid], feats.shape[0], self.fps)
            self._videos[vid] = (feats, labels)
        self._index()

    def ground_truth(self) -> OADGroundTruth:
        src = self.source
        return ek100_ground_truth(src.segments, src.actions, self.fps, src.num_verbs, src.num_nouns,
                                  num_steps={v: f.shape[0] for v, (f, _) in self._videos.items()}, names=src.action_names)

    def class_names(self) -> list[str] | None:
        """EK100 action names in action-id order (`actions.csv`; head class `a + 1` is action `a`)."""
        return self.source.class_names()

    def class_table_file(self) -> str:
        return self.source.class_table_file()

    def head_args(self) -> dict[str, Any]:
        return {"num_classes": self.source.num_actions + 1, "num_verbs": self.source.num_verbs + 1, "num_nouns": self.source.num_nouns + 1}

    def settings(self) -> dict[str, Any]:
        """Step rate and window, for `videollm predict --annotations` (the videos of a RULSTM csv)."""
        return {"fps": self.fps, "window": self.window}

    def metric_args(self) -> dict[str, Any]:
        return {"fps": self.fps}


class ThumosOADDataset(_WindowedOAD):
    """THUMOS'14 (or TVSeries, EK55...) online action detection in the LSTR layout (see `formats`).

    Args:
        data_root: the dataset folder (`data/THUMOS`); default with `demo`: the demo tree.
        data_info: LSTR `data_info.json` (default: in `data_root` or its parent).
        dataset_name: its key (default: `data_root`'s folder name).
        split: `train` or `test` (`<split>_session_set`).
        window: as for `EK100OADDataset`.
        features_dir, features, videos_dir, feature_dim, on_error, demo: the shared data-source
            arguments ([`SourceArgs`][videollm_plugins.tasks.common.source_args.SourceArgs]);
            `features_dir` defaults to `<data_root>/rgb_kinetics_resnet50`.
    """

    provides_head_args: ClassVar[tuple[str, ...]] = ("num_classes",)

    @with_source_args(after="data_root", omit=("check_values",))
    def __init__(self, data_root: str | None = None, data_info: str | None = None, dataset_name: str | None = None,
                 split: str = "test", window: float | None = 16.0, *, source: SourceArgs) -> None:
        self.errors = source.data_errors("ThumosOADDataset")
        if split not in ("train", "test"):
            raise ConfigError(f"split must be 'train' or 'test', got {split!r}", where="ThumosOADDataset.split")
        if source.demo is not None:
            data_root = data_root or str(demo_data.thumos_tree(source.demo, source.feature_dim))
        if data_root is None:
            raise ConfigError("data_root is required without demo", where="ThumosOADDataset.data_root", hint="e.g. data/THUMOS")
        root = Path(data_root)
        self.info_path = formats.find_data_info(root, data_info)
        self.dataset_name = dataset_name or root.name
        entry = formats.read_data_info(self.info_path, self.dataset_name)
        self.root, self.fps, self.window = root, float(entry["fps"]), window
        self._class_names = [str(n) for n in entry["class_names"]]
        self.num_classes, self.ignore_index = int(entry["num_classes"]), int(entry["ignore_index"])
        source = source.with_default_features(root / "rgb_kinetics_resnet50")
        self._videos = {}
        self._positives: dict[str, np.ndarray] = {}  # the multi-hot targets, for the per-frame mAP
        store = source.store(fps=self.fps, where="ThumosOADDataset")
        for vid in entry.get(f"{split}_session_set", []):
            try:
                feats = store(vid)  # checks the id first
                target = formats.load_target(root / "target_perframe" / f"{vid}.npy", self.num_classes)
                if abs(feats.shape[0] - target.shape[0]) > 1:
                    raise DataError(f"{feats.shape[0]} feature steps but {target.shape[0]} target frames",
                                    where=f"{store.where}[{vid!r}]", hint="features and targets must share the 4 fps grid")
            except DataError as e:
                self.errors.handle(e)
                continue
            n = min(feats.shape[0], target.shape[0])
            ignore = self.ignore_index if self.ignore_index > 0 else None
            self._videos[vid] = (feats[:n], {"action": formats.frame_labels(target[:n], ignore)})
            self._positives[vid] = formats.positives(target[:n], ignore)
        if not self._videos:
            raise DataError(f"no usable video in {split}_session_set", where=str(self.info_path))
        self._index()

    def ground_truth(self) -> OADGroundTruth:
        return OADGroundTruth(self.fps, {v: dict(lab) for v, (_, lab) in self._videos.items()}, {"action": self.num_classes},
                              class_names=list(self._class_names), positives=dict(self._positives))

    def class_table_file(self) -> str:
        """The LSTR `data_info.json` (its entry's `num_classes` sizes the head)."""
        return str(self.info_path)

    def head_args(self) -> dict[str, Any]:
        return {"num_classes": self.num_classes}

    def metric_args(self) -> dict[str, Any]:
        return {"fps": self.fps, "data_info": str(self.info_path), "dataset_name": self.dataset_name}


__all__ = ["EK100OADDataset", "ThumosOADDataset"]

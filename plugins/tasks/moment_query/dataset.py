"""Temporal action detection datasets: ActivityNet-style JSON and Ego4D Moment Queries.

One sample per video (Ego4D: per clip): `features [T, Df]`, `timestamps [T, 2]` s,
`targets = {"segments": [[s, e], ...] (s), "labels": [class id, ...]}` (plain lists, so
batches keep one list per video), `meta = {"video_id", "fps", "duration"}`.
Class ids index `class_names`: the sorted labels of the whole annotation file (every
subset), or an explicit `class_names` / `label_map` so train and val agree.

Known quirk (THUMOS14): 30 test/validation segments end after the annotated video
duration (e.g. 22 in `video_test_0000270`); `on_error: raise` stops there, `skip`
drops those segments; `self.errors` (a `DataErrors`) records them and `skip_report()` lists them.
"""
from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any, ClassVar, Sequence

from videollm_core.errors import DataError

from ..common.localization import LocalizationDataset
from ..common.source_args import SourceArgs, with_source_args
from . import demo as demo_data
from .formats import Database, load_detection_database, read_label_map


class ActivityNetDetectionDataset(LocalizationDataset):
    """ActivityNet-style detection JSON (THUMOS14, ActivityNet 1.3, EK100 in ActionFormer format).

    Args:
        annotation_file: the official JSON (`.json` / `.json.gz`); default: demo data.
        split: subset to load, case-insensitive (`"Validation"`, `"Test"`,
            `"training"`); `"train"`/`"val"`/`"test"` also match ActivityNet's
            `training`/`validation`/`testing`. THUMOS14 (and the demo data, which
            copies its layout) trains on `Validation` and evaluates on `Test`.
            None loads every video.
        fps, feature_stride, feature_window: feature timing (see `LocalizationDataset`).
        class_names: explicit class list (ids = positions); `label_map`: ActionFormer's
            Ego4D label-map file instead.
        features_dir, features, videos_dir, check_values, feature_dim, on_error, demo: the shared
            data-source arguments ([`SourceArgs`][videollm_plugins.tasks.common.source_args.SourceArgs]);
            `features_dir` holds `<video_id>.npy` (default: `features/` beside the demo data).
    """

    task: ClassVar[str] = "moment_query"
    provides_head_args: ClassVar[tuple[str, ...]] = ("num_classes",)
    demo_format: ClassVar[str] = "activitynet"
    SPLIT_ALIASES: ClassVar[dict[str, tuple[str, ...]]] = {
        "train": ("train", "training"),
        "val": ("val", "validation"),
        "test": ("test", "testing"),
    }

    @with_source_args(after="annotation_file")
    def __init__(
        self,
        annotation_file: str | None = None,
        split: str | None = None,
        fps: float = 30.0,
        feature_stride: float = 4,
        feature_window: float | None = None,
        class_names: Sequence[str] | None = None,
        label_map: str | None = None,
        *,
        source: SourceArgs,
    ) -> None:
        if source.demo is not None:
            root, params = self.demo_data(demo_data, source.demo, source.feature_dim, format=self.demo_format)
            annotation_file = annotation_file or str(root / self._demo_annotation_name(split))
            source = source.with_default_features(root / "features")
            fps, feature_stride = float(params["fps"]), float(params["feature_stride"])
        self.require(annotation_file=annotation_file)
        self._setup(source, fps, feature_stride, feature_window)
        self.annotation_file, self.split = Path(annotation_file), split
        full = load_detection_database(self.annotation_file)
        if class_names is None and label_map is not None:
            class_names = read_label_map(label_map)
        self.names = list(class_names) if class_names is not None else sorted({a["label"] for d in full.values() for a in d["annotations"]})
        self._class_id = {n: i for i, n in enumerate(self.names)}
        self.videos: list[dict[str, Any]] = []
        for vid, item in full.items():
            if self._in_split(item["subset"]):
                video = self.attempt(partial(self._load_video, vid, item))
                if video is not None:
                    self.videos.append(video)
        self.report_skipped("videos or segments")
        if not self.videos:
            raise DataError(f"no usable video for split {split!r}", where=str(self.annotation_file), hint="check split and features_dir")

    def _demo_annotation_name(self, split: str | None) -> str:
        return "annotations.json"

    def _in_split(self, subset: str) -> bool:
        if self.split is None:
            return True
        wanted = self.SPLIT_ALIASES.get(self.split.lower(), (self.split.lower(),))
        return subset.lower() in wanted

    def _load_video(self, vid: str, item: dict[str, Any]) -> dict[str, Any]:
        where = f"{self.annotation_file}: {vid}"
        self.features_of(vid, where, item.get("clip"))
        segments, labels = [], []
        for i, a in enumerate(item["annotations"]):
            row = f"{where}: annotations[{i}]"

            def one(a=a, row=row):
                if a["label"] not in self._class_id:
                    raise DataError(f"unknown class {a['label']!r}", where=row, hint="add it to class_names / label_map")
                return self.check_segment(a["segment"], item["duration"], row), self._class_id[a["label"]]

            got = self.attempt(one)
            if got is not None:
                segments.append(got[0])
                labels.append(got[1])
        return {"video_id": vid, "duration": item["duration"], "subset": item["subset"], "segments": segments, "labels": labels,
                "clip": item.get("clip")}

    def __len__(self) -> int:
        return len(self.videos)

    def __getitem__(self, index: int) -> dict[str, Any]:
        v = self.videos[index]
        sample = self.sample(v["video_id"], str(self.annotation_file), v["duration"], v["clip"])
        sample["targets"] = {"segments": [list(s) for s in v["segments"]], "labels": list(v["labels"])}
        return sample

    def ground_truth(self) -> Database:
        """The loaded videos in the normalised database form (what `MomentQueryMetric` evaluates)."""
        return {
            v["video_id"]: {
                "subset": v["subset"],
                "duration": v["duration"],
                "fps": self.frame_rate,
                "annotations": [{"label": self.names[c], "segment": list(s)} for s, c in zip(v["segments"], v["labels"])],
            }
            for v in self.videos
        }

    def class_names(self) -> list[str]:
        """The class names in head order (class id `i` is `class_names()[i]`)."""
        return list(self.names)

    def head_args(self) -> dict[str, Any]:
        return {"num_classes": len(self.names)}

    def settings(self) -> dict[str, Any]:
        """`LocalizationDataset.settings` and the class table (head order), so that another file reads alike."""
        return {**super().settings(), "class_names": list(self.names)}

    def metric_args(self) -> dict[str, Any]:
        return {"class_names": list(self.names)}


class Ego4DMQDataset(ActivityNetDetectionDataset):
    """Ego4D Moment Queries (`moments_{train,val}.json`), one sample per clip.

    Same arguments as `ActivityNetDetectionDataset`; `split` matches the videos'
    `split` field (`train`/`val`); features are per clip (`<clip_uid>.npy`; set
    `fps: 30, feature_stride: 16, feature_window: 32` for Ego4D's SlowFast/EgoVLP features), or
    the released per-video `features: {type: TorchFeatures, dir: .../<video_uid>.pt}`, each clip
    cut out by `video_start_sec`/`video_end_sec` as Ego4D's `prepare_ego4d_dataset.py` does.
    The 110 category names: `label_map: shared/data/ego4d/mq_label_map_actionformer.txt`.
    """

    demo_format: ClassVar[str] = "ego4d"
    SPLIT_ALIASES: ClassVar[dict[str, tuple[str, ...]]] = {"train": ("train",), "val": ("val",), "test": ("test",)}

    def _demo_annotation_name(self, split: str | None) -> str:
        return f"moments_{'val' if (split or 'train').lower() in ('val', 'test') else 'train'}.json"

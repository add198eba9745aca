"""The dataset: per-video feature files plus a CSV of labelled segments."""
from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np

from videollm_core import ConfigError, DataError, DataErrors, VideoDataset

from .demo import write_demo
from .formats import ANNOTATION_COLUMNS, Segments, parse_segment, read_rows

SAFE_ID = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")


class ExampleDataset(VideoDataset):
    """Videos as ``features/<video_id>.npy`` (``[T, Df]``) with segment labels from ``annotations.csv``.

    Args:
        root: the data folder (``annotations.csv`` and ``features/``); defaults to the
            generated demo data when ``demo`` is given.
        split: the value of the CSV's ``split`` column to read (``train``, ``val``...).
        fps: feature steps per second; step ``t`` covers ``[t / fps, (t + 1) / fps]`` s.
        feature_dim: expected ``Df`` (supplied by the runner: the encoder's ``in_dim``).
        on_error: ``raise`` a :class:`DataError` on the first bad video, or ``skip`` it
            (``self.errors``, a ``DataErrors``, records it; ``skip_report()`` hands the
            ``"where: problem"`` lines to the runner).
        demo: parameters of :func:`videollm_example_plugin.demo.write_demo` (e.g.
            ``{num_videos: 24, seed: 0}``); the files are generated once into the
            videollm demo cache and read exactly like real ones.

    Sample: ``features [T, Df]`` float32, ``timestamps [T, 2]`` s, ``targets.labels [T]``
    (class index of the segment holding the step's centre, ``-100`` where none does).
    Classes are the sorted labels of the whole CSV, so every split agrees on them.
    """

    task: ClassVar[str] = "example"
    provides_head_args: ClassVar[tuple[str, ...]] = ("num_classes",)
    provides_metric_args: ClassVar[tuple[str, ...]] = ("classes", "split")

    def __init__(self, root: str | None = None, split: str = "train", fps: float = 2.0, feature_dim: int | None = None,
                 on_error: Literal["raise", "skip"] = "raise", demo: dict | None = None):
        self.errors = DataErrors(on_error, where="ExampleDataset.on_error")
        if not fps > 0:
            raise ConfigError(f"fps must be > 0 feature steps per second, got {fps!r}", where="ExampleDataset.fps")
        if root is None and demo is None:
            raise ConfigError("give the data folder (root) or demo parameters", where="ExampleDataset",
                              hint="root: path/to/data (annotations.csv + features/), or demo: {num_videos: 24, seed: 0}")
        if root is None:
            from videollm_plugins.demo import ensure_demo_data

            params = {"feature_dim": feature_dim or 16, "fps": fps, **(demo or {})}
            root = str(ensure_demo_data("example", functools.partial(write_demo, **params), params))
        self.root, self.split, self.fps = Path(root), split, float(fps)
        self.feature_dim = feature_dim
        csv_path = self.root / "annotations.csv"
        segments: Segments = {}
        labels: set[str] = set()
        for line, row in read_rows(csv_path, ANNOTATION_COLUMNS):
            start, end, label = parse_segment(row, f"{csv_path}:{line}")
            labels.add(label)
            if row["split"] == split:
                segments.setdefault(row["video_id"], []).append((start, end, label))
        self.classes = sorted(labels)
        self.segments: Segments = {}
        self._features: dict[str, np.ndarray] = {}
        for video_id, segs in segments.items():
            try:
                self._features[video_id] = self._load(video_id, segs, csv_path)
                self.segments[video_id] = sorted(segs)
            except DataError as e:
                self.errors.handle(e)
        self.video_ids = sorted(self.segments)
        if not self.video_ids:
            raise DataError(f"no usable video in split {split!r}", where=str(csv_path), hint="check the split column")

    def _load(self, video_id: str, segments: list[tuple[float, float, str]], csv_path: Path) -> np.ndarray:
        """The memory-mapped ``[T, Df]`` features of one video, checked against its segments."""
        where = f"{csv_path} (video {video_id!r})"
        if not SAFE_ID.match(video_id):
            raise DataError(f"unsafe video id {video_id!r}", where=where, hint="ids are letters, digits, '_', '-', '.'")
        path = self.root / "features" / f"{video_id}.npy"
        try:
            features = np.load(path, mmap_mode="r")
        except FileNotFoundError:
            raise DataError("feature file not found", where=str(path), hint="one features/<video_id>.npy per video") from None
        except (ValueError, OSError) as e:
            raise DataError(f"cannot read the feature file: {e}", where=str(path)) from None
        if features.ndim != 2 or (self.feature_dim is not None and features.shape[1] != self.feature_dim):
            raise DataError(f"features have shape {list(features.shape)}, expected [T, {self.feature_dim}]", where=str(path),
                            hint="set the encoder's in_dim to the feature dimension")
        if not np.isfinite(features).all():
            raise DataError("features hold NaN or Inf", where=str(path))
        duration = features.shape[0] / self.fps
        late = [s for s in segments if s[1] > duration + 1.0 / self.fps]
        if late:
            raise DataError(f"segment {list(late[0])} ends after the video ({duration:.3f} s)", where=where,
                            hint="check fps (feature steps per second) and the feature file")
        return features

    def __len__(self) -> int:
        return len(self.video_ids)

    def __getitem__(self, index: int) -> dict[str, Any]:
        video_id = self.video_ids[index]
        features = np.array(self._features[video_id], dtype=np.float32)  # a copy: the file stays read-only
        steps = np.arange(features.shape[0], dtype=np.float32)
        timestamps = np.stack([steps, steps + 1.0], axis=1) / self.fps
        centres = timestamps.mean(axis=1)
        labels = np.full(features.shape[0], -100, dtype=np.int64)
        for start, end, label in self.segments[video_id]:
            labels[(centres >= start) & (centres <= end)] = self.classes.index(label)
        return {"features": features, "timestamps": timestamps, "query": None, "targets": {"labels": labels},
                "meta": {"video_id": video_id, "fps": self.fps, "duration": features.shape[0] / self.fps}}

    def ground_truth(self) -> Segments:
        return {v: list(self.segments[v]) for v in self.video_ids}

    def class_names(self) -> list[str]:
        return list(self.classes)

    def class_table_file(self) -> str:
        return str(self.root / "annotations.csv")

    def head_args(self) -> dict[str, Any]:
        return {"num_classes": len(self.classes)}

    def metric_args(self) -> dict[str, Any]:
        return {"classes": list(self.classes), "split": self.split}

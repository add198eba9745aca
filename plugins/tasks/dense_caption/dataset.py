"""`ActivityNetCaptionsDataset`: ActivityNet Captions references + per-video features.

One sample per video (union of the given reference files; training targets from the
first file that has the video): features `[T, Df]`, timestamps `[T, 2]` seconds
(step `i` covers `[i * D / T, (i + 1) * D / T]` of the video's duration `D`, the
usual ActivityNet convention for resampled clip features, or `seconds_per_step` when
the features have a fixed stride), `targets["events"]` `[K, 2]` seconds sorted by
start and `targets["captions"]` (K stripped sentences). The known quirks of the files
(inverted segments, segments past the end, leading spaces, non-ASCII) are repaired for
the targets only (`formats.clean_events`); the metric gets the files unchanged.
"""
from __future__ import annotations

from functools import partial
from typing import Any, ClassVar

import numpy as np
import torch

from videollm_core.base import VideoDataset, pad_collate
from videollm_core.errors import ConfigError, DataError
from videollm_core.types import VideoBatch

from ..common.features import check_video_id
from ..common.source_args import SourceArgs, with_source_args
from . import demo as demo_data
from .formats import References, clean_events, read_references, split_paths


class ActivityNetCaptionsDataset(VideoDataset):
    """Dense video captioning on ActivityNet Captions.

    Args:
        annotations: reference file(s): `train.json` for training, `[val_1.json, val_2.json]`
            for evaluation (`.json.gz` accepted). Default with `demo`: by `split`.
        split: `"train"` or `"val"` (chooses the demo files).
        seconds_per_step: fixed feature stride in seconds; `None` spreads the `T` steps
            evenly over the annotated duration.
        fix_segments: repair inverted / past-the-end segments for the targets (else DataError).
        features_dir, features, videos_dir, check_values, feature_dim, on_error, demo: the shared
            data-source arguments ([`SourceArgs`][videollm_plugins.tasks.common.source_args.SourceArgs]);
            ActivityNet C3D: `features: {type: HDF5Features, path: sub_activitynet_v1-3.c3d.hdf5, key: c3d_features}`;
            `videos_dir` needs `seconds_per_step`.
    """

    task: ClassVar[str] = "dense_caption"
    annotations_arg: ClassVar[str | None] = "annotations"  # comma-separated: val_1.json,val_2.json

    @with_source_args(after="annotations")
    def __init__(
        self,
        annotations: str | list[str] | None = None,
        split: str = "train",
        seconds_per_step: float | None = None,
        fix_segments: bool = True,
        *,
        source: SourceArgs,
    ) -> None:
        self.errors = source.data_errors(type(self).__name__)
        if seconds_per_step is not None and seconds_per_step <= 0:
            raise ConfigError(f"seconds_per_step must be > 0, got {seconds_per_step}", where="ActivityNetCaptionsDataset.seconds_per_step")
        if source.demo is not None:
            from videollm_plugins.demo import ensure_demo_data

            params = demo_data.demo_params(source.demo, source.feature_dim)
            root = ensure_demo_data(self.task, partial(demo_data.generate, params=params), params)
            if annotations is None:
                annotations = [str(root / "train.json")] if split == "train" else [str(root / "val_1.json"), str(root / "val_2.json")]
            source = source.with_default_features(root / "features")
            seconds_per_step = seconds_per_step or float(params["seconds_per_step"])
        if annotations is None:
            raise ConfigError(
                "ActivityNetCaptionsDataset needs annotations and features_dir",
                where="ActivityNetCaptionsDataset",
                hint="e.g. annotations: [val_1.json, val_2.json], features_dir: features/; or demo: {num_videos: 48}",
            )
        self.paths = split_paths(annotations)
        self.references = [read_references(p) for p in self.paths]
        self.features = source.store(fps=1.0 / seconds_per_step if seconds_per_step else None, where="ActivityNetCaptionsDataset")
        self.seconds_per_step, self.fix_segments = seconds_per_step, bool(fix_segments)
        self.fps = 1.0 / seconds_per_step if seconds_per_step else None  # None: steps spread over each video's duration
        self.feature_dim, self.split = source.feature_dim, split
        self.repairs = 0
        self.videos: list[dict[str, Any]] = []
        seen: set[str] = set()
        for path, ref in zip(self.paths, self.references):
            for vid, entry in ref.items():
                if vid in seen:
                    continue
                seen.add(vid)
                try:
                    self.videos.append(self._load_video(vid, entry, f"{path}[{vid!r}]", fix_segments, source.check_values))
                except DataError as e:
                    self.errors.handle(e)
        if not self.videos:
            raise DataError("no usable video", where=", ".join(map(str, self.paths)), hint="check the references and features_dir")

    def _load_video(self, vid: str, entry: dict[str, Any], where: str, fix: bool, check_values: bool) -> dict[str, Any]:
        check_video_id(vid, where)
        segments, captions, repairs = clean_events(entry, where, fix=fix)
        self.repairs += repairs
        feats = self.features(vid)
        return {"video_id": vid, "duration": float(entry["duration"]), "features": feats, "events": segments, "captions": captions}

    def __len__(self) -> int:
        return len(self.videos)

    def __getitem__(self, index: int) -> dict[str, Any]:
        v = self.videos[index]
        t = v["features"].shape[0]
        step = self.seconds_per_step if self.seconds_per_step is not None else v["duration"] / t
        starts = np.arange(t, dtype=np.float64) * step
        timestamps = np.stack([starts, np.minimum(starts + step, max(v["duration"], starts[-1] + step))], axis=1)
        return {
            "features": np.array(v["features"], dtype=np.float32),
            "timestamps": timestamps.astype(np.float32),
            "query": None,
            "targets": {"events": np.asarray(v["events"], dtype=np.float32).reshape(-1, 2), "captions": list(v["captions"])},
            "meta": {"video_id": v["video_id"], "duration": v["duration"]},
        }

    def collate(self, samples: list[dict[str, Any]]) -> VideoBatch:
        """[`pad_collate`][videollm_core.data.pad_collate] of the features; `targets["events"]` stays a list of `[K_i, 2]`
        tensors and `targets["captions"]` a list of K_i strings per video (never padded)."""
        bare = [{**s, "targets": {}} for s in samples]
        batch = pad_collate(bare)
        batch.targets = {
            "events": [torch.as_tensor(s["targets"]["events"]) for s in samples],
            "captions": [list(s["targets"]["captions"]) for s in samples],
        }
        return batch

    def settings(self) -> dict[str, Any]:
        """Seconds per feature step (None: spread over each video's duration) and segment repair,
        for `videollm predict --annotations` (the durations come from the reference files)."""
        return {"seconds_per_step": self.seconds_per_step, "fix_segments": self.fix_segments}

    def ground_truth(self) -> list[References]:
        """The reference files, unchanged, restricted to the loaded videos (the metric's ground truth)."""
        keep = {v["video_id"] for v in self.videos}
        return [{vid: e for vid, e in ref.items() if vid in keep} for ref in self.references]

"""Base of the temporal-localisation datasets (moment query, NLQ, QVHighlights).

They share one layout: per-video features `<features_dir>/<video_id>.npy` (`[T, Df]`,
memory-mapped) where step `i` covers `[i * stride, i * stride + window)` frames at
`fps` (so `stride / fps` seconds per feature step), plus annotations whose segments
are in **seconds**. This base does the checks every one of them needs and the
`on_error` policy ([`DataErrors`][videollm_core.data.DataErrors]): `"raise"` a [`DataError`][videollm_core.errors.DataError]
naming file and row, or `"skip"` the row / video: `self.errors.handle(error)` records it,
[`skip_report`][videollm_core.data.VideoDataset.skip_report] returns it and `report_skipped` logs it once.
"""
from __future__ import annotations

import logging
from pathlib import Path
from types import ModuleType
from typing import Any, Callable, ClassVar

import numpy as np

from videollm_core.base import VideoDataset
from videollm_core.errors import ConfigError, DataError

from .source_args import SourceArgs
from .features import check_video_id

log = logging.getLogger("videollm")

class LocalizationDataset(VideoDataset):
    """Feature files, feature-step timing and segment checks shared by localisation tasks.

    Args:
        features_dir: folder of `<video_id>.npy` files, `[T, Df]` float.
        fps: frames per second of the feature extractor's input.
        feature_stride: frames between consecutive feature steps.
        feature_window: frames one feature covers (default `feature_stride`).
        feature_dim: expected `Df` (the encoder's `in_dim`, supplied by the runner).
        on_error: `"raise"` or `"skip"`.
        check_values: scan features for NaN/Inf when first opened.
    """

    @classmethod
    def demo_data(cls, generator: ModuleType, demo: dict[str, Any], feature_dim: int | None, **fixed: Any) -> tuple[Path, dict[str, Any]]:
        """Generate (once) and locate the demo data of `cls.task`.

        `generator` is the task's demo module (`DEFAULTS`, `generate(out, params)` and an
        optional `VERSION`, bumped when it writes other files for the same parameters);
        the parameters are its defaults, then `feature_dim` (the encoder's `in_dim`),
        then the config's `demo:` dict, then `fixed`. Returns `(directory, params)`.
        """
        from functools import partial

        from videollm_plugins.demo import ensure_demo_data

        params = dict(generator.DEFAULTS)
        if feature_dim is not None:
            params["feature_dim"] = int(feature_dim)
        params.update(demo or {})
        params.update(fixed)
        version = int(getattr(generator, "VERSION", 1))
        return ensure_demo_data(cls.task, partial(generator.generate, params=params), params, version=version), params

    @classmethod
    def require(cls, **paths: Any) -> None:
        """Raise [`ConfigError`][videollm_core.errors.ConfigError] naming the first of `paths` that is None."""
        for name, value in paths.items():
            if value is None:
                raise ConfigError(
                    f"{cls.__name__} needs {' and '.join(paths)}", where=f"{cls.__name__}.{name}",
                    hint="point them at the official annotations and <video_id>.npy features, or set demo: {num_videos: 24} for demo data",
                )

    def _setup(self, source: SourceArgs, fps: float, feature_stride: float, feature_window: float | None) -> None:
        """Timing, the `on_error` policy and the `FeatureStore` of the data-source arguments `source`,
        whose features step at `fps / feature_stride` per second unless their config sets `fps`."""
        name = type(self).__name__
        self.errors = source.data_errors(name)
        if fps <= 0 or feature_stride <= 0 or (feature_window is not None and feature_window <= 0):
            raise ConfigError(
                f"need fps > 0, feature_stride > 0 and feature_window > 0, got {fps}, {feature_stride}, {feature_window}",
                where=name,
                hint="e.g. fps: 30, feature_stride: 4, feature_window: 16 for ActionFormer's THUMOS I3D features",
            )
        #: frames per second of the extractor's input, frames between steps, frames one step covers.
        self.frame_rate, self.stride = float(fps), float(feature_stride)
        self.feature_window = float(feature_window) if feature_window is not None else self.stride
        #: feature steps per second (the kernel's `VideoDataset.fps`; whole videos, so no `window`).
        self.fps = self.frame_rate / self.stride
        self.feature_dim, self.check_values = source.feature_dim, bool(source.check_values)
        self.features = source.store(fps=self.fps, where=name)

    #: `videollm predict --annotations FILE` fills the split's annotation file.
    annotations_arg: ClassVar[str | None] = "annotation_file"

    def settings(self) -> dict[str, Any]:
        """Split and timing (frames/s, stride, window in frames) for `videollm predict --annotations`."""
        return {"split": self.split, "fps": self.frame_rate, "feature_stride": self.stride, "feature_window": self.feature_window}

    @property
    def step_seconds(self) -> float:
        """Seconds between two feature steps (`feature_stride / fps`)."""
        return self.stride / self.frame_rate

    # -- errors -------------------------------------------------------------------
    def attempt(self, fn: Callable[[], Any], default: Any = None) -> Any:
        """Run `fn`; a [`DataError`][videollm_core.errors.DataError] goes to `errors` (raised, or recorded and `default` returned)."""
        try:
            return fn()
        except DataError as e:
            self.errors.handle(e)
            return default

    def report_skipped(self, what: str) -> None:
        """Log what was skipped (once per dataset); raise when nothing usable is left."""
        if self.skipped:
            log.warning("%s: skipped %d %s, first: %s", type(self).__name__, len(self.skipped), what, self.skipped[0])

    # -- features -----------------------------------------------------------------
    def features_of(self, video_id: str, where: str, clip: tuple[str, float, float] | None = None) -> np.ndarray:
        """`[T, Df]` features of `video_id` (memory-mapped, checked once).

        `clip`: `(video_uid, video_start_sec, video_end_sec)` when `video_id` is a clip of a
        longer video: a source of per-video features (Ego4D `.pt`) cuts the clip's steps out.
        """
        check_video_id(video_id, where)
        return self.features(video_id) if clip is None else self.features.clip(video_id, *clip)

    def timestamps(self, num_steps: int) -> np.ndarray:
        """`[T, 2]` float32 seconds: step `i` covers `[i*stride, i*stride + window) / fps`."""
        start = np.arange(num_steps, dtype=np.float64) * self.stride
        return (np.stack([start, start + self.feature_window], axis=1) / self.frame_rate).astype(np.float32)

    def check_segment(self, segment: Any, duration: float, where: str, *, tolerance: float | None = None) -> list[float]:
        """`[s, e]` seconds with `0 <= s <= e <= duration (+ tolerance)`, else [`DataError`][videollm_core.errors.DataError].

        `tolerance` defaults to one feature step (rounding of the annotation tools).
        """
        tol = self.step_seconds if tolerance is None else tolerance
        try:
            s, e = float(segment[0]), float(segment[1])
        except (TypeError, ValueError, IndexError) as err:
            raise DataError(f"segment {segment!r} is not [start, end]", where=where, hint="segments are [start_s, end_s]") from err
        if not (np.isfinite(s) and np.isfinite(e)):
            raise DataError(f"segment [{s}, {e}] is not finite", where=where)
        if s > e:
            raise DataError(f"segment starts after it ends: [{s}, {e}] s", where=where, hint="swap start and end, or drop the row")
        if s < -tol or e > duration + tol:
            raise DataError(
                f"segment [{s}, {e}] s lies outside the video [0, {duration}] s",
                where=where,
                hint="fix the annotation or the duration; on_error: skip drops such rows",
            )
        return [max(0.0, s), min(e, duration)]

    def sample(self, video_id: str, where: str, duration: float, clip: tuple[str, float, float] | None = None) -> dict[str, Any]:
        """The common part of a sample: `features [T, Df]` float32, `timestamps [T, 2]` s, meta."""
        feats = self.features_of(video_id, where, clip)
        return {
            "features": np.array(feats, dtype=np.float32),  # a writable copy of the memory map
            "timestamps": self.timestamps(feats.shape[0]),
            "query": None,
            "targets": {},
            "meta": {"video_id": video_id, "fps": self.fps, "duration": float(duration)},
        }


__all__ = ["LocalizationDataset"]

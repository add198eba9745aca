"""Every task dataset's features: one `FeatureStore` over a feature source.

A dataset takes its features in one of three forms, resolved by `feature_store`:

* `features_dir: DIR` (short form of `features: {type: NpyFeatures, dir: DIR}`);
* `features: {type: NAME, ...}`, any registered feature source (`videollm list
  features`), its `fps` defaulting to the dataset's step rate;
* `videos_dir: DIR`, video files named by video id, decoded into pixel rows
  (`VideoFrames`) for a model whose encoder is `FrameEncoder`.

`FeatureStore` checks each video once (dim, NaN/Inf), caches it, and cuts windows
with second timestamps. `check_video_id` refuses ids unsafe as file names.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import numpy as np

from videollm_core.errors import ConfigError, DataError
from videollm_core.features import FeatureSource, build_feature_source

from ...features.arrays import checked
from ...features.files import FolderSource, check_video_id, is_safe_video_id
from ...features.npy import NpyFeatures, load_npy

#: `features_dir`, `features` and `videos_dir`: the three ways a dataset names its features.
FEATURE_ARGS = ("features_dir", "features", "videos_dir")


def load_features(
    path: str | Path,
    *,
    feature_dim: int | None = None,
    channels_first: bool = False,
    check_values: bool = True,
) -> np.ndarray:
    """Open one `.npy` as `[T, Df]` (a read-only memory map or a view of it), checked.

    Raises:
        DataError: missing or unreadable file, not 2-D, `Df != feature_dim`, no steps,
            non-finite values. `where` is the file.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError("feature file not found", where=str(path), hint="extract features for every video, named <video_id>.npy")
    arr = load_npy(path, channels_first=channels_first)
    return check_dim_and_values(arr, str(path), feature_dim, check_values)


def check_dim_and_values(arr: np.ndarray, where: str, feature_dim: int | None, check_values: bool) -> np.ndarray:
    """`arr [T, Df]` after checking `Df == feature_dim` (unless None) and (`check_values`) NaN/Inf."""
    if feature_dim is not None and arr.shape[1] != feature_dim:
        raise DataError(
            f"feature dim {arr.shape[1]} (shape {list(arr.shape)}) does not match the encoder's in_dim {feature_dim}",
            where=where,
            hint="set model.encoder.in_dim to the features' dimension (or check channels_first / the source's key)",
        )
    return checked(arr, where, check_values=check_values)


def demo_features_dir(features_dir: str | None, features: Any, videos_dir: str | None, default: Path) -> str | None:
    """`features_dir`, or the demo data's `default` folder when none of the three feature arguments is given."""
    if features_dir is None and features is None and videos_dir is None:
        return str(default)
    return features_dir


def step_timestamps(first: int, last: int, fps: float) -> np.ndarray:
    """`[last - first, 2]` float32 seconds of steps `first..last-1` at `fps` steps per second."""
    i = np.arange(first, last, dtype=np.float64)
    return np.stack([i / fps, (i + 1) / fps], axis=1).astype(np.float32)


def resolve_source(features_dir: str | Path | None, features: Mapping[str, Any] | FeatureSource | None, videos_dir: str | None,
                   *, fps: float | None, where: str, channels_first: bool = False) -> FeatureSource:
    """The feature source of a dataset given one of `features_dir`/`features`/`videos_dir`.

    Args:
        fps: the dataset's step rate, the source's `fps` unless its config sets one.
        where: the dataset's name (the YAML path is put in front by the registry).
        channels_first: `features_dir` files are `[Df, T]` (MS-TCN).

    Raises:
        ConfigError: none or several of the three given; a bad `features` entry.
    """
    given = [n for n, v in zip(FEATURE_ARGS, (features_dir, features, videos_dir)) if v is not None]
    if len(given) != 1:
        raise ConfigError(("needs one of " if not given else "takes only one of ") + ", ".join(FEATURE_ARGS) + (f" (got {', '.join(given)})" if given else ""),
                          where=f"{where}.{given[-1] if given else 'features'}",
                          hint="features_dir: DIR of <video_id>.npy, features: {type: ..., ...} (see `videollm list features`), or videos_dir: DIR of video files")
    if features_dir is not None:
        return NpyFeatures(str(features_dir), fps, channels_first=channels_first)
    if videos_dir is not None:
        return build_feature_source({"type": "VideoFrames", "dir": str(videos_dir)}, fps=fps, where=f"{where}.videos_dir")
    if not isinstance(features, (Mapping, FeatureSource)):
        raise ConfigError(f"features must be a mapping {{type: NAME, ...}}, got {features!r}", where=f"{where}.features",
                          hint="e.g. features: {type: HDF5Features, path: c3d.hdf5, key: c3d_features}")
    return build_feature_source(features, fps=fps, where=f"{where}.features")


#: in-memory (not memory-mapped) videos a store keeps, most recent first out last.
CACHED_COPIES = 256


def _is_memory_mapped(arr: np.ndarray) -> bool:
    """True when `arr` is a memory map or a view of one."""
    while arr is not None:
        if isinstance(arr, np.memmap):
            return True
        arr = arr.base if isinstance(arr.base, np.ndarray) else None
    return False


class FeatureStore:
    """Checked `[T, Df]` features per video id, from any feature source.

    Args:
        features: a folder of `<video_id>.npy` (`features_dir`), a `{type: ..., ...}`
            source config, or a built [`FeatureSource`][videollm_core.data.FeatureSource].
        feature_dim: expected `Df` (the encoder's input dim) or `None` (pixels, or unchecked).
        fps: feature steps per second (the source's `fps` unless its config sets one).
        check_values: scan each video once for NaN/Inf.
        where: the dataset's name, for config errors.
    """

    def __init__(self, features: str | Path | Mapping[str, Any] | FeatureSource, feature_dim: int | None, fps: float | None,
                 *, check_values: bool = True, where: str = "dataset") -> None:
        if isinstance(features, FeatureSource):
            self.source = features
        else:
            is_dir = isinstance(features, (str, Path))
            self.source = resolve_source(features if is_dir else None, None if is_dir else features, None, fps=fps, where=where)
        self.pixels = bool(self.source.pixels)
        if self.pixels and feature_dim is not None:
            raise ConfigError(f"video files give pixels, but the model's encoder reads {feature_dim}-dim features", where=f"{where}.videos_dir",
                              hint="use an encoder that reads frames (model.encoder: {type: FrameEncoder, backbone: ...}), "
                                   "or extract features first (videollm extract) and give features_dir")
        self.feature_dim = None if self.pixels else feature_dim
        self.fps, self.check_values = None if fps is None else float(fps), bool(check_values) and not self.pixels
        self._cache: dict[str, np.ndarray] = {}
        self._copies: list[str] = []

    @classmethod
    def from_args(cls, features_dir: str | Path | None, features: Mapping[str, Any] | None, videos_dir: str | None, *,
                  feature_dim: int | None, fps: float | None, where: str, check_values: bool = True,
                  channels_first: bool = False) -> "FeatureStore":
        """The store of a dataset's `features_dir`/`features`/`videos_dir` arguments (exactly one given)."""
        source = resolve_source(features_dir, features, videos_dir, fps=fps, where=where, channels_first=channels_first)
        return cls(source, feature_dim, fps, check_values=check_values, where=where)

    @property
    def where(self) -> str:
        return self.source.where

    def __call__(self, video_id: str) -> np.ndarray:
        """The video's features; [`DataError`][videollm_core.errors.DataError] for unsafe ids and missing/corrupt/NaN/wrong-dim entries."""
        if video_id in self._cache:
            return self._cache[video_id]
        check_video_id(video_id, self.where)
        return self._keep(video_id, self._checked(self.source.read(video_id), video_id))

    def clip(self, clip_id: str, video_id: str, start_sec: float, end_sec: float) -> np.ndarray:
        """A clip's features: its own entry, or its steps cut out of its video (Ego4D `.pt`)."""
        if clip_id in self._cache:
            return self._cache[clip_id]
        check_video_id(clip_id, self.where)
        arr = self.source.read_clip(clip_id, video_id, start_sec, end_sec)
        return self._keep(clip_id, self._checked(arr, video_id if self._per_video(clip_id, video_id) else clip_id))

    def _keep(self, key: str, arr: np.ndarray) -> np.ndarray:
        """Cache memory maps (they cost no RAM) and the last `CACHED_COPIES` in-memory arrays; pixels never."""
        if self.pixels:
            return arr
        if not _is_memory_mapped(arr):
            self._copies.append(key)
            if len(self._copies) > CACHED_COPIES:
                self._cache.pop(self._copies.pop(0), None)
        self._cache[key] = arr
        return arr

    def _per_video(self, clip_id: str, video_id: str) -> bool:
        """True when the source cut the clip out of its video's entry (its own `read_clip`)."""
        return type(self.source).read_clip is not FeatureSource.read_clip and clip_id != video_id

    def _checked(self, arr: np.ndarray, video_id: str) -> np.ndarray:
        where = str(self.source.path_of(video_id)) if isinstance(self.source, FolderSource) else f"{self.where}[{video_id!r}]"
        return check_dim_and_values(arr, where, self.feature_dim, self.check_values)

    def window(self, video_id: str, first: int, last: int) -> tuple[np.ndarray, np.ndarray]:
        """Steps `first..last-1`: `(features [L, Df] float32 copy, timestamps [L, 2] s)`."""
        feats = self(video_id)
        return np.array(feats[first:last], dtype=np.float32), step_timestamps(first, last, self.fps)


__all__ = ["is_safe_video_id", "check_video_id", "load_features", "check_dim_and_values", "step_timestamps",
           "resolve_source", "demo_features_dir", "FeatureStore", "FEATURE_ARGS"]

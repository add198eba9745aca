"""Per-video feature files ``<features_dir>/<video_id>.npy``: safe ids, checked memory maps.

Every task dataset reads its features through this module: :func:`check_video_id`
refuses ids that are unsafe as file names, :func:`load_features` memory-maps one
``[T, Df]`` file and checks it (missing, unreadable, wrong dim, NaN/Inf), and
:class:`FeatureStore` caches them per video and cuts windows with second timestamps.
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from videollm_core.errors import DataError

#: a plain file stem: letters, digits, '_', '-', '.' (QVHighlights ids may start with '-').
_SAFE_ID = re.compile(r"^[A-Za-z0-9_\-][A-Za-z0-9_.\-]*$")


def is_safe_video_id(video_id: str) -> bool:
    """True for ids safe as a file name (no path separator, no ``..``, no spaces)."""
    return bool(_SAFE_ID.match(str(video_id))) and ".." not in str(video_id)


def check_video_id(video_id: str, where: str) -> str:
    """Return ``video_id`` if :func:`is_safe_video_id`, else raise :class:`DataError` at ``where``."""
    if not is_safe_video_id(video_id):
        raise DataError(
            f"unsafe video id {video_id!r}",
            where=where,
            hint="video ids must be plain file names (letters, digits, '_', '-', '.'), without '/' or '..'",
        )
    return str(video_id)


#: rows of a memory-mapped file scanned at once by the NaN/Inf check.
_CHUNK = 4096


def load_features(
    path: str | Path,
    *,
    feature_dim: int | None = None,
    channels_first: bool = False,
    check_values: bool = True,
) -> np.ndarray:
    """Open one video's features as ``[T, Df]`` (a read-only memory map or a view of it).

    Args:
        path: the ``.npy`` file.
        feature_dim: expected ``Df`` (the encoder's ``in_dim``); ``None`` skips the check.
        channels_first: the file stores ``[Df, T]`` (MS-TCN's Breakfast/50Salads/GTEA
            features); the result is transposed to ``[T, Df]``.
        check_values: scan for NaN/Inf (reads the whole file once, in chunks).

    Raises:
        DataError: missing or unreadable file, not 2-D, ``Df != feature_dim``, no steps,
            non-finite values. ``where`` is the file.
    """
    path = Path(path)
    where = str(path)
    if not path.is_file():
        raise DataError("feature file not found", where=where, hint="extract features for every video, named <video_id>.npy")
    try:
        arr = np.load(path, mmap_mode="r", allow_pickle=False)
    except Exception as e:  # truncated header, pickled object, not an .npy at all
        raise DataError(f"cannot read the feature file ({type(e).__name__}: {e})", where=where, hint="re-extract it with numpy.save") from e
    layout = "[Df, T]" if channels_first else "[T, Df]"
    if arr.ndim != 2:
        raise DataError(f"features must be 2-D {layout}, got shape {list(arr.shape)}", where=where)
    if channels_first:
        arr = arr.T
    if feature_dim is not None and arr.shape[1] != feature_dim:
        raise DataError(
            f"feature dim {arr.shape[1]} (shape {list(arr.shape)} read as {layout}) does not match the encoder's in_dim {feature_dim}",
            where=where,
            hint="set model.encoder.in_dim to the features' dimension (or check channels_first)",
        )
    if arr.shape[0] == 0:
        raise DataError("the feature file has no time steps", where=where)
    if not np.issubdtype(arr.dtype, np.floating):
        raise DataError(f"features must be floats, got {arr.dtype}", where=where)
    if check_values:
        for i in range(0, arr.shape[0], _CHUNK):
            block = np.asarray(arr[i : i + _CHUNK])
            if not np.isfinite(block).all():
                row = i + int(np.argwhere(~np.isfinite(block))[0][0])
                raise DataError(f"non-finite value (NaN/Inf) at step {row}", where=where, hint="re-extract the features of this video")
    return arr


def step_timestamps(first: int, last: int, fps: float) -> np.ndarray:
    """``[last - first, 2]`` float32 seconds of steps ``first..last-1`` at ``fps`` steps per second."""
    i = np.arange(first, last, dtype=np.float64)
    return np.stack([i / fps, (i + 1) / fps], axis=1).astype(np.float32)


class FeatureStore:
    """Checked, memory-mapped ``[T, Df]`` features per video id.

    Args:
        features_dir: folder of ``<video_id>.npy``.
        feature_dim: expected ``Df`` (the encoder's ``in_dim``) or ``None``.
        fps: feature steps per second.
    """

    def __init__(self, features_dir: str | Path, feature_dim: int | None, fps: float) -> None:
        self.features_dir, self.feature_dim, self.fps = Path(features_dir), feature_dim, float(fps)
        self._cache: dict[str, np.ndarray] = {}

    def __call__(self, video_id: str) -> np.ndarray:
        """The video's features; :class:`DataError` for unsafe ids and missing/corrupt/NaN/wrong-dim files."""
        if video_id not in self._cache:
            check_video_id(video_id, str(self.features_dir))
            self._cache[video_id] = load_features(self.features_dir / f"{video_id}.npy", feature_dim=self.feature_dim)
        return self._cache[video_id]

    def window(self, video_id: str, first: int, last: int) -> tuple[np.ndarray, np.ndarray]:
        """Steps ``first..last-1``: ``(features [L, Df] float32 copy, timestamps [L, 2] s)``."""
        feats = self(video_id)
        return np.array(feats[first:last], dtype=np.float32), step_timestamps(first, last, self.fps)


__all__ = ["is_safe_video_id", "check_video_id", "load_features", "step_timestamps", "FeatureStore"]

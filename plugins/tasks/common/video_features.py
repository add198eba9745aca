"""Per-video feature files for the datasets of online/anticipation tasks.

:class:`FeatureStore` memory-maps ``<features_dir>/<video_id>.npy`` (``[T, Df]``) once per
video through the shared checked loader, refuses unsafe ids, and cuts windows of
steps with their ``[L, 2]`` second timestamps (step ``i`` covers ``[i/fps, (i+1)/fps)``).
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from videollm_core.errors import DataError

_SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")


def check_video_id(video_id: str) -> bool:
    """True for ids safe as a file name (no path separators, no ``..``)."""
    return bool(_SAFE_ID.match(video_id)) and ".." not in video_id


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
            if not check_video_id(video_id):
                raise DataError(f"unsafe video id {video_id!r}", where=str(self.features_dir), hint="video ids must be plain file names")
            from videollm_plugins.tasks.action_segmentation.features import load_features

            self._cache[video_id] = load_features(self.features_dir / f"{video_id}.npy", feature_dim=self.feature_dim)
        return self._cache[video_id]

    def window(self, video_id: str, first: int, last: int) -> tuple[np.ndarray, np.ndarray]:
        """Steps ``first..last-1``: ``(features [L, Df] float32 copy, timestamps [L, 2] s)``."""
        feats = self(video_id)
        return np.array(feats[first:last], dtype=np.float32), step_timestamps(first, last, self.fps)


__all__ = ["check_video_id", "step_timestamps", "FeatureStore"]

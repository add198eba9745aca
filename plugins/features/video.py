"""`VideoFrames`: decoded pixels instead of features, for datasets given `videos_dir:`.

Each step of the dataset's grid is the frame shown at the step's start (PyAV decoding and
sampling of `videollm_plugins.encoders.video.read_video_frames`), resized to
`size` and flattened into one row, so a dataset cuts windows exactly as it does from
features; `videollm_plugins.encoders.FrameEncoder` turns the rows back into images.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch.nn.functional as F

from videollm_core.errors import ConfigError, DataError

from ..encoders.video import read_video_frames
from .files import FolderSource, check_video_id

VIDEO_SUFFIXES = (".mp4", ".mkv", ".webm", ".avi", ".mov")


class VideoFrames(FolderSource):
    """`<dir>/<video_id>.<mp4|mkv|webm|avi|mov>` sampled at `fps` frames per second.

    Args:
        dir: the folder of video files, named by video id.
        fps: frames per step grid (left out in a dataset: the dataset's step rate).
        size: side in pixels frames are resized to (bilinear).

    `read` -> `[T, 3 * size * size]` float32 RGB in 0..1, channels first per row
    (`row.reshape(3, size, size)` is the image).
    """

    #: rows are pixels, not features: datasets skip the dim and NaN checks.
    pixels = True
    needs_fps = True

    def __init__(self, dir: str, fps: float, size: int = 224):
        super().__init__(dir, fps)
        if not isinstance(size, int) or size <= 0:
            raise ConfigError(f"size must be a positive number of pixels, got {size!r}", where="VideoFrames.size")
        self.size = size

    @property
    def dim(self) -> int:
        return 3 * self.size * self.size

    def path_of(self, video_id: str) -> Path:
        check_video_id(video_id, str(self.dir))
        for suffix in VIDEO_SUFFIXES:
            path = self.dir / f"{video_id}{suffix}"
            if path.is_file():
                return path
        hint = (f"the folder {self.dir} does not exist" if not self.dir.is_dir()
                else f"name each video <video_id> with one of {', '.join(VIDEO_SUFFIXES)}")
        raise DataError(f"no video file for {video_id!r}", where=str(self.dir), hint=hint)

    def read(self, video_id: str) -> np.ndarray:
        frames, _, _ = read_video_frames(self.path_of(video_id), self.fps)  # [T, H, W, 3] uint8
        x = frames.permute(0, 3, 1, 2).float() / 255.0
        if x.shape[-2:] != (self.size, self.size):
            x = F.interpolate(x, size=(self.size, self.size), mode="bilinear", align_corners=False)
        return x.reshape(x.shape[0], -1).numpy().astype(np.float32, copy=False)

    def video_ids(self) -> list[str]:
        if not self.dir.is_dir():
            raise DataError("video folder not found", where=str(self.dir), hint="check videos_dir")
        return sorted(p.stem for p in self.dir.iterdir() if p.suffix.lower() in VIDEO_SUFFIXES)

    @classmethod
    def claims(cls, path: Path) -> dict | None:
        return None  # a folder of videos is given as videos_dir:, never guessed as features


__all__ = ["VideoFrames", "VIDEO_SUFFIXES"]

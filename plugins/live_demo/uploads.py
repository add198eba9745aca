"""What a browser session may hand the page, and reading it: limits, videos, feature files.

Every check raises `DataError` with a message the page shows
as it is (the server keeps serving): a file outside the page's own upload folder, an upload
over `max_upload_mb`, a video longer than `max_video_s` seconds, a file that is not a
video (or not a `.npy` array), features of the wrong width.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from videollm_core.errors import ConfigError, DataError


@dataclass(frozen=True)
class Limits:
    """What one upload may be.

    Attributes:
        max_upload_mb: largest file in megabytes (10^6 bytes).
        max_video_s: longest video (or feature file, at the model's step rate) in seconds.
    """

    max_upload_mb: float = 50.0
    max_video_s: float = 120.0

    def __post_init__(self) -> None:
        for key in ("max_upload_mb", "max_video_s"):
            value = getattr(self, key)
            if not (isinstance(value, (int, float)) and value > 0):
                raise ConfigError(f"{key} must be a positive number, got {value!r}", where=f"--{key.replace('_', '-')}")

    @property
    def max_bytes(self) -> int:
        return int(self.max_upload_mb * 1_000_000)


def check_upload(path: str | Path, folder: Path, limits: Limits, what: str = "upload") -> Path:
    """`path` resolved, once it is known to be a file inside `folder` (the page's upload
    folder) and at most `limits.max_upload_mb`; `DataError` otherwise."""
    file = Path(path).resolve()
    try:
        file.relative_to(folder.resolve())
    except ValueError:
        raise DataError("the page reads only files uploaded to it", where=what) from None
    if not file.is_file():
        raise DataError("the uploaded file is gone; upload it again", where=what)
    size = file.stat().st_size
    if size > limits.max_bytes:
        raise DataError(f"the file is {size / 1e6:.1f} MB, over this page's limit of {limits.max_upload_mb:g} MB",
                        where=what, hint="upload a shorter or smaller clip (the server's --max-upload-mb sets the limit)")
    return file


def video_duration(path: Path) -> float:
    """Seconds of the first video stream of `path` (container metadata; nothing decoded)."""
    import av

    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise DataError("the file has no video stream", where=path.name, hint="upload a video (mp4, webm, mkv, mov)")
            stream = container.streams.video[0]
            if stream.duration is not None and stream.time_base is not None:
                return float(stream.duration * stream.time_base)
            if container.duration is not None:
                return float(container.duration) / 1_000_000
            return 0.0
    except DataError:
        raise
    except Exception as e:  # av.error.InvalidDataError and kin: not a video
        raise DataError(f"cannot read the file as a video ({type(e).__name__})", where=path.name,
                        hint="upload a video file (mp4, webm, mkv, mov)") from e


def read_video_rows(path: Path, fps: float, size: int, limits: Limits) -> tuple[np.ndarray, np.ndarray, float]:
    """A video sampled at `fps` frames per second as the model reads it.

    Returns:
        `rows [T, 3 * size * size]` float32 RGB in 0..1 (channels first per row, as
        `VideoFrames` reads), `timestamps [T, 2]` seconds, and the duration in seconds.

    Raises:
        DataError: longer than `limits.max_video_s`, or not decodable.
    """
    from videollm_plugins.encoders.video import read_video_frames

    duration = video_duration(path)
    if duration > limits.max_video_s:
        raise DataError(f"the video is {duration:.1f} s long, over this page's limit of {limits.max_video_s:g} s",
                        where=path.name, hint="upload a shorter clip (the server's --max-video-s sets the limit)")
    frames, timestamps, info = read_video_frames(path, fps)  # [T, H, W, 3] uint8
    if float(info["duration"]) > limits.max_video_s:  # metadata that understated the length
        raise DataError(f"the video is {info['duration']:.1f} s long, over this page's limit of {limits.max_video_s:g} s",
                        where=path.name, hint="upload a shorter clip")
    x = frames.permute(0, 3, 1, 2).float() / 255.0
    if x.shape[-2:] != (size, size):
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
    rows = x.reshape(x.shape[0], -1).numpy().astype(np.float32, copy=False)
    return rows, timestamps.numpy(), float(info["duration"])


def read_feature_file(path: Path, fps: float, dim: int, limits: Limits) -> tuple[np.ndarray, np.ndarray, float]:
    """A `.npy` feature file `[T, dim]` (no pickles) -> `(features [T, dim] float32, timestamps [T, 2] s, seconds)`.

    Raises:
        DataError: not a `.npy` array, another width, non-finite values, longer than the limit.
    """
    try:
        feats = np.load(path, allow_pickle=False)
    except Exception as e:  # ValueError, pickle refusals, truncated files
        raise DataError(f"cannot read the file as a .npy array ({type(e).__name__})", where=path.name,
                        hint=f"upload a .npy feature file [T, {dim}]") from e
    if feats.ndim != 2 or feats.shape[1] != dim or not np.issubdtype(feats.dtype, np.number):
        raise DataError(f"features must be a numeric array [T, {dim}], got {feats.dtype} {list(feats.shape)}",
                        where=path.name, hint="features extracted as the model's training features were")
    feats = feats.astype(np.float32, copy=False)
    if not np.isfinite(feats).all():
        raise DataError("the features hold NaN or Inf values", where=path.name)
    seconds = feats.shape[0] / fps
    if seconds > limits.max_video_s:
        raise DataError(f"the features cover {seconds:.1f} s, over this page's limit of {limits.max_video_s:g} s",
                        where=path.name, hint="upload a shorter feature file")
    starts = np.arange(feats.shape[0], dtype=np.float32) / fps
    return feats, np.stack([starts, starts + 1.0 / fps], axis=-1), seconds


def to_tensor(rows: np.ndarray) -> torch.Tensor:
    """Rows as a float tensor (a copy the stream may keep)."""
    return torch.from_numpy(np.ascontiguousarray(rows, dtype=np.float32))


__all__ = ["Limits", "check_upload", "video_duration", "read_video_rows", "read_feature_file"]

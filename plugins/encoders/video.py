"""Reading real video files with PyAV: frames sampled at a fixed rate, with their times.

Sampling: `frame_rate` frames per second, at times `k / frame_rate` seconds
(`k = 0, 1, ...` while the time is inside the video); sample `k` is the decoded
frame shown at that time (the last frame whose presentation time is `<=` it) and
covers `[k / frame_rate, min((k + 1) / frame_rate, duration)]` seconds.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
from torch import Tensor

from videollm_core import DataError, VideoBatch

_EPS = 1e-6


def read_video_frames(path: str | Path, frame_rate: float) -> tuple[Tensor, Tensor, dict[str, Any]]:
    """Decode `path` and sample it at `frame_rate` frames per second.

    Returns:
        `frames [T, H, W, 3]` uint8 RGB, `timestamps [T, 2]` float seconds (start,
        end of each sample), and `info` with `fps` (the file's frame rate) and
        `duration` (seconds).

    Raises:
        DataError: the file is missing, unreadable or holds no video frames.
    """
    import av  # lazy: optional dependency (extra "video")

    path = Path(path)
    if not path.is_file():
        raise DataError("video file not found", where=str(path), hint="check meta['video_path'] or the dataset's video root")
    if frame_rate <= 0:
        raise DataError(f"frame_rate must be > 0 frames per second, got {frame_rate}", where=str(path))
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise DataError("the file has no video stream", where=str(path), hint="give a video file (mp4, mkv, webm...)")
            stream = container.streams.video[0]
            fps = float(stream.average_rate or stream.guessed_rate or 0.0) or None
            picked: list[np.ndarray] = []
            prev: tuple[float, np.ndarray] | None = None
            last_time = 0.0
            for frame in container.decode(stream):
                t = float(frame.time) if frame.time is not None else (len(picked) / fps if fps else 0.0)
                image = frame.to_ndarray(format="rgb24")
                while prev is not None and len(picked) / frame_rate < t - _EPS:  # targets before this frame
                    picked.append(prev[1])
                prev, last_time = (t, image), t
            if prev is None:
                raise DataError("no video frame could be decoded", where=str(path), hint="the file may be empty or truncated")
            duration = _duration(container, stream, last_time, fps)
            while len(picked) / frame_rate < duration - _EPS:  # targets at or after the last frame
                picked.append(prev[1])
    except DataError:
        raise
    except Exception as e:  # av.error.* : corrupt or unsupported file
        raise DataError(f"cannot decode video: {type(e).__name__}: {e}", where=str(path),
                        hint="re-encode it (e.g. ffmpeg -i IN -c:v libx264 OUT.mp4)") from e
    starts = torch.arange(len(picked), dtype=torch.float64) / frame_rate
    ends = torch.clamp(starts + 1.0 / frame_rate, max=duration)
    frames = torch.from_numpy(np.stack(picked))
    return frames, torch.stack([starts, ends], dim=-1).float(), {"fps": fps, "duration": duration}


def _duration(container: Any, stream: Any, last_time: float, fps: float | None) -> float:
    """Seconds: the stream's own duration, else the container's, else last frame + 1/fps."""
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return float(container.duration) / 1_000_000  # av.time_base is microseconds
    return last_time + (1.0 / fps if fps else 0.0)


def video_batch_from_paths(
    paths: Sequence[str | Path],
    video_ids: Sequence[str] | None = None,
    queries: Sequence[str] | None = None,
    targets: dict[str, Any] | None = None,
) -> VideoBatch:
    """A [`VideoBatch`][videollm_core.types.VideoBatch] that names its videos instead of holding features.

    `features [B, 0, 0]`, `mask [B, 0]`, `timestamps [B, 0, 2]`; each
    `meta[i]` holds `video_id` (default: the file stem) and `video_path`.
    `FrameEncoder` decodes the files itself.
    """
    b = len(paths)
    ids = list(video_ids) if video_ids is not None else [Path(p).stem for p in paths]
    if len(ids) != b:
        raise DataError(f"{len(ids)} video ids for {b} videos", where="video_batch_from_paths", hint="give one id per path")
    return VideoBatch(
        features=torch.zeros(b, 0, 0),
        mask=torch.zeros(b, 0, dtype=torch.bool),
        timestamps=torch.zeros(b, 0, 2),
        queries=list(queries) if queries is not None else None,
        targets=dict(targets or {}),
        meta=[{"video_id": i, "video_path": str(p)} for i, p in zip(ids, paths)],
    )

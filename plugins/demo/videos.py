"""Demo videos: short synthetic mp4 clips whose pixels carry a demo's labels.

A task's demo features (`<video>.npy`, `[T, Df]`, one row per feature step) already
plant the task's signal: class prototypes plus noise, verb cues seen only at a segment's
start, a queried topic shown during its windows. `render_frames` paints each step's
feature vector as one picture, a mix of `Df` smooth colour waves:

    frame(x, y, c) = carrier(x, y, c) + gain * sum_i tanh(f_i / 3) * wave_i(x, y, c)     (clipped to 0..1)

so what a step shows (and what it does not: the verb of an action is visible only in the
segment's first steps) is exactly what its feature shows, and a model reading the frames has
the same task to learn as one reading the features -- online actions still need the stream's
history. Every wave covers the whole frame, so every image patch a backbone sees holds every
feature dimension (patch embeddings are linear in pixels: a small randomly initialised ViT's
frame embedding keeps the signal). Frames are `size x size` RGB (default 64), written with
H.264 (`libx264`, `yuv420p`, playable in every browser) at `rate` frames per second, each
step held for `rate / steps_per_second` frames, so sampling the file at the step rate
(`read_video_frames`) returns one frame per step.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from videollm_core.errors import ConfigError, DataError

#: side of the written frames in pixels (even: yuv420p halves the chroma planes).
FRAME_SIZE = 64
#: seed of the colour waves: the same picture code for every demo, so a model's clips all read alike.
WAVE_SEED = 1234


#: cycles per frame side of the waves: multiples of 4, so every wave repeats each quarter of the frame and
#: a backbone whose patches tile the frame 4 x 4 (or finer by a power of 2) sees every wave in every patch
#: (a pattern that does not repeat with the patch grid cancels out when patch embeddings are averaged).
WAVE_FREQUENCIES = ((4, 0), (0, 4), (4, 4), (4, -4), (8, 0), (0, 8), (8, 4), (4, 8))


def colour_waves(dim: int, size: int = FRAME_SIZE, seed: int = WAVE_SEED) -> np.ndarray:
    """`dim` RGB waves `[dim, size, size, 3]` in -1..1 (`WAVE_FREQUENCIES` in turn, random phase and hue)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size].astype(np.float32) / size  # [S, S] in 0..1
    waves = np.empty((dim, size, size, 3), np.float32)
    for i in range(dim):
        fx, fy = WAVE_FREQUENCIES[i % len(WAVE_FREQUENCIES)]
        phase = rng.uniform(0, 2 * math.pi)
        hue = rng.normal(size=3)
        hue /= np.linalg.norm(hue)
        pattern = np.cos(2 * math.pi * (fx * x + fy * y) + phase)  # [S, S]
        waves[i] = pattern[..., None] * hue[None, None, :]
    return waves


def carrier(size: int = FRAME_SIZE) -> np.ndarray:
    """The fixed picture every frame is drawn on `[size, size, 3]` in 0.2..0.8: a diagonal colour ramp.

    A backbone normalises each patch embedding (LayerNorm); on a fixed, strong carrier the
    norm is about the same for every frame, so the embeddings stay close to linear in the code."""
    y, x = np.mgrid[0:size, 0:size].astype(np.float32) / max(1, size - 1)
    return 0.2 + 0.6 * np.stack([x, y, 1.0 - 0.5 * (x + y)], axis=-1)


def render_frames(features: np.ndarray, size: int = FRAME_SIZE, gain: float | None = None) -> np.ndarray:
    """Feature steps `[T, Df]` -> frames `[T, size, size, 3]` uint8 RGB, one per step (see the module doc)."""
    feats = np.asarray(features, dtype=np.float32)
    if feats.ndim != 2 or not np.isfinite(feats).all():
        raise DataError(f"demo features must be finite [T, Df], got shape {list(feats.shape)}", where="render_frames")
    waves = colour_waves(feats.shape[1], size)
    gain = gain if gain is not None else 1.2 / math.sqrt(feats.shape[1])
    code = np.tanh(feats / 3.0)  # [T, Df] in -1..1
    frames = carrier(size)[None] + gain * np.einsum("td,dhwc->thwc", code, waves)
    return (np.clip(frames, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def write_video(path: str | Path, frames: np.ndarray, rate: int, repeat: int = 1) -> Path:
    """Write `frames [T, S, S, 3]` uint8 as an H.264 mp4 at `rate` fps, each frame shown `repeat` times."""
    import av  # lazy: the "video" / "demo" extra

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=int(rate))
        stream.width, stream.height, stream.pix_fmt = frames.shape[2], frames.shape[1], "yuv420p"
        stream.options = {"crf": "18", "preset": "veryfast", "tune": "stillimage"}
        for image in frames:
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")
            for _ in range(repeat):
                for packet in stream.encode(frame):
                    container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def video_timing(steps_per_second: float, min_rate: int = 4) -> tuple[int, int]:
    """`(rate, repeat)`: the file's frames per second and frames per feature step, `rate = repeat * steps_per_second`.

    Raises:
        ConfigError: a step rate that no whole number of frames per second matches (e.g. 3.7 steps/s).
    """
    repeat = max(1, math.ceil(min_rate / steps_per_second))
    rate = repeat * steps_per_second
    if abs(rate - round(rate)) > 1e-6:
        raise ConfigError(f"cannot write demo videos for {steps_per_second} feature steps per second",
                          where="videollm demo-data --videos", hint="demo videos need a whole number of frames per step")
    return int(round(rate)), repeat


def write_demo_videos(features: dict[str, np.ndarray], steps_per_second: float, out_dir: str | Path,
                      size: int = FRAME_SIZE) -> list[Path]:
    """One `<out_dir>/<video_id>.mp4` per `features[video_id] [T, Df]` (step rate `steps_per_second`); the paths."""
    rate, repeat = video_timing(steps_per_second)
    return [write_video(Path(out_dir) / f"{vid}.mp4", render_frames(f, size), rate, repeat) for vid, f in sorted(features.items())]


__all__ = ["FRAME_SIZE", "colour_waves", "render_frames", "write_video", "video_timing", "write_demo_videos"]

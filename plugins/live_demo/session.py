"""One browser session's answer run: an upload streamed through the model, the timeline growing.

`answer_upload` reads what a session uploaded (a video, or a feature file in features
mode; `uploads`), opens a **new** `VideoStream` for it
(its own encoder, translator and key/value cache: nothing is shared between sessions but the
frozen weights) and pushes the steps `chunk` at a time, yielding the
`Timeline` after every push that completed units. A 10-second clip at 4
steps/s is 40 steps; the first yield comes after decoding plus one push.
"""
from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

from videollm_core.errors import DataError

from .model import DemoModel
from .timeline import Timeline
from .uploads import Limits, read_feature_file, read_video_rows, to_tensor

#: feature steps per push: small, so the first answers come early and the page keeps ahead of playback.
CHUNK_STEPS = 4


def unit_seconds(model: DemoModel) -> float:
    """Seconds between unit starts: the encoder's unit stride in steps over the step rate."""
    encoder = model.pipeline.encoder
    unitizer = getattr(encoder, "unitizer", encoder)
    stride = int(getattr(unitizer, "stride", None) or getattr(unitizer, "unit_size", 1) or 1)
    return stride / model.fps


def read_upload(model: DemoModel, video: Path | None, features: Path | None,
                limits: Limits) -> tuple[np.ndarray, np.ndarray, float]:
    """`(steps [T, D], timestamps [T, 2] s, duration s)` of a session's upload: video rows in
    video mode, the feature file in features mode (then `video` is for display only)."""
    if model.reads_pixels:
        if video is None:
            raise DataError("upload a video first", where="video")
        return read_video_rows(video, model.fps, int(model.size or 32), limits)
    if features is None:
        raise DataError(f"this model reads {model.feature_dim}-dim features: upload a .npy feature file "
                        "(the video is optional, for display)", where="features")
    return read_feature_file(features, model.fps, int(model.feature_dim or 0), limits)


def answer_steps(model: DemoModel, steps: np.ndarray, timestamps: np.ndarray, duration: float,
                 query: str | None = None, chunk: int = CHUNK_STEPS, top: int = 3) -> Iterator[Timeline]:
    """Stream `steps [T, D]` (`timestamps [T, 2]` s) through a new stream of `model`; the
    timeline after each push that gave answers, and once more, `done`, after the end."""
    query = (query or "").strip() or None
    if model.query and query is None:
        raise DataError("type a query first: this model finds the moments of a text query", where="query")
    timeline = Timeline(model.task, duration, unit_seconds(model))
    head, state, units = model.pipeline.heads[model.task], {}, 0
    with torch.no_grad():
        stream = model.pipeline.stream(task=model.task, query=query if model.query else None, step_seconds=1.0 / model.fps)
        x, ts = to_tensor(steps), torch.from_numpy(np.ascontiguousarray(timestamps, dtype=np.float32))
        for first in range(0, x.shape[0], chunk):
            outputs = stream.push(x[first : first + chunk], ts[first : first + chunk])
            if outputs is None:
                continue
            answers = head.stream_answer(outputs, units, stream.units - units, top=top, class_names=model.class_names,
                                         state=state, final=False)
            units = stream.units
            timeline.add(answers, float(ts[min(first + chunk, x.shape[0]) - 1, 1]))
            yield timeline
        outputs = stream.flush()
        answers = head.stream_answer(outputs or {}, units, stream.units - units, top=top, class_names=model.class_names,
                                     state=state, final=True)
        timeline.add(answers, duration)
    timeline.done = True
    yield timeline


def answer_upload(model: DemoModel, limits: Limits, video: Path | None = None, features: Path | None = None,
                  query: str | None = None) -> Iterator[dict[str, Any]]:
    """The page's view of one upload, pushed as it grows: `Timeline.to_json()` plus
    `first_answer_s` (seconds from the call to the first answers) and `units_per_s`
    (units answered per second of compute, against `fps / stride` played per second)."""
    t0 = time.perf_counter()
    steps, timestamps, duration = read_upload(model, video, features, limits)
    first: float | None = None
    for timeline in answer_steps(model, steps, timestamps, duration, query):
        now = time.perf_counter() - t0
        first = now if first is None else first
        units = len({a["unit"] for a in timeline.answers if isinstance(a.get("unit"), int)})
        yield timeline.to_json(mode=model.mode, first_answer_s=round(first, 4), elapsed_s=round(now, 4),
                               units=units, units_per_s=round(units / max(now, 1e-9), 2),
                               played_units_per_s=round(1.0 / timeline.unit_seconds, 3))


__all__ = ["CHUNK_STEPS", "answer_steps", "answer_upload", "read_upload", "unit_seconds"]

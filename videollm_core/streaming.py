"""Online use of a [`VideoLLM`][videollm_core.pipeline.VideoLLM]: feed frames as they arrive.

`VideoStream.push(features)` unitizes the new feature steps (the encoder's stream),
translates the completed units (the translator's stream, when it has one) and runs only
those tokens through the LLM, continuing its key/value cache. The per-unit cost therefore
does not grow with the length of the video, and the head outputs equal those of the full
forward pass over the whole video (causal attention; prefix and prompt tuning included,
the adapter seeds them at the start of the stream). Under `model.context` the cache is the
policy's constant-size one: a stream of any length runs at constant memory and per-unit
cost, and still equals the full forward under the same policy. Heads that generate
(captioning) continue a fork of `VideoStream.cache`, so they see the whole history.

A query goes before the units (`model.query_position: before`). A pipeline that puts it
after them (`after`: offline retrieval, the query sees the whole video) refuses to stream
with a query: there is no "after the video" while it arrives, and re-reading the query after
each push would change the scores of the units already answered.

What a user sees after each push is the head's [`stream_answer`][videollm_core.base.TaskHead.stream_answer];
its default, `class_answers`, reads class scores (named by `class_label`).
"""
from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor

from .errors import ConfigError, DataError
from .types import StreamInputs, TokenSequence, VideoBatch, pack_segments


class VideoStream:
    """`B` videos streamed together through one pipeline task.

    Args:
        pipeline: the [`VideoLLM`][videollm_core.pipeline.VideoLLM] (put it in `eval()` mode first).
        batch_size: `B` videos pushed together (same number of steps each push).
        task: the task whose head answers (default: the only one).
        query: one query for all videos, or `B` queries (`[query text]` of the stream).
        step_seconds: duration of one feature step, for pushes without timestamps.

    Raises:
        ConfigError: a query with a pipeline whose `query_position` is `"after"` (see above).

    Attributes: `units` (units processed per video), `steps` (feature steps received),
    `cache` (the adapter's cache after the last push).
    """

    def __init__(self, pipeline: Any, batch_size: int = 1, task: str | None = None,
                 query: str | list[str] | None = None, step_seconds: float = 1.0):
        if batch_size < 1:
            raise DataError(f"batch_size must be >= 1, got {batch_size}", where="stream")
        self.pipeline = pipeline
        self.task = pipeline.task_name(task)
        self.batch_size = batch_size
        self.queries: list[str | None] = [query] * batch_size if isinstance(query, str) or query is None else list(query)
        if pipeline.query_positions[self.task] == "after" and any(self.queries):
            raise ConfigError("this model reads the query after the whole video: it cannot stream with a query",
                              where="model.query_position", hint="run the full forward (pipeline(batch)) or train with "
                              "query_position: before, where every unit sees the query first")
        self.step_seconds = float(step_seconds)
        #: where pushed features go (the pipeline's parameters' device, looked up once).
        self.device = next((p.device for p in pipeline.parameters()), torch.device("cpu"))
        self.units = 0
        self.steps = 0
        self._encoders = [pipeline.encoder_for(self.task).open_stream() for _ in range(batch_size)]
        translator = pipeline.translator_for(self.task)
        self._translators = [translator.open_stream() for _ in range(batch_size)]
        self.cache: Any = None
        with torch.no_grad():
            segments = pipeline.text_segments(self.task, self.queries if any(self.queries) else None, batch_size)
            if segments:
                embeds, mask, _ = pack_segments(segments)
                _, self.cache = pipeline.llm(embeds, mask, use_cache=True)

    def _check(self, features: Any, timestamps: Any) -> tuple[Tensor, Tensor]:
        """`(features [B, T, Df], timestamps [B, T, 2])` as float tensors on the pipeline's device
        (numpy arrays and lists are taken too); non-finite values are refused, naming the step."""
        device = self.device
        if isinstance(features, np.ndarray) and not features.flags.writeable:  # a memory-mapped .npy
            features = np.array(features)
        features = torch.as_tensor(features, device=device)
        features = features if features.is_floating_point() else features.float()
        timestamps = None if timestamps is None else torch.as_tensor(timestamps, dtype=torch.float32, device=device)
        if features.dim() == 2:
            features = features.unsqueeze(0)
            timestamps = timestamps.unsqueeze(0) if timestamps is not None else None
        if features.dim() != 3 or features.shape[0] != self.batch_size:
            raise DataError(f"push takes features [T, Df] or [B={self.batch_size}, T, Df], got {list(features.shape)}",
                            where="stream.push")
        t = features.shape[1]
        finite = torch.isfinite(features).flatten(2).all(-1).all(0)  # [T]
        if not bool(finite.all()):
            step = self.steps + int((~finite).nonzero()[0])
            raise DataError(f"non-finite feature values (NaN or Inf) at step {step} of the stream", where="stream.push",
                            hint="check the feature file or the extractor; the model never scores NaN features")
        if timestamps is None:
            start = torch.arange(self.steps, self.steps + t, dtype=features.dtype, device=features.device)
            timestamps = torch.stack([start, start + 1], dim=-1) * self.step_seconds
            timestamps = timestamps.unsqueeze(0).expand(self.batch_size, t, 2)
        if tuple(timestamps.shape) != (self.batch_size, t, 2):
            raise DataError(f"timestamps must be [T, 2] or [B, T, 2] seconds matching features, got {list(timestamps.shape)}",
                            where="stream.push")
        return features, timestamps

    def push(self, features: Tensor | np.ndarray, timestamps: Tensor | None = None) -> dict[str, Any] | None:
        """New feature steps `[T, Df]` (or `[B, T, Df]`; a tensor or a numpy array), `timestamps [T, 2]` s (default:
        consecutive steps of `step_seconds`) -> the head's outputs for the `n` units they
        completed (`hidden [B, n, H]` went to the head), or None when no unit completed."""
        features, timestamps = self._check(features, timestamps)
        self.steps += features.shape[1]
        units = [enc.push(features[i], timestamps[i]) for i, enc in enumerate(self._encoders)]
        batch = VideoBatch(features=features, mask=torch.ones(features.shape[:2], dtype=torch.bool, device=features.device),
                           timestamps=timestamps, queries=self.queries if any(self.queries) else None,
                           meta=[{"video_id": f"stream{i}", "first_unit": self.units} for i in range(self.batch_size)])
        return self._advance(units, batch)

    def flush(self) -> dict[str, Any] | None:
        """End of the videos: outputs for trailing partial units (encoders with `flush`), or None."""
        units = [enc.flush() for enc in self._encoders]
        d = self.pipeline.encoder_for(self.task).in_dim
        empty = torch.zeros(self.batch_size, 0, d)
        batch = VideoBatch(features=empty, mask=torch.zeros(self.batch_size, 0, dtype=torch.bool),
                           timestamps=torch.zeros(self.batch_size, 0, 2), queries=None,
                           meta=[{"video_id": f"stream{i}", "first_unit": self.units} for i in range(self.batch_size)])
        return self._advance(units, batch)

    @torch.no_grad()
    def _advance(self, units: list[TokenSequence | None], batch: VideoBatch) -> dict[str, Any] | None:
        counts = {0 if u is None else u.embeds.shape[1] for u in units}
        if counts == {0}:
            return None
        if len(counts) != 1:
            raise DataError(f"the videos completed different numbers of units {sorted(counts)} in one push",
                            where="stream.push", hint="push the same number of steps to every video")
        p = self.pipeline
        translated = [tr.push(u) for tr, u in zip(self._translators, units)]
        tokens = TokenSequence(torch.cat([t.embeds for t in translated]), torch.cat([t.mask for t in translated]),
                               torch.cat([t.spans for t in translated]))
        k = p.translator_for(self.task).tokens_per_unit
        hidden, self.cache = p.llm(tokens.embeds, tokens.mask, cache=self.cache, use_cache=True)
        n = tokens.embeds.shape[1] // k
        positions = (torch.arange(n, device=hidden.device) * k + k - 1).expand(self.batch_size, n)
        visual = TokenSequence(tokens.embeds[:, k - 1 :: k], tokens.mask[:, k - 1 :: k], tokens.spans[:, k - 1 :: k])
        stream = StreamInputs(visual=visual, embeds=tokens.embeds, mask=tokens.mask, visual_positions=positions,
                              cache=self.cache, hidden=hidden, tokens_per_unit=k)
        self.units += n
        return p.heads[self.task](hidden[:, k - 1 :: k], batch, stream)


# -- answers ------------------------------------------------------------------------
def class_label(names: list[str] | None, num_classes: int, index: int) -> str | int:
    """The name of class `index` of a `num_classes`-way output, given the model's recorded
    class names (its dataset's [`class_names`][videollm_core.data.VideoDataset.class_names]): one name
    per output, or one per output after a leading background class (EK100 online detection,
    whose head class `a + 1` is action `a`). Otherwise the id itself."""
    if names and len(names) == num_classes:
        return names[index]
    if names and len(names) == num_classes - 1:
        return "background" if index == 0 else names[index - 1]
    return int(index)


def named_output(sizes: dict[str, int], names: list[str] | None) -> str | None:
    """The one output (`{key: number of classes}`) the recorded class `names` belong to: the
    only one whose size fits them (`class_label`); None when none or several fit (then
    every answer shows class ids rather than a guess)."""
    fits = [key for key, n in sizes.items() if names and n in (len(names), len(names) + 1)]
    return fits[0] if len(fits) == 1 else None


def class_answers(outputs: dict[str, Any], first_unit: int, n_units: int, top: int = 3,
                  names: list[str] | None = None) -> list[dict[str, Any]]:
    """The default [`stream_answer`][videollm_core.base.TaskHead.stream_answer]: answers read from the shapes
    of a push's outputs (video 0), which completed units `first_unit .. first_unit + n_units - 1`.

    Per-unit class scores `[1, n, C]` give `{unit, KEY: [[class, prob], ...]}` (top `top` of
    the softmax; the classes of the one output the recorded `names` belong to, `named_output`,
    are named by `class_label`, the others keep their ids); per-video scores `[1, C]`
    (anticipation) answer for the newest unit; generated `captions` too, when not empty.
    """
    per_unit, per_video = {}, {}
    for key, value in outputs.items():
        if not isinstance(value, Tensor) or not value.is_floating_point() or key in ("spans", "offsets"):
            continue
        if value.dim() == 3 and value.shape[1] == n_units:
            per_unit[key] = value[0].float().softmax(-1)
        elif value.dim() == 2 and value.shape[0] == 1 and value.shape[1] > 1:
            per_video[key] = value[0].float().softmax(-1)
    named = named_output({key: int(p.shape[-1]) for key, p in {**per_unit, **per_video}.items()}, names)

    def ranked(probs: Tensor, key: str) -> list[list[Any]]:
        values, idx = probs.topk(min(top, probs.shape[-1]))
        table = names if key == named else None
        return [[class_label(table, probs.shape[-1], i), round(float(v), 6)] for v, i in zip(values.tolist(), idx.tolist())]

    answers: list[dict[str, Any]] = [{"unit": first_unit + j, **{key: ranked(p[j], key) for key, p in per_unit.items()}} for j in range(n_units)] \
        if per_unit else []
    captions = outputs.get("captions")
    caption = captions[0] if isinstance(captions, list) and captions and captions[0] else None
    if per_video or caption:
        newest: dict[str, Any] = answers[-1] if answers else {"unit": first_unit + n_units - 1}
        newest.update({key: ranked(p, key) for key, p in per_video.items()})
        newest.update({"caption": caption} if caption else {})
        answers = answers or [newest]
    return answers


__all__ = ["VideoStream", "class_answers", "class_label", "named_output"]

"""Online use of a :class:`~videollm_core.pipeline.VideoLLM`: feed frames as they arrive.

``VideoStream.push(features)`` unitizes the new feature steps (the encoder's stream),
translates the completed units (the translator's stream, when it has one) and runs only
those tokens through the LLM, continuing its key/value cache. The per-unit cost therefore
does not grow with the length of the video, and the head outputs equal those of the full
forward pass over the whole video (causal attention; prefix and prompt tuning included,
the adapter seeds them at the start of the stream). Under ``model.context`` the cache is the
policy's constant-size one: a stream of any length runs at constant memory and per-unit
cost, and still equals the full forward under the same policy. Heads that generate
(captioning) continue a fork of :attr:`VideoStream.cache`, so they see the whole history.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor

from .errors import DataError
from .types import StreamInputs, TokenSequence, VideoBatch, pack_segments


class VideoStream:
    """``B`` videos streamed together through one pipeline task.

    Args:
        pipeline: the :class:`~videollm_core.pipeline.VideoLLM` (put it in ``eval()`` mode first).
        batch_size: ``B`` videos pushed together (same number of steps each push).
        task: the task whose head answers (default: the only one).
        query: one query for all videos, or ``B`` queries (``[query text]`` of the stream).
        step_seconds: duration of one feature step, for pushes without timestamps.

    Attributes: ``units`` (units processed per video), ``steps`` (feature steps received),
    ``cache`` (the adapter's cache after the last push).
    """

    def __init__(self, pipeline: Any, batch_size: int = 1, task: str | None = None,
                 query: str | list[str] | None = None, step_seconds: float = 1.0):
        if batch_size < 1:
            raise DataError(f"batch_size must be >= 1, got {batch_size}", where="stream")
        self.pipeline = pipeline
        self.task = pipeline.task_name(task)
        self.batch_size = batch_size
        self.queries = [query] * batch_size if isinstance(query, str) or query is None else list(query)
        self.step_seconds = float(step_seconds)
        #: where pushed features go (the pipeline's parameters' device, looked up once).
        self.device = next((p.device for p in pipeline.parameters()), torch.device("cpu"))
        self.units = 0
        self.steps = 0
        self._encoders = [pipeline.encoder.open_stream() for _ in range(batch_size)]
        translator = pipeline.translator
        self._translators = [translator.open_stream() for _ in range(batch_size)]
        self.cache: Any = None
        with torch.no_grad():
            segments = pipeline.text_segments(self.task, self.queries if any(self.queries) else None, batch_size)
            if segments:
                embeds, mask, _ = pack_segments(segments)
                _, self.cache = pipeline.llm(embeds, mask, use_cache=True)

    def _check(self, features: Any, timestamps: Any) -> tuple[Tensor, Tensor]:
        """``(features [B, T, Df], timestamps [B, T, 2])`` as float tensors on the pipeline's device
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
        """New feature steps ``[T, Df]`` (or ``[B, T, Df]``; a tensor or a numpy array), ``timestamps [T, 2]`` s (default:
        consecutive steps of ``step_seconds``) -> the head's outputs for the ``n`` units they
        completed (``hidden [B, n, H]`` went to the head), or None when no unit completed."""
        features, timestamps = self._check(features, timestamps)
        self.steps += features.shape[1]
        units = [enc.push(features[i], timestamps[i]) for i, enc in enumerate(self._encoders)]
        batch = VideoBatch(features=features, mask=torch.ones(features.shape[:2], dtype=torch.bool, device=features.device),
                           timestamps=timestamps, queries=self.queries if any(self.queries) else None,
                           meta=[{"video_id": f"stream{i}", "first_unit": self.units} for i in range(self.batch_size)])
        return self._advance(units, batch)

    def flush(self) -> dict[str, Any] | None:
        """End of the videos: outputs for trailing partial units (encoders with ``flush``), or None."""
        units = [enc.flush() for enc in self._encoders]
        d = self.pipeline.encoder.in_dim
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
        k = p.translator.tokens_per_unit
        hidden, self.cache = p.llm(tokens.embeds, tokens.mask, cache=self.cache, use_cache=True)
        n = tokens.embeds.shape[1] // k
        positions = (torch.arange(n, device=hidden.device) * k + k - 1).expand(self.batch_size, n)
        visual = TokenSequence(tokens.embeds[:, k - 1 :: k], tokens.mask[:, k - 1 :: k], tokens.spans[:, k - 1 :: k])
        stream = StreamInputs(visual=visual, embeds=tokens.embeds, mask=tokens.mask, visual_positions=positions,
                              cache=self.cache, hidden=hidden, tokens_per_unit=k)
        self.units += n
        return p.heads[self.task](hidden[:, k - 1 :: k], batch, stream)


__all__ = ["VideoStream"]

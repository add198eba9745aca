"""Data contracts between the stages of a VideoLLM pipeline.

Shapes use `B` batch, `T` feature steps (frames or clips as stored on disk),
`N` tokens, `Df` feature dimension, `D` embedding dimension. Times are in
**seconds** everywhere unless a name says `frame` or `unit`.
"""
from __future__ import annotations

import functools

from dataclasses import dataclass, field, replace
from typing import Any, cast

import torch
from torch import Tensor


def _move(value: Any, device: torch.device | str) -> Any:
    if isinstance(value, Tensor):
        return value.to(device)
    if isinstance(value, dict):
        return {k: _move(v, device) for k, v in value.items()}
    if isinstance(value, (list, tuple)) and value and isinstance(value[0], Tensor):
        return type(value)(_move(v, device) for v in value)
    return value


@dataclass
class VideoBatch:
    """A batch of videos as the modality encoder receives it.

    Attributes:
        features: `[B, T, Df]` float, precomputed per-frame or per-clip features
            (or pixels `[B, T, C, H, W]` for pixel encoders), right-padded.
        mask: `[B, T]` bool, True on real feature steps.
        timestamps: `[B, T, 2]` float seconds, start and end of each feature step
            (a clip feature covers `[start, end)`; padded steps hold zeros).
        queries: optional natural-language query per video (`len == B`).
        targets: task-specific training targets (tensors with leading `B`, or lists).
        meta: one dict per video: at least `video_id`; usually `fps`, `duration`
            (seconds) and whatever the task's predictions writer needs (e.g. `qid`).
    """

    features: Tensor
    mask: Tensor
    timestamps: Tensor
    queries: list[str | None] | None = None
    targets: dict[str, Any] = field(default_factory=dict)
    meta: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        b, t = self.features.shape[:2]
        if tuple(self.mask.shape) != (b, t):
            raise ValueError(f"VideoBatch.mask must be [B, T] = [{b}, {t}], got {list(self.mask.shape)}")
        if tuple(self.timestamps.shape) != (b, t, 2):
            raise ValueError(
                f"VideoBatch.timestamps must be [B, T, 2] = [{b}, {t}, 2] seconds, got {list(self.timestamps.shape)}"
            )
        if self.queries is not None and len(self.queries) != b:
            raise ValueError(f"VideoBatch.queries must hold B = {b} strings, got {len(self.queries)}")
        if self.mask.dtype != torch.bool:
            self.mask = self.mask.bool()

    @property
    def batch_size(self) -> int:
        return int(self.features.shape[0])

    def to(self, device: torch.device | str) -> "VideoBatch":
        """Return a copy with every tensor (also inside `targets`) on `device`."""
        return replace(
            self,
            features=self.features.to(device),
            mask=self.mask.to(device),
            timestamps=self.timestamps.to(device),
            targets=_move(self.targets, device),
        )


@dataclass
class TokenSequence:
    """A sequence of embedded tokens on its way to (or out of) the LLM.

    Attributes:
        embeds: `[B, N, D]` float token embeddings.
        mask: `[B, N]` bool, True on real tokens (right padding).
        spans: `[B, N, 2]` float seconds, start/end of the video span each visual
            token summarises (zeros for text tokens), so heads can map tokens to time.
        steps: optional `[B, N, U, D]` float, the `U` feature steps each visual unit
            was pooled from, in the same `D` as `embeds` (unit encoders fill it, so a
            translator such as a Q-Former can attend inside the unit); `None` otherwise.
        step_mask: `[B, N, U]` bool, True on real steps; given with `steps`.
    """

    embeds: Tensor
    mask: Tensor
    spans: Tensor
    steps: Tensor | None = None
    step_mask: Tensor | None = None

    def __post_init__(self) -> None:
        if self.embeds.dim() != 3:
            raise ValueError(f"TokenSequence.embeds must be [B, N, D], got {list(self.embeds.shape)}")
        b, n = self.embeds.shape[:2]
        if tuple(self.mask.shape) != (b, n):
            raise ValueError(f"TokenSequence.mask must be [B, N] = [{b}, {n}], got {list(self.mask.shape)}")
        if tuple(self.spans.shape) != (b, n, 2):
            raise ValueError(f"TokenSequence.spans must be [B, N, 2] = [{b}, {n}, 2], got {list(self.spans.shape)}")
        if self.mask.dtype != torch.bool:
            self.mask = self.mask.bool()
        if (self.steps is None) != (self.step_mask is None):
            raise ValueError("TokenSequence.steps and step_mask go together")
        if self.steps is not None and self.step_mask is not None:  # (they go together)
            if self.steps.dim() != 4 or tuple(self.steps.shape[:2]) != (b, n) or self.steps.shape[-1] != self.embeds.shape[-1]:
                raise ValueError(f"TokenSequence.steps must be [B, N, U, D] = [{b}, {n}, U, {self.embeds.shape[-1]}], "
                                 f"got {list(self.steps.shape)}")
            if tuple(self.step_mask.shape) != tuple(self.steps.shape[:3]):
                raise ValueError(f"TokenSequence.step_mask must be [B, N, U] = {list(self.steps.shape[:3])}, "
                                 f"got {list(self.step_mask.shape)}")
            if self.step_mask.dtype != torch.bool:
                self.step_mask = self.step_mask.bool()

    @property
    def dim(self) -> int:
        return int(self.embeds.shape[-1])

    def with_embeds(self, embeds: Tensor) -> "TokenSequence":
        """Same mask and spans, new `embeds` `[B, N, D']` (the steps, in the old `D`, are dropped)."""
        return TokenSequence(embeds=embeds, mask=self.mask, spans=self.spans)

    def slice(self, start: int, stop: int | None = None) -> "TokenSequence":
        """Tokens `start .. stop - 1` (along `N`), steps included."""
        keep = slice(start, stop)
        steps = None if self.steps is None else self.steps[:, keep]
        step_mask = None if self.step_mask is None else self.step_mask[:, keep]
        return TokenSequence(self.embeds[:, keep], self.mask[:, keep], self.spans[:, keep], steps, step_mask)

    @staticmethod
    def cat(parts: "list[TokenSequence]", dim: int = 1) -> "TokenSequence":
        """Concatenate along `N` (`dim=1`) or `B` (`dim=0`); steps kept when every part has them
        with the same `U`."""
        steps = [p.steps for p in parts if p.steps is not None]
        with_steps = len(steps) == len(parts) and len({s.shape[2] for s in steps}) == 1
        return TokenSequence(
            torch.cat([p.embeds for p in parts], dim), torch.cat([p.mask for p in parts], dim),
            torch.cat([p.spans for p in parts], dim),
            torch.cat(steps, dim) if with_steps else None,
            torch.cat(cast("list[Tensor]", [p.step_mask for p in parts]), dim) if with_steps else None,
        )




@dataclass
class StreamInputs:
    """What the LLM saw, handed to task heads next to the visual hidden states.

    The token stream is `[task prompt][query text][visual tokens]` per sample
    (`model.query_position: after`: `[task prompt][visual tokens][query text]`),
    right-padded to `S` tokens.

    Attributes:
        visual: the translated visual tokens, `embeds [B, N, E]`, `mask [B, N]`,
            `spans [B, N, 2]` seconds (one token per unit; see `Translator.tokens_per_unit`).
        embeds: `[B, S, E]` the whole LLM input (without a tuner's virtual tokens).
        mask: `[B, S]` bool attention mask of `embeds`.
        visual_positions: `[B, N]` long, index in `embeds` of each unit's (last) visual
            token; `-1` on padded units.
        hidden: `[B, S, H]` the LLM's hidden states over the whole of `embeds` (text
            tokens included: a head can read the query's last state), or `None`.
        cache: the LLM's key/value cache after the stream when the pipeline ran with
            `use_cache=True` (heads that generate text continue from it), else `None`.
        tokens_per_unit: `k`, the LLM tokens the translator made per unit (`embeds` holds
            `k * N` visual tokens).
        query_positions: `[B, L]` long, index in `embeds` of each query token when the
            query comes after the visual tokens (`-1` on padding: a sample without a query
            has none), else `None` (the query, if any, is then part of the text prefix).
    """

    visual: TokenSequence
    embeds: Tensor
    mask: Tensor
    visual_positions: Tensor
    cache: Any = None
    hidden: Tensor | None = None
    tokens_per_unit: int = 1
    query_positions: Tensor | None = None


#: where the query text goes in the token stream (`model.query_position`): before the visual
#: tokens (they all see it) or after them (it sees the whole video, as the paper appends it).
QUERY_POSITIONS = ("before", "after")


def pack_segments(segments: list[TokenSequence]) -> tuple[Tensor, Tensor, list[Tensor]]:
    """Concatenate right-padded segments per sample, without the padding between them.

    Args:
        segments: `TokenSequence` s with `embeds [B, L_j, E]`, `mask [B, L_j]`.

    Returns:
        `embeds [B, S, E]`, `mask [B, S]` bool (right-padded, `S` = longest sample)
        and, per segment, `index [B, L_j]` long: where each token went (`-1` on padding). `embeds`
        has the widest dtype of the segments (an LLM loaded in bfloat16 embeds its text in bfloat16).
    """
    first = segments[0].embeds
    b, e = first.shape[0], first.shape[-1]
    offset = torch.zeros(b, dtype=torch.long, device=first.device)
    index: list[Tensor] = []
    for seg in segments:
        m = seg.mask
        index.append(torch.where(m, offset[:, None] + m.long().cumsum(1) - 1, torch.full_like(m, -1, dtype=torch.long)))
        offset = offset + m.long().sum(1)
    s = int(offset.max()) if b else 0
    dtype = functools.reduce(torch.promote_types, [seg.embeds.dtype for seg in segments])  # bf16 text + fp32 units: fp32
    embeds = first.new_zeros(b, s, e, dtype=dtype)
    for seg, idx in zip(segments, index):
        real = seg.mask
        if bool(real.any()):
            rows = torch.arange(b, device=first.device)[:, None].expand_as(idx)
            embeds = embeds.index_put((rows[real], idx[real]), seg.embeds[real].to(embeds.dtype))
    mask = torch.arange(s, device=first.device)[None, :] < offset[:, None]
    return embeds, mask, index


__all__ = ["VideoBatch", "TokenSequence", "StreamInputs", "QUERY_POSITIONS", "pack_segments"]

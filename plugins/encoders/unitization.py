"""Temporal-wise unitization: feature steps -> one token per short-term visual unit.

VideoLLM (Sec. 3.1) cuts a video along time into short-term visual units and pools
each unit into one token. Here a unit is a window of `unit_size` consecutive
feature steps (frames or clips as stored), windows start every `stride` steps.

Units of a video with `L` real steps (right padding):

- unit `j` covers steps `[j * stride, j * stride + unit_size)`;
- `drop_partial=False` (default): a unit is real when it holds at least one real
  step, so there are `ceil(L / stride)` units and the trailing ones may be
  *partial*: they pool over their real steps only and their span ends at their last
  real step. Nothing at the end of a video is lost (frame-level tasks need it);
- `drop_partial=True`: a unit is real only when all `unit_size` steps are real
  (`floor((L - unit_size) / stride) + 1` units, 0 when `L < unit_size`).

Streaming (`TemporalUnitEncoder.open_stream`) produces exactly these units:
`push` returns the units whose window is complete; with `drop_partial=False` the
trailing partial units of a finished video come from `flush()`.
"""
from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor, nn

from videollm_core import ConfigError, DataError, Encoder, EncoderStream, TokenSequence, VideoBatch

POOLINGS = ("mean", "max", "attention")


def window_index(num_units: int, unit_size: int, stride: int) -> Tensor:
    """`[num_units, unit_size]` long: step index of every position of every unit."""
    starts = torch.arange(num_units) * stride
    return starts[:, None] + torch.arange(unit_size)[None, :]


def check_features(features: Tensor, in_dim: int, where: str, leading: int) -> None:
    """Raise a [`DataError`][videollm_core.errors.DataError] unless `features` is `[*leading dims, in_dim]`."""
    if features.dim() != leading + 1:
        shape = "[B, T, Df]" if leading == 2 else "[T, Df]"
        raise DataError(
            f"features must be {shape} with Df = {in_dim}, got shape {list(features.shape)}",
            where=where,
            hint="precomputed features are one vector per step; pixel input needs FrameEncoder",
        )
    if features.shape[-1] != in_dim:
        raise DataError(
            f"feature dim {features.shape[-1]} differs from the encoder's in_dim {in_dim}",
            where=where,
            hint=f"set the encoder's in_dim to {features.shape[-1]}, or use features of dim {in_dim}",
        )


class AttentionPooling(nn.Module):
    """Learned softmax attention over the steps of a unit.

    `score_t = w . x_t + b`; weights are a softmax over the unit's real steps.
    `w` starts at zero, so the pooling starts as the mean and learns from there.
    """

    def __init__(self, dim: int):
        super().__init__()
        self.score = nn.Linear(dim, 1)
        nn.init.zeros_(self.score.weight)
        nn.init.zeros_(self.score.bias)

    def forward(self, windows: Tensor, step_mask: Tensor) -> Tensor:
        """`windows [..., U, D]`, `step_mask [..., U]` bool -> `[..., D]`."""
        scores = self.score(windows).squeeze(-1).masked_fill(~step_mask, float("-inf"))
        empty = ~step_mask.any(-1, keepdim=True)  # all-padding units: avoid NaN
        weights = torch.softmax(scores.masked_fill(empty, 0.0), dim=-1) * step_mask
        return (weights.unsqueeze(-1) * windows).sum(-2)


class TemporalUnitEncoder(Encoder):
    """Temporal-wise unitization of precomputed features: one pooled token per unit.

    Args:
        in_dim: `Df`, the dimension of the feature steps.
        unit_size: steps (frames or clips, as stored) per visual unit.
        stride: steps between the starts of two units (default `unit_size`:
            non-overlapping units; smaller values overlap, larger ones skip steps).
        pooling: `mean` / `max` over the unit's real steps (no parameters) or
            `attention` (learned scores, see `AttentionPooling`).
        out_dim: token dimension; default `in_dim` (no projection), otherwise a
            learned linear projection after pooling.
        drop_partial: drop trailing units with fewer than `unit_size` real steps
            instead of pooling their real steps (see the module docstring).

    `forward`: `batch.features [B, T, in_dim]`, `batch.mask [B, T]`,
    `batch.timestamps [B, T, 2]` s -> `TokenSequence(embeds [B, N, out_dim],
    mask [B, N], spans [B, N, 2] s)` where a span is `[start of the unit's first
    step, end of its last real step]`.
    """

    def __init__(
        self,
        in_dim: int,
        unit_size: int = 1,
        stride: int | None = None,
        pooling: Literal["mean", "max", "attention"] = "mean",
        out_dim: int | None = None,
        drop_partial: bool = False,
    ):
        super().__init__()
        name = type(self).__name__
        for arg, value in (("in_dim", in_dim), ("unit_size", unit_size), ("stride", stride), ("out_dim", out_dim)):
            if value is not None and (not isinstance(value, int) or value < 1):
                raise ConfigError(f"{arg} must be a positive integer, got {value!r}", where=f"{name}.{arg}",
                                  hint=f"{arg} counts {'feature steps' if arg in ('unit_size', 'stride') else 'channels'}")
        if pooling not in POOLINGS:
            raise ConfigError(f"unknown pooling {pooling!r}", where=f"{name}.pooling", hint=f"one of {', '.join(POOLINGS)}")
        self.in_dim = in_dim
        self.out_dim = out_dim or in_dim
        self.unit_size = unit_size
        self.stride = stride or unit_size
        self.pooling = pooling
        self.drop_partial = bool(drop_partial)
        self.attention = AttentionPooling(in_dim) if pooling == "attention" else None
        self.proj = nn.Linear(in_dim, self.out_dim) if out_dim is not None and out_dim != in_dim else None

    def extra_repr(self) -> str:
        return f"in_dim={self.in_dim}, unit_size={self.unit_size}, stride={self.stride}, pooling={self.pooling}"

    # -- the unit computation shared by forward and the stream --------------------
    def encode_windows(self, windows: Tensor, step_mask: Tensor, step_times: Tensor) -> TokenSequence:
        """Pool complete or partial windows.

        Args:
            windows: `[B, N, unit_size, in_dim]` features of each unit's steps.
            step_mask: `[B, N, unit_size]` bool, real steps.
            step_times: `[B, N, unit_size, 2]` seconds of each step.

        Returns:
            `TokenSequence(embeds [B, N, out_dim], mask [B, N], spans [B, N, 2] s,
            steps [B, N, unit_size, out_dim], step_mask)`: a unit is real when it holds
            a real step; `steps` are the unit's steps (zero where padded), through the
            same projection as the pooled token.
        """
        m = step_mask.unsqueeze(-1)
        windows = torch.where(m, windows, torch.zeros((), dtype=windows.dtype, device=windows.device))
        if self.pooling == "mean":
            pooled = windows.sum(-2) / m.sum(-2).clamp(min=1).to(windows.dtype)
        elif self.pooling == "max":
            pooled = windows.masked_fill(~m, float("-inf")).amax(-2)
            pooled = torch.where(step_mask.any(-1, keepdim=True), pooled, torch.zeros_like(pooled))
        else:
            pooled = self.attention(windows, step_mask)
        steps = windows
        if self.proj is not None:
            pooled = self.proj(pooled)
            steps = self.proj(windows) * m.to(windows.dtype)
        last = (step_mask.long().cumsum(-1).argmax(-1, keepdim=True))  # index of the last real step
        start = step_times[..., 0, 0]
        end = step_times[..., 1].gather(-1, last).squeeze(-1)
        real = step_mask.any(-1)
        spans = torch.stack([start, end], dim=-1) * real.unsqueeze(-1)
        return TokenSequence(embeds=pooled, mask=real, spans=spans, steps=steps, step_mask=step_mask)

    def forward(self, batch: VideoBatch) -> TokenSequence:
        """`features [B, T, in_dim]` -> `TokenSequence([B, N, out_dim], [B, N], [B, N, 2] s)`."""
        features = batch.features
        check_features(features, self.in_dim, f"{type(self).__name__} input (VideoBatch.features)", leading=2)
        b, t = features.shape[:2]
        n = -(-t // self.stride) if t else 0
        idx = window_index(n, self.unit_size, self.stride).to(features.device)  # [N, U]
        inside = idx < t
        safe = idx.clamp(max=max(t - 1, 0))
        step_mask = batch.mask[:, safe] & inside  # [B, N, U]
        real = step_mask.all(-1) if self.drop_partial else step_mask.any(-1)  # [B, N]
        n_used = int(real.any(0).nonzero().max()) + 1 if bool(real.any()) else 0
        safe, real = safe[:n_used], real[:, :n_used]
        step_mask = step_mask[:, :n_used] & real.unsqueeze(-1)  # a dropped partial unit has no real steps
        units = self.encode_windows(features[:, safe], step_mask, batch.timestamps[:, safe])
        keep = real.unsqueeze(-1).to(units.embeds.dtype)
        return TokenSequence(embeds=units.embeds * keep, mask=real, spans=units.spans * keep,
                             steps=units.steps * keep.unsqueeze(-1), step_mask=units.step_mask)

    def open_stream(self) -> "UnitStream":
        """An incremental unitizer for one video; see `UnitStream`."""
        return UnitStream(self)


class UnitStream(EncoderStream):
    """Frames in, completed units out, for one video (batch of 1).

    Keeps the steps of units not yet complete (with `stride < unit_size` the
    overlap). Units and spans equal `TemporalUnitEncoder.forward` on the whole
    video: `push` returns units whose window is complete, `flush` the trailing
    partial ones (none with `drop_partial` or when `L` fits the grid).
    """

    def __init__(self, encoder: TemporalUnitEncoder):
        self.encoder = encoder
        self.seen = 0  # steps received
        self.next_unit = 0  # index of the next unit to emit
        self.offset = 0  # global step index of buffer row 0
        self.features: Tensor | None = None  # [M, Df]
        self.times: Tensor | None = None  # [M, 2] s

    def push(self, features: Tensor, timestamps: Tensor) -> TokenSequence | None:
        """`features [T, in_dim]`, `timestamps [T, 2]` s -> completed units `[1, n, out_dim]` or None."""
        enc = self.encoder
        check_features(features, enc.in_dim, f"{type(enc).__name__} stream push", leading=1)
        if tuple(timestamps.shape) != (features.shape[0], 2):
            raise DataError(f"timestamps must be [T, 2] = [{features.shape[0]}, 2] seconds, got {list(timestamps.shape)}",
                            where=f"{type(enc).__name__} stream push", hint="one (start, end) pair per feature step")
        if features.shape[0] == 0:
            return None
        timestamps = timestamps.to(features.dtype)
        self.features = features if self.features is None else torch.cat([self.features, features])
        self.times = timestamps if self.times is None else torch.cat([self.times, timestamps])
        self.seen += features.shape[0]
        done = self._complete_units()
        return self._emit(done)

    def flush(self) -> TokenSequence | None:
        """End of the video: the trailing partial units `[1, n, out_dim]` (or None)."""
        if self.encoder.drop_partial:
            return None
        todo = -(-self.seen // self.encoder.stride) - self.next_unit
        return self._emit(max(todo, 0))

    def _complete_units(self) -> int:
        enc = self.encoder
        if self.seen < enc.unit_size:
            return 0
        return max((self.seen - enc.unit_size) // enc.stride + 1 - self.next_unit, 0)

    def _emit(self, count: int) -> TokenSequence | None:
        if count == 0 or self.features is None:
            return None
        enc = self.encoder
        idx = window_index(count, enc.unit_size, enc.stride) + (self.next_unit * enc.stride - self.offset)
        inside = idx < self.features.shape[0]  # all True except in flush()
        safe = idx.clamp(max=self.features.shape[0] - 1).to(self.features.device)
        step_mask = inside.to(self.features.device).unsqueeze(0)
        units = enc.encode_windows(self.features[safe].unsqueeze(0), step_mask, self.times[safe].unsqueeze(0))
        self.next_unit += count
        drop = min(self.next_unit * enc.stride, self.seen) - self.offset
        self.features, self.times = self.features[drop:], self.times[drop:]
        self.offset += drop
        return units  # every emitted unit holds a real step

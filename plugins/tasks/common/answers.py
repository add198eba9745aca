"""What the heads' streaming answers share ([`videollm_core.base.TaskHead.stream_answer`][videollm_core.base.TaskHead.stream_answer]).

A push of `pipeline.stream()` hands a head the outputs of the units it completed only; a head
whose answer reads the whole stream so far (the best moments, the events) keeps those outputs in
the per-stream `state` dict (`grow`; a temporal convolution's outputs: `conv_outputs`). Moments are answered as JSON rows
`[start_s, end_s, (class,) score]` (`moment_row`), seconds from the stream's start.
"""
from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn


def grow(state: dict[str, Any], key: str, value: Tensor, dim: int = 0) -> Tensor:
    """Append `value` (this push's units) to `state[key]` along `dim`; returns all so far."""
    value = value.detach()
    state[key] = torch.cat([state[key], value], dim) if key in state else value
    return state[key]


def conv_outputs(conv: nn.Module, hidden: Tensor, old: Tensor | None, reach: int) -> Tensor:
    """The outputs `[1, N, C]` of `conv` (centred temporal convolutions over units, `[1, H, N] ->
    [1, C, N]`, each output reading `reach` units on each side) over a stream's units `hidden
    [1, N, H]`, given its outputs `old [1, N0, C]` before the push (None: none). Only units
    `N0 - reach ..` change; they are computed from the hidden states `N0 - 2 * reach ..` (zeros
    beyond the stream's edges, as over a whole video), so the result equals `conv` over all units."""
    n0 = 0 if old is None else old.shape[1]
    first = max(0, n0 - reach)
    read = max(0, first - reach)
    new = conv(hidden[:, read:].transpose(1, 2)).transpose(1, 2)[:, first - read :]
    return new if old is None else torch.cat([old[:, :first], new], 1)


def moment_row(start: float, end: float, score: float, label: str | int | None = None) -> list[Any]:
    """`[start_s, end_s, score]` (with `label`: `[start_s, end_s, label, score]`), times to
    the millisecond and the score to 6 significant digits (tiny window probabilities stay ranked)."""
    row: list[Any] = [round(float(start), 3), round(float(end), 3)]
    return row + ([] if label is None else [label]) + [float(f"{float(score):.6g}")]


__all__ = ["conv_outputs", "grow", "moment_row"]

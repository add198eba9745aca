"""A modality encoder: causal temporal convolution over feature steps, then temporal units."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from videollm_core import ConfigError, DataError, Encoder, TokenSequence, VideoBatch


class ExampleEncoder(Encoder):
    """Causal 1-D temporal convolution, then one mean-pooled token per unit of ``unit_size`` steps.

    Step ``t`` of the convolution sees steps ``t - kernel_size + 1 .. t`` only, so a unit's
    token never depends on the future (online tasks stay online).

    Args:
        in_dim: ``Df``, the feature dimension of the ``.npy`` files.
        out_dim: token dimension.
        kernel_size: convolution width, in feature steps.
        unit_size: feature steps per visual unit (non-overlapping; the last unit of a
            video may be partial and pools its real steps only).

    ``forward``: ``features [B, T, in_dim]``, ``mask [B, T]``, ``timestamps [B, T, 2]`` s
    -> ``TokenSequence(embeds [B, N, out_dim], mask [B, N], spans [B, N, 2] s)`` with
    ``N = ceil(T / unit_size)``; a span runs from the unit's first step start to its
    last real step end.
    """

    def __init__(self, in_dim: int, out_dim: int = 64, kernel_size: int = 3, unit_size: int = 1):
        super().__init__()
        for arg, value in (("in_dim", in_dim), ("out_dim", out_dim), ("kernel_size", kernel_size), ("unit_size", unit_size)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(f"{arg} must be a positive integer, got {value!r}", where=f"ExampleEncoder.{arg}")
        self.in_dim, self.out_dim = in_dim, out_dim
        self.kernel_size, self.unit_size = kernel_size, unit_size
        self.conv = nn.Conv1d(in_dim, out_dim, kernel_size)
        self.norm = nn.LayerNorm(out_dim)

    def forward(self, batch: VideoBatch) -> TokenSequence:
        x = batch.features
        if x.dim() != 3 or x.shape[-1] != self.in_dim:
            raise DataError(f"features must be [B, T, {self.in_dim}], got {list(x.shape)}", where="ExampleEncoder",
                            hint=f"set the encoder's in_dim to the feature dimension ({x.shape[-1]})")
        x = x * batch.mask.unsqueeze(-1)
        steps = self.conv(F.pad(x.transpose(1, 2), (self.kernel_size - 1, 0))).transpose(1, 2)  # [B, T, out_dim]
        steps = F.gelu(self.norm(steps))
        b, t, d = steps.shape
        u = self.unit_size
        n = -(-t // u)
        pad = n * u - t
        windows = F.pad(steps, (0, 0, 0, pad)).view(b, n, u, d)
        step_mask = F.pad(batch.mask, (0, pad)).view(b, n, u)
        times = F.pad(batch.timestamps, (0, 0, 0, pad)).view(b, n, u, 2)
        count = step_mask.sum(-1)  # [B, N] real steps per unit
        embeds = (windows * step_mask.unsqueeze(-1)).sum(2) / count.clamp(min=1).unsqueeze(-1)
        last = (count - 1).clamp(min=0)  # right padding: real steps are a prefix of each unit
        end = times[..., 1].gather(2, last.unsqueeze(-1)).squeeze(-1)
        mask = count > 0
        spans = torch.stack([times[:, :, 0, 0], end], dim=-1) * mask.unsqueeze(-1)
        return TokenSequence(embeds=embeds, mask=mask, spans=spans)

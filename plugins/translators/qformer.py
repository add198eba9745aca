"""Q-Former translator: learned queries cross-attending to the steps inside each unit (BLIP-2 style).

VideoLLM's semantic translator (Sec. 3.2) after BLIP-2's Q-Former: per unit `j` the
`num_queries` learned queries go through `num_layers` blocks (self-attention among
the queries, cross-attention to the unit's key/values, MLP; pre-norm) and become
`num_queries` LLM tokens.

Key/values of unit `j` are the **feature steps** the unit was pooled from
(`TokenSequence.steps [B, N, U, D]`, filled by the unit encoders), not its pooled
token, so the queries can pick the moments that matter inside a unit: two units with
the same mean but different steps translate differently. With `window > 1` the steps
of the `window - 1` previous units join them (a causal local window; units before the
video start and padded steps are masked), each step marked by a learned embedding of
its unit's offset in the window and a fixed sinusoidal code of its place in the unit.

A learned *null* key/value is always present beside the steps. A query can attend to
it instead of the video, so the attention weights always depend on the queries (with a
single step, cross-attention would otherwise hand every query the same vector, and the
queries' cross-attention norm would get no gradient); it also keeps the softmax defined
on fully padded units.

An encoder that gives no steps (`steps is None`) makes each unit its own single step.
Streaming keeps the last `window - 1` units with their steps (`WindowedTranslatorStream`),
so a unit is translated once it is complete and streaming equals the full forward.
"""
from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from videollm_core import ConfigError, TokenSequence

from .base import UnitTranslator


def step_position_code(num_steps: int, dim: int, device: torch.device) -> Tensor:
    """`[num_steps, dim]` sinusoidal code of a step's index inside its unit (no parameters, any `U`)."""
    pos = torch.arange(num_steps, dtype=torch.float32, device=device)[:, None]
    freq = torch.exp(torch.arange(0, dim, 2, dtype=torch.float32, device=device) * (-math.log(10000.0) / dim))
    code = torch.zeros(num_steps, dim, device=device)
    code[:, 0::2] = torch.sin(pos * freq)
    code[:, 1::2] = torch.cos(pos * freq[: dim // 2])
    return code


class QFormerTranslator(UnitTranslator):
    """Learned queries with cross-attention to each unit's steps: `num_queries` LLM tokens per unit.

    Args:
        in_dim, out_dim: supplied by the pipeline.
        num_queries: `k`, tokens per unit (`tokens_per_unit`).
        num_layers: Q-Former blocks.
        num_heads: attention heads (must divide `hidden_dim`).
        hidden_dim: width of the queries (default `min(in_dim, 256)`).
        window: units whose steps form the key/values (causal: the unit and the
            `window - 1` before it).

    `[B, N, in_dim]` units with `steps [B, N, U, in_dim]` -> `[B, N * num_queries,
    out_dim]`; unit `j`'s tokens at `j*k .. j*k + k - 1`.
    """

    def __init__(self, in_dim: int, out_dim: int, num_queries: int = 4, num_layers: int = 2, num_heads: int = 4,
                 hidden_dim: int | None = None, window: int = 1):
        super().__init__(in_dim, out_dim)
        name = type(self).__name__
        for arg, value in (("num_queries", num_queries), ("num_layers", num_layers), ("num_heads", num_heads),
                           ("window", window), ("hidden_dim", hidden_dim)):
            if value is not None and (not isinstance(value, int) or value < 1):
                raise ConfigError(f"{arg} must be a positive integer, got {value!r}", where=f"{name}.{arg}")
        hidden = hidden_dim or min(self.in_dim, 256)
        if hidden % num_heads:
            raise ConfigError(f"hidden_dim {hidden} is not divisible by num_heads {num_heads}", where=f"{name}.num_heads",
                              hint=f"choose num_heads dividing {hidden}, or set hidden_dim")
        self.tokens_per_unit = num_queries
        self.context_units = window - 1
        self.window = window
        self.queries = nn.Parameter(torch.randn(num_queries, hidden) * 0.02)
        self.kv_proj = nn.Linear(self.in_dim, hidden)
        self.offset_embed = nn.Parameter(torch.zeros(window, hidden))
        self.null_kv = nn.Parameter(torch.randn(1, hidden) * 0.02)
        block = nn.TransformerDecoderLayer(hidden, num_heads, dim_feedforward=4 * hidden, dropout=0.0,
                                           activation="gelu", batch_first=True, norm_first=True)
        self.blocks = nn.TransformerDecoder(block, num_layers, norm=nn.LayerNorm(hidden))
        self.out_proj = nn.Linear(hidden, self.out_dim)

    def memory(self, units: TokenSequence) -> tuple[Tensor, Tensor]:
        """Key/values of every unit: `[B, N, 1 + window * U, h]` and their validity `[B, N, 1 + window * U]`.

        Slot 0 is the null key/value; then the window's units, oldest first, `U` steps each.
        """
        steps, step_mask = units.steps, units.step_mask
        if steps is None:  # an encoder without steps: the unit is its own single step
            steps, step_mask = units.embeds.unsqueeze(2), units.mask.unsqueeze(2)
        b, n, u, _ = steps.shape
        w = self.window
        kv = self.kv_proj(steps) + step_position_code(u, self.queries.shape[-1], steps.device)  # [B, N, U, h]
        h = kv.shape[-1]
        kv = torch.cat([kv.new_zeros(b, w - 1, u, h), kv], dim=1)
        valid = torch.cat([step_mask.new_zeros(b, w - 1, u), step_mask & units.mask.unsqueeze(-1)], dim=1)
        idx = (torch.arange(n, device=steps.device)[:, None] + torch.arange(w, device=steps.device)[None, :])  # [N, w]
        kv = (kv[:, idx] + self.offset_embed[:, None, :]).reshape(b, n, w * u, h)  # [B, N, w*U, h]
        valid = valid[:, idx].reshape(b, n, w * u)
        kv = torch.cat([self.null_kv.expand(b, n, 1, h), kv], dim=2)
        valid = torch.cat([valid.new_ones(b, n, 1), valid], dim=2)
        return kv, valid

    def translate(self, units: TokenSequence) -> Tensor:
        """`units` (`embeds [B, N, in_dim]`, `steps [B, N, U, in_dim]`) -> `[B, N * num_queries, out_dim]`."""
        b, n = units.mask.shape
        k = self.tokens_per_unit
        if b * n == 0:
            return units.embeds.new_zeros(b, n * k, self.out_dim)
        kv, valid = self.memory(units)
        h = kv.shape[-1]
        queries = self.queries.expand(b * n, k, h)
        out = self.blocks(queries, kv.reshape(b * n, -1, h), memory_key_padding_mask=~valid.reshape(b * n, -1))
        return self.out_proj(out).reshape(b, n * k, self.out_dim)

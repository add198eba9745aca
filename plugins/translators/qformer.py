"""Q-Former translator: learned queries cross-attending to each visual unit (BLIP-2 style).

Per unit ``j`` the ``num_queries`` learned queries go through ``num_layers`` blocks
(self-attention among the queries, cross-attention to the unit's key/values, MLP;
pre-norm) and become ``num_queries`` LLM tokens. Key/values of unit ``j`` are the
units ``j - window + 1 .. j`` (a *causal* local window; units before the video start
or padded units are masked, the unit itself always attends), each with a learned
embedding of its offset in the window. ``window = 1`` (default) uses the unit alone:
cross-attention over one key/value gives every query the same attended vector,
the queries then differ through their own state (residual, self-attention, MLP).
``window > 1`` lets the queries pick among recent units; streaming then keeps the
last ``window - 1`` units (:class:`TranslatorStream`).
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

from videollm_core import ConfigError

from .base import UnitTranslator


class QFormerTranslator(UnitTranslator):
    """Learned queries with cross-attention: ``num_queries`` LLM tokens per visual unit.

    Args:
        in_dim, out_dim: supplied by the pipeline.
        num_queries: ``k``, tokens per unit (``tokens_per_unit``).
        num_layers: Q-Former blocks.
        num_heads: attention heads (must divide ``hidden_dim``).
        hidden_dim: width of the queries (default ``min(in_dim, 256)``).
        window: units per key/value window (causal: the unit and the ``window - 1`` before).

    ``[B, N, in_dim]`` -> ``[B, N * num_queries, out_dim]``; unit ``j``'s tokens at
    ``j*k .. j*k + k - 1``.
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
        block = nn.TransformerDecoderLayer(hidden, num_heads, dim_feedforward=4 * hidden, dropout=0.0,
                                           activation="gelu", batch_first=True, norm_first=True)
        self.blocks = nn.TransformerDecoder(block, num_layers, norm=nn.LayerNorm(hidden))
        self.out_proj = nn.Linear(hidden, self.out_dim)

    def translate(self, embeds: Tensor, mask: Tensor) -> Tensor:
        """``embeds [B, N, in_dim]``, ``mask [B, N]`` -> ``[B, N * num_queries, out_dim]``."""
        b, n, _ = embeds.shape
        w, k = self.window, self.tokens_per_unit
        if b * n == 0:
            return embeds.new_zeros(b, n * k, self.out_dim)
        kv = self.kv_proj(embeds)  # [B, N, h]
        h = kv.shape[-1]
        kv = torch.cat([kv.new_zeros(b, w - 1, h), kv], dim=1)
        valid = torch.cat([mask.new_zeros(b, w - 1), mask.bool()], dim=1)
        idx = (torch.arange(n)[:, None] + torch.arange(w)[None, :]).to(embeds.device)  # [N, w]
        memory = kv[:, idx] + self.offset_embed  # [B, N, w, h]
        valid = valid[:, idx]
        valid[..., -1] = True  # a unit always sees itself (padded units too: no empty softmax)
        queries = self.queries.expand(b * n, k, h)
        out = self.blocks(queries, memory.reshape(b * n, w, h), memory_key_padding_mask=~valid.reshape(b * n, w))
        return self.out_proj(out).reshape(b, n * k, self.out_dim)

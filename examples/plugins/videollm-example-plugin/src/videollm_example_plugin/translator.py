"""A semantic translator: a gated linear map from visual tokens into the LLM's embedding space."""
from __future__ import annotations

import torch
from torch import nn

from videollm_core import TokenSequence, Translator


class ExampleTranslator(Translator):
    """Gated linear semantic translator: ``y = (W x + b) * sigmoid(G x + c)``, one token per unit.

    Args:
        in_dim, out_dim: supplied by the pipeline (encoder ``out_dim``, LLM ``embed_dim``).

    ``forward``: ``TokenSequence(embeds [B, N, in_dim])`` -> ``embeds [B, N, out_dim]``,
    mask and spans unchanged.
    """

    def __init__(self, in_dim: int, out_dim: int):
        super().__init__(in_dim, out_dim)
        self.value = nn.Linear(self.in_dim, self.out_dim)
        self.gate = nn.Linear(self.in_dim, self.out_dim)

    def forward(self, tokens: TokenSequence) -> TokenSequence:
        x = tokens.embeds
        return tokens.with_embeds(self.value(x) * torch.sigmoid(self.gate(x)))

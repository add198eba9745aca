"""Projection translators: one LLM token per visual unit, computed from that unit alone."""
from __future__ import annotations

from torch import Tensor, nn

from videollm_core import ConfigError, TokenSequence

from .base import UnitTranslator

ACTIVATIONS = {"gelu": nn.GELU, "relu": nn.ReLU, "silu": nn.SiLU, "tanh": nn.Tanh}


class LinearTranslator(UnitTranslator):
    """Linear semantic translator: `[B, N, in_dim]` -> `[B, N, out_dim]` (one token per unit)."""

    def __init__(self, in_dim: int, out_dim: int):
        super().__init__(in_dim, out_dim)
        self.proj = nn.Linear(self.in_dim, self.out_dim)

    def translate(self, units: TokenSequence) -> Tensor:
        """`units.embeds [B, N, in_dim]` -> `[B, N, out_dim]`."""
        return self.proj(units.embeds)


class MLPTranslator(UnitTranslator):
    """MLP semantic translator: `num_layers` linear layers with activations between, per unit.

    Args:
        in_dim, out_dim: supplied by the pipeline (encoder `out_dim`, LLM `embed_dim`).
        hidden_dim: width of the hidden layers (default `out_dim`).
        num_layers: linear layers (1 is a linear translator).
        activation: `gelu`, `relu`, `silu` or `tanh`.
        dropout: dropout after each hidden activation.
    """

    def __init__(self, in_dim: int, out_dim: int, hidden_dim: int | None = None, num_layers: int = 2,
                 activation: str = "gelu", dropout: float = 0.0):
        super().__init__(in_dim, out_dim)
        name = type(self).__name__
        if not isinstance(num_layers, int) or num_layers < 1:
            raise ConfigError(f"num_layers must be a positive integer, got {num_layers!r}", where=f"{name}.num_layers")
        if activation not in ACTIVATIONS:
            raise ConfigError(f"unknown activation {activation!r}", where=f"{name}.activation",
                              hint=f"one of {', '.join(ACTIVATIONS)}")
        if not 0.0 <= dropout < 1.0:
            raise ConfigError(f"dropout must be in [0, 1), got {dropout!r}", where=f"{name}.dropout")
        hidden = int(hidden_dim or self.out_dim)
        dims = [self.in_dim] + [hidden] * (num_layers - 1) + [self.out_dim]
        layers: list[nn.Module] = []
        for i in range(num_layers):
            layers.append(nn.Linear(dims[i], dims[i + 1]))
            if i < num_layers - 1:
                layers.append(ACTIVATIONS[activation]())
                if dropout > 0:
                    layers.append(nn.Dropout(dropout))
        self.mlp = nn.Sequential(*layers)

    def translate(self, units: TokenSequence) -> Tensor:
        """`units.embeds [B, N, in_dim]` -> `[B, N, out_dim]`."""
        return self.mlp(units.embeds)

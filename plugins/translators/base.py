"""What all built-in translators share: input checks, per-unit expansion, streaming.

A translator maps `TokenSequence(embeds [B, N, in_dim], mask [B, N], spans [B, N, 2] s)`
to `TokenSequence(embeds [B, N*k, out_dim], mask [B, N*k], spans [B, N*k, 2] s)` with
`k = tokens_per_unit`; the `k` tokens of unit `j` sit at `j*k .. j*k+k-1` and
repeat its mask and span. Unit `j`'s tokens depend on units `j - context_units .. j`
only (causal), which is what makes `WindowedTranslatorStream` exact.
"""
from __future__ import annotations

from torch import Tensor

from videollm_core import DataError, TokenSequence, Translator, TranslatorStream


class UnitTranslator(Translator):
    """Base of the built-in translators: causal, per-unit computation.

    Subclasses implement `translate` (`[B, N, in_dim]` -> `[B, N*k, out_dim]`)
    and set `tokens_per_unit` / `context_units` when they differ from 1 / 0.
    """

    #: previous units each unit's output depends on (0: the unit alone).
    context_units: int = 0

    def translate(self, units: TokenSequence) -> Tensor:  # pragma: no cover - abstract
        """`units` (`embeds [B, N, in_dim]`, `mask [B, N]`, optional `steps`) ->
        `[B, N * tokens_per_unit, out_dim]`."""
        raise NotImplementedError

    def forward(self, tokens: TokenSequence) -> TokenSequence:
        """`[B, N, in_dim]` unit tokens -> `[B, N*k, out_dim]` LLM tokens (mask, spans repeated per unit)."""
        if tokens.dim != self.in_dim:
            raise DataError(
                f"token dim {tokens.dim} differs from the translator's in_dim {self.in_dim}",
                where=f"{type(self).__name__} input",
                hint=f"the encoder's out_dim must be {self.in_dim}, or build the translator with in_dim={tokens.dim}",
            )
        out = self.translate(tokens)
        k = self.tokens_per_unit
        return TokenSequence(
            embeds=out,
            mask=tokens.mask.repeat_interleave(k, dim=1),
            spans=tokens.spans.repeat_interleave(k, dim=1),
        )

    def open_stream(self) -> "WindowedTranslatorStream":
        """A stateful translator for one stream (batch of 1), see `WindowedTranslatorStream`."""
        return WindowedTranslatorStream(self)


class WindowedTranslatorStream(TranslatorStream):
    """Translates units as they arrive, keeping the last `context_units` input units.

    `push(tokens)` with `tokens [1, n, in_dim]` (all real) returns the `[1, n*k,
    out_dim]` tokens the full forward gives these units: the kept units go in front as
    context and their outputs are sliced off again. With `context_units == 0` it is the
    kernel's plain stream (each push translated on its own).
    """

    translator: UnitTranslator

    def __init__(self, translator: UnitTranslator):
        super().__init__(translator)
        self.context: TokenSequence | None = None  # the last <= context_units units pushed, [1, <=c, in_dim]

    def push(self, tokens: TokenSequence) -> TokenSequence:
        t = self.translator
        c = t.context_units
        if c == 0:
            return super().push(tokens)
        if self.context is None:
            joined, skip = tokens, 0
        else:
            joined, skip = TokenSequence.cat([self.context, tokens]), self.context.embeds.shape[1]
        n = joined.embeds.shape[1]
        self.context = joined.slice(max(n - c, 0), n)
        out = t(joined)
        return out.slice(skip * t.tokens_per_unit)

"""`T5Decoder`: the decoder stack of T5 used alone, as a decoder-only model (the paper's
"T5 decoder" reasoner).

Loaded the right way: `T5ForConditionalGeneration.from_pretrained` on the full checkpoint,
then its `decoder` (with the shared embeddings) and `lm_head` are kept
(`T5Stack.from_pretrained` on a full checkpoint silently leaves random weights). The
encoder is built with zero blocks, so its weights are neither allocated nor trained; without
`encoder_hidden_states` the decoder blocks skip cross-attention, whose modules are dropped.
"""
from __future__ import annotations

from typing import Any

from torch import Tensor, nn

from videollm_core.errors import ConfigError

from .hf_causal import WHERE, HFCausalLM


class T5Decoder(HFCausalLM):
    """T5's decoder as a decoder-only LLM; arguments as `HFCausalLM`
    (`config: {model_type: t5, d_model, num_layers, num_heads, d_ff, d_kv...}`: `num_layers`
    or `num_decoder_layers` is the decoder depth)."""

    hf_class_name = "T5ForConditionalGeneration"

    def _build(self, cfg: Any, dtype: Any, attn_implementation: str | None) -> Any:
        if getattr(cfg, "model_type", None) not in ("t5", "mt5", "umt5"):
            raise ConfigError(f"T5Decoder needs a T5 checkpoint or config, got model_type {cfg.model_type!r}",
                              where=f"{WHERE}.config", hint="use type: HFCausalLM for decoder-only models")
        cfg.num_decoder_layers = cfg.num_decoder_layers or cfg.num_layers
        cfg.num_layers = 0  # no encoder blocks: the encoder is never used
        return super()._build(cfg, dtype, attn_implementation)

    def _split(self, hf_model: Any) -> tuple[nn.Module, nn.Module]:
        """`(decoder, lm_head)`; each block's cross-attention (`layer[1]`, never run without an
        encoder) is dropped, so every decoder parameter is used and can train."""
        for block in hf_model.decoder.block:
            block.layer[1] = nn.Identity()
        return hf_model.decoder, hf_model.lm_head

    def lm_logits(self, hidden: Tensor) -> Tensor:
        """`hidden [B, S, d_model]` -> logits `[B, S, V]`; tied T5 scales by `d_model ** -0.5` first."""
        cfg = self.config
        if getattr(cfg, "scale_decoder_outputs", getattr(cfg, "tie_word_embeddings", False)):
            hidden = hidden * (cfg.d_model ** -0.5)
        return self.lm_head(hidden)

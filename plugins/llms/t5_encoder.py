"""`T5Encoder`: the encoder stack of T5 as the reasoner, bidirectional (the paper's encoder-vs-decoder
comparison: T5's encoder against its decoder, `t5_decoder`, on offline tasks).

Every token attends to the whole sequence, so a unit's hidden state depends on the units after
it too. That is fine for offline tasks, which see the whole video (action segmentation,
highlight detection, NLQ...), and wrong for online ones: the adapter keeps no key/value cache,
so streaming (`pipeline.stream()`) and text continuation (captioning heads) are a
[`ConfigError`][videollm_core.errors.ConfigError], and `check_offline` refuses a pipeline whose
heads answer online (`ONLINE_TASKS`), whose full forward would read the future.

Loaded with `T5EncoderModel.from_pretrained` (the encoder and shared embeddings of a full
checkpoint; the decoder is never allocated).
"""
from __future__ import annotations

from typing import Any, Mapping, NoReturn

from torch import Tensor, nn

from videollm_core.errors import ConfigError

from .hf_causal import WHERE, HFCausalLM
from .no_generation import WithoutTextGeneration

#: tasks whose answer at a unit may use only the units up to it (a bidirectional reasoner would see the future).
ONLINE_TASKS = frozenset({"oad", "online_caption"})
_CAUSAL_HINT = "use a causal reasoner to stream or caption (type: T5Decoder or HFCausalLM); T5Encoder serves offline tasks"


def _bidirectional(what: str, where: str = WHERE) -> NoReturn:
    raise ConfigError(f"T5Encoder is bidirectional (every token sees the whole sequence) and keeps no key/value cache: "
                      f"it cannot {what}", where=where, hint=_CAUSAL_HINT)


class T5Encoder(WithoutTextGeneration, HFCausalLM):
    """T5's encoder as a bidirectional reasoner, offline tasks only; arguments as `HFCausalLM`
    (`config: {model_type: t5, d_model, num_layers, num_heads, d_ff, d_kv...}`: `num_layers` is
    the encoder depth; `random_init` too).

    Attributes: `model` (the encoder `T5Stack`, `[B, S, d_model]` -> `[B, S, d_model]`),
    `lm_head` (the shared input embeddings, for sizes only: there is no text generation).
    """

    hf_class_name = "T5EncoderModel"

    def _build(self, cfg: Any, dtype: Any, attn_implementation: str | None) -> Any:
        if getattr(cfg, "model_type", None) not in ("t5", "mt5", "umt5"):
            raise ConfigError(f"T5Encoder needs a T5 checkpoint or config, got model_type {cfg.model_type!r}",
                              where=f"{WHERE}.config", hint="use type: HFCausalLM for decoder-only models")
        return super()._build(cfg, dtype, attn_implementation)

    def _split(self, hf_model: Any) -> tuple[nn.Module, nn.Module]:
        """`(encoder stack, shared embeddings)`: the embeddings stand in for the LM head's sizes."""
        return hf_model.encoder, hf_model.get_input_embeddings()

    def set_context(self, context: Mapping[str, Any]) -> None:
        """Refused: a bounded context is a window over a causal stream."""
        _bidirectional("run under a bounded context (a window over a stream)", where="model.context")

    def forward(self, embeds: Tensor, mask: Tensor, cache: Any = None, use_cache: bool = False) -> tuple[Tensor, None]:
        """`embeds [B, S, E]`, `mask [B, S]` right-padded -> `(hidden [B, S, H], None)`, bidirectional
        over the real tokens (padding masked out). `cache` or `use_cache` (streaming, captioning)
        raise a [`ConfigError`][videollm_core.errors.ConfigError]."""
        if cache is not None or use_cache:
            _bidirectional("stream (pipeline.stream(), online inference) nor continue text (captioning heads)")
        mask = mask.bool()
        kind, n_virtual = self.prompt_kind(), 0
        if kind == "prefix":
            raise ConfigError("prefix tuning seeds a decoder's key/value cache; T5Encoder has none", where="model.tuner",
                              hint="use LoRA, IA3, PromptTuning or PTuning with T5Encoder")
        if kind == "prompt":
            embeds, mask, n_virtual = self.prepend_virtual_tokens(embeds, mask)
        out = self.backbone(inputs_embeds=embeds, attention_mask=mask.long(), use_cache=False)
        return out.last_hidden_state[:, n_virtual:], None

    def _cannot_generate(self, what: str) -> NoReturn:
        _bidirectional(f"generate text ({what})")


def check_offline(pipeline: Any) -> None:
    """A [`ConfigError`][videollm_core.errors.ConfigError] when a bidirectional `T5Encoder` would answer an online task
    (`ONLINE_TASKS`): its full forward reads units after the one it answers."""
    if not isinstance(pipeline.llm, T5Encoder):
        return
    online = sorted({head.task for head in pipeline.heads.values()} & ONLINE_TASKS)
    if online:
        raise ConfigError(f"T5Encoder is bidirectional: the {', '.join(online)} head would see units after the one it "
                          f"answers (online tasks may only read the past)", where="model.llm", hint=_CAUSAL_HINT)

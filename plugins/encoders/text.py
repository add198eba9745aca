"""Text encoders: task prompts and natural-language queries to tokens.

`LLMTextEncoder` (the default) embeds text with the LLM's own tokenizer and input
embeddings, so text tokens live in the LLM's word space with no extra parameters.
`HFTextEncoder` uses any transformers text encoder (BERT-like, or the model inside
a sentence-transformers directory); the pipeline projects its `hidden_size` to
the LLM's `embed_dim`.
"""
from __future__ import annotations

import weakref
from typing import Any, Literal

import torch
from torch import Tensor

from videollm_core import ConfigError, DataError, LLMAdapter, TextEncoder, TokenSequence

from ..hf_models import freeze, load_hf_model

TEXT_POOLINGS = ("tokens", "mean")


def _check_texts(texts: Any, where: str) -> list[str]:
    if isinstance(texts, str) or not all(isinstance(t, str) for t in texts):
        raise DataError("texts must be a list of strings (one per video)", where=where,
                        hint="use '' for a video without query")
    return list(texts)


def _empty_rows_off(mask: Tensor, texts: list[str]) -> Tensor:
    """`mask [B, L]` with the rows of empty strings set False (zero-length texts)."""
    empty = torch.tensor([not t for t in texts], dtype=torch.bool, device=mask.device)
    return mask.bool() & ~empty[:, None]


class LLMTextEncoder(TextEncoder):
    """The LLM's own tokenizer and input embeddings (`llm.tokenize` + `llm.embed_text`).

    No parameters of its own: the LLM adapter is held by reference (not a submodule),
    so its weights are neither counted nor saved twice. `out_dim = llm.embed_dim`.
    `forward`: `B` strings -> `TokenSequence(embeds [B, L, E], mask [B, L], spans
    zeros [B, L, 2])`, right-padded; an empty string gives a row with mask all False.
    """

    def __init__(self) -> None:
        super().__init__()
        object.__setattr__(self, "_llm_ref", None)

    def bind(self, llm: LLMAdapter) -> None:
        """Keep a weak reference to the pipeline's LLM adapter."""
        object.__setattr__(self, "_llm_ref", weakref.ref(llm))

    @property
    def llm(self) -> LLMAdapter:
        llm = self._llm_ref() if self._llm_ref is not None else None
        if llm is None:
            raise RuntimeError("LLMTextEncoder is not bound to an LLM adapter: call bind(llm) first")
        return llm

    @property
    def out_dim(self) -> int:  # type: ignore[override]
        return int(self.llm.embed_dim)

    def forward(self, texts: list[str]) -> TokenSequence:
        """`B` strings -> `embeds [B, L, E]`, `mask [B, L]`, `spans [B, L, 2]` zeros."""
        texts = _check_texts(texts, "LLMTextEncoder input")
        llm = self.llm
        ids, mask = llm.tokenize(texts)
        device = next(llm.parameters()).device
        ids, mask = ids.to(device), _empty_rows_off(mask.to(device), texts)
        b, length = ids.shape
        if length == 0:
            embeds = torch.zeros(b, 0, self.out_dim, device=device)
        else:
            embeds = llm.embed_text(ids)
        return TokenSequence(embeds=embeds, mask=mask, spans=embeds.new_zeros(b, length, 2))


class HFTextEncoder(TextEncoder):
    """Any transformers text encoder (BERT, RoBERTa, a sentence-transformers model...).

    Args:
        pretrained: hub name or directory holding the model and its tokenizer (a
            sentence-transformers directory works: its root holds both).
        config: instead of `pretrained`, a transformers config mapping (random init);
            then `tokenizer` must name a tokenizer directory.
        tokenizer: tokenizer directory or name (default: `pretrained`).
        pooling: `tokens` (every token, `[B, L, H]`) or `mean` (masked mean,
            one token per text, `[B, 1, H]`).
        trainable: fine-tune the encoder (default: frozen, eval mode, no gradients).
        max_length: tokens per text after truncation.

    `out_dim` is the model's `hidden_size`. Empty strings give rows with mask all
    False (no special tokens either).
    """

    def __init__(
        self,
        pretrained: str | None = None,
        config: dict | None = None,
        tokenizer: str | None = None,
        pooling: Literal["tokens", "mean"] = "tokens",
        trainable: bool = False,
        max_length: int = 512,
    ):
        super().__init__()
        name = type(self).__name__
        if pooling not in TEXT_POOLINGS:
            raise ConfigError(f"unknown pooling {pooling!r}", where=f"{name}.pooling", hint=f"one of {', '.join(TEXT_POOLINGS)}")
        source = tokenizer or pretrained
        if source is None:
            raise ConfigError("a tokenizer is needed: give 'tokenizer' (a directory) when building from 'config'",
                              where=f"{name}.tokenizer", hint="save one with tokenizer.save_pretrained(DIR)")
        self.model = load_hf_model(pretrained, config, where=name)
        self.tokenizer = _load_tokenizer(str(source), where=f"{name}.{'tokenizer' if tokenizer else 'pretrained'}")
        self.pooling = pooling
        self.trainable = bool(trainable)
        self.max_length = int(max_length)
        self.out_dim = int(self.model.config.hidden_size)
        if not self.trainable:
            freeze(self.model)

    def train(self, mode: bool = True) -> "HFTextEncoder":
        """A frozen encoder stays in eval mode."""
        super().train(mode)
        if not self.trainable:
            self.model.eval()
        return self

    def forward(self, texts: list[str]) -> TokenSequence:
        """`B` strings -> `[B, L, H]` (tokens) or `[B, 1, H]` (mean), `mask`, `spans` zeros."""
        texts = _check_texts(texts, "HFTextEncoder input")
        device = next(self.model.parameters()).device
        enc = self.tokenizer(texts, padding=True, truncation=True, max_length=self.max_length, return_tensors="pt")
        mask = _empty_rows_off(enc["attention_mask"].to(device), texts)
        inputs = {k: v.to(device) for k, v in enc.items() if k in ("input_ids", "attention_mask", "token_type_ids")}
        with torch.set_grad_enabled(self.trainable and torch.is_grad_enabled()):
            hidden = self.model(**inputs).last_hidden_state  # [B, L, H]
        if self.pooling == "mean":
            m = mask.unsqueeze(-1).to(hidden.dtype)
            hidden = ((hidden * m).sum(1) / m.sum(1).clamp(min=1)).unsqueeze(1)
            mask = mask.any(1, keepdim=True)
        hidden = hidden * mask.unsqueeze(-1).to(hidden.dtype)
        b, length = mask.shape
        return TokenSequence(embeds=hidden, mask=mask, spans=hidden.new_zeros(b, length, 2))


def _load_tokenizer(source: str, where: str) -> Any:
    from transformers import AutoTokenizer  # lazy

    try:
        return AutoTokenizer.from_pretrained(source)
    except (OSError, ValueError) as e:
        raise ConfigError(f"cannot load a tokenizer from '{source}': {e}", where=where,
                          hint="a directory written by tokenizer.save_pretrained, or a hub name available offline") from e

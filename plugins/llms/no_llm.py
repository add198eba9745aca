"""`NoLLM`: the RQ1 control without a reasoner, the translator straight into the head.

`forward` returns the input embeddings unchanged as the hidden states (`H == E`), so the
head's answer at a unit depends on that unit's tokens alone: nothing mixes across time, and
streaming unit by unit equals the full forward by construction. Comparing a pipeline with
`model.llm: {type: NoLLM}` against the same pipeline with a frozen LLM measures what the
LLM's reasoning over the sequence adds (the paper's RQ1: can a frozen LLM reason over video?).

Prompts and queries still tokenize (`tokenize`, `embed_text`) through a small text
embedding table, so a config with a task prompt runs unchanged; the tokens sit in the stream
but no visual unit sees them. There is no LM head: text generation (captioning heads) is a
[`ConfigError`][videollm_core.errors.ConfigError], and so are peft tuners (nothing to adapt).
"""
from __future__ import annotations

from typing import Any, NoReturn

import torch
from torch import Tensor, nn

from videollm_core.base import LLMAdapter
from videollm_core.errors import ConfigError, DataError

from .cache import empty_mask
from .no_generation import WithoutTextGeneration
from .tokenizer import build_tokenizer

WHERE = "model.llm"
TUNER_WHERE = "model.tuner"


def _no_text_generation(what: str) -> NoReturn:
    raise ConfigError(f"NoLLM cannot generate text ({what}): it has no language model and no LM head",
                      where=WHERE, hint="captioning heads need an LLM: use type: HFCausalLM (e.g. "
                                        "`pretrained: gpt2`, frozen) or T5Decoder; NoLLM serves heads that read hidden states")


def _no_tokenizer() -> NoReturn:
    raise ConfigError("NoLLM has no tokenizer, so it cannot read text (a task prompt or queries)",
                      where=f"{WHERE}.tokenizer", hint="add e.g. `tokenizer: {words: [open, the, drawer]}`, "
                                                        "or leave the prompt and queries out")


def _no_peft() -> NoReturn:
    raise ConfigError("a peft tuner (LoRA, IA3, AdaLoRA, prefix, prompt or p-tuning) cannot adapt NoLLM: "
                      "it has no transformer layers", where=TUNER_WHERE,
                      hint="use tuner: {type: Frozen} (the RQ1 control) or {type: Full} (trains the text embeddings)")


class NoLLMText(nn.Module):
    """`NoLLM.model`: the text embedding table (`embed_tokens`, `None` without a tokenizer).

    Tuners reach the adapter's parameters through it (`Frozen`, `Full`). It has no
    transformers `config`: a peft tuner that looks for one gets a [`ConfigError`][videollm_core.errors.ConfigError]
    naming `model.tuner`, as does a tuner that wraps it (see `NoLLM.__setattr__`).
    """

    def __init__(self, vocab_size: int, hidden_size: int):
        super().__init__()
        self.embed_tokens = nn.Embedding(vocab_size, hidden_size) if vocab_size > 0 else None

    @property
    def config(self) -> NoReturn:
        """Raises: peft tuners read the transformers config of the model they adapt."""
        _no_peft()

    def get_input_embeddings(self) -> nn.Module | None:
        return self.embed_tokens

    def forward(self, ids: Tensor) -> Tensor:
        """`ids [B, L]` -> `[B, L, E]`."""
        if self.embed_tokens is None:
            _no_tokenizer()
        return self.embed_tokens(ids)


class NoLLM(WithoutTextGeneration, LLMAdapter):
    """No reasoner: hidden states are the input embeddings (the RQ1 "no LLM" control).

    Args:
        hidden_size: `E == H`, the dimension translators produce and heads read.
        tokenizer: tokenizer directory / hub name / `tokenizer.json` path, or `{words: [...]}`
            for a local word-level one (as `HFCausalLM`'s); `None`: the
            adapter reads no text (a task prompt or query is then a [`ConfigError`][videollm_core.errors.ConfigError]).
        vocab_size: rows of the text embedding table; with it, the tokenizer loads on first use
            (a dry run on the meta device never touches a hub tokenizer). Default: the tokenizer's size.

    Attributes: `model` (`NoLLMText`, the trainable text embeddings `[V, E]`, V the
    tokenizer's size), `embed_dim` `E`, `hidden_size` `H` (equal).
    """

    def __init__(self, hidden_size: int = 256, tokenizer: str | dict | None = None, vocab_size: int | None = None):
        super().__init__()
        for name, value in (("hidden_size", hidden_size), ("vocab_size", vocab_size)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise ConfigError(f"{name} must be a positive integer, got {value!r}", where=f"{WHERE}.{name}")
        self.embed_dim = self.hidden_size = int(hidden_size)
        self._tokenizer_spec = tokenizer
        self._tokenizer = None
        if tokenizer is not None and vocab_size is None:
            self._tokenizer = self._load_tokenizer()
        self.vocab_size = 0 if tokenizer is None else int(vocab_size or len(self._tokenizer))
        self.model = NoLLMText(self.vocab_size, self.hidden_size)

    def _load_tokenizer(self) -> Any:
        tok = build_tokenizer(self._tokenizer_spec, None, where=f"{WHERE}.tokenizer")
        if getattr(self, "vocab_size", None) and len(tok) > self.vocab_size:
            raise ConfigError(f"the tokenizer has {len(tok)} tokens but vocab_size is {self.vocab_size}",
                              where=f"{WHERE}.vocab_size", hint="raise vocab_size or leave it out (the tokenizer's size)")
        return tok

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "model" and isinstance(getattr(self, "_modules", {}).get("model"), NoLLMText) \
                and not isinstance(value, NoLLMText):
            _no_peft()  # a tuner replacing the text embeddings by a wrapper (peft's get_peft_model)
        super().__setattr__(name, value)

    # -- text ------------------------------------------------------------------
    @property
    def tokenizer(self) -> Any:  # type: ignore[override]
        """The `PreTrainedTokenizerFast` (loaded on first use when `vocab_size` is given), or None (no `tokenizer:`)."""
        if self._tokenizer is None and self._tokenizer_spec is not None:
            self._tokenizer = self._load_tokenizer()
        return self._tokenizer

    def tokenize(self, texts: list[str]) -> tuple[Tensor, Tensor]:
        """`B` strings -> `(ids [B, L] long, mask [B, L] bool)`, right-padded, no special tokens."""
        device = self._device()
        if not texts or all(not t for t in texts):
            return torch.zeros(len(texts), 0, dtype=torch.long, device=device), empty_mask(len(texts), device)
        if self.tokenizer is None:
            _no_tokenizer()
        enc = self.tokenizer(list(texts), padding=True, add_special_tokens=False, return_tensors="pt")
        return enc["input_ids"].to(device), enc["attention_mask"].to(device).bool()

    def embed_text(self, ids: Tensor) -> Tensor:
        """`ids [B, L]` -> the trainable text embeddings `[B, L, E]`."""
        return self.model(ids)

    def _device(self) -> torch.device:
        return next((p.device for p in self.parameters()), torch.device("cpu"))

    # -- forward -----------------------------------------------------------------
    def forward(self, embeds: Tensor, mask: Tensor, cache: Any = None, use_cache: bool = False) -> tuple[Tensor, None]:
        """`embeds [B, S, E]`, `mask [B, S]` -> `(hidden [B, S, H] = embeds, None)`.

        No state is kept: the output at a token is its input, whatever came before, so a
        stream needs no cache (`cache` is ignored, and `None` is returned as the cache
        even with `use_cache`; the next call continues the stream just the same).
        """
        if embeds.dim() != 3 or embeds.shape[-1] != self.embed_dim:
            raise DataError(f"NoLLM takes embeds [B, S, {self.embed_dim}], got {list(embeds.shape)}", where=WHERE)
        if tuple(mask.shape) != tuple(embeds.shape[:2]):
            raise DataError(f"mask {list(mask.shape)} does not match embeds {list(embeds.shape)}", where=WHERE)
        return embeds, None

    def _cannot_generate(self, what: str) -> NoReturn:
        _no_text_generation(what)

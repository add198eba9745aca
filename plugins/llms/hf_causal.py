"""`HFCausalLM`: any decoder-only `transformers` model (GPT-2, OPT, LLaMA, Mistral, Qwen2,
Pythia, BLOOM...) as the VideoLLM reasoner.

The adapter alone builds the model inputs: `inputs_embeds [B, S, E]`, the attention mask
and explicit position ids for right padding, the virtual tokens of prompt tuning / p-tuning
(sliced off the output again) and the prefix keys/values of prefix tuning (seeded into the
cache). Tuners wrap `model` with peft; the forward pass always runs on the bare
`transformers` model underneath, so the key/value cache keeps working for every tuner.
"""
from __future__ import annotations

import inspect
import logging
from typing import Any

import torch
from torch import Tensor, nn

from videollm_core.base import LLMAdapter
from videollm_core.errors import ConfigError
from videollm_core.sections import ContextConfig

from ..hf_models import build_hf_model, hf_config, model_class, on_meta_device, resolve_dtype
from .cache import LLMCache, empty_mask, positions_from_mask
from .context import ContextPolicy, check_length, make_policy, windowed_forward
from .generation import beam_search, greedy_search
from .tokenizer import build_tokenizer

log = logging.getLogger("videollm")

WHERE = "model.llm"


class HFCausalLM(LLMAdapter):
    """A decoder-only `transformers` language model.

    Args:
        pretrained: hub name or local directory (`AutoModelForCausalLM.from_pretrained`).
        config: architecture with `model_type` and sizes, random weights (instead of
            `pretrained`); `vocab_size` defaults to the tokenizer's size.
        tokenizer: tokenizer directory / hub name / `tokenizer.json` path, or
            `{words: [...]}` for a local word-level one; default: `pretrained`'s own.
        dtype: `float32`, `bfloat16`, `float16` or `auto`.
        attn_implementation: `eager`, `sdpa`... (transformers' default: `sdpa`).
        gradient_checkpointing: activation checkpointing of the blocks (`use_reentrant=False`).
        trust_remote_code: allow model code from the checkpoint (a warning is logged).
        random_init: with `pretrained`, the random-weights control: `pretrained`'s architecture with
            fresh weights, nothing loaded (its tokenizer still used); with `config:` no change.
        init_seed: seed of the `random_init` weights (the global RNG is untouched), so a rebuilt
            pipeline (reload, resume) gets the same ones; vary it to study several random LLMs.

    Attributes: `model` (the bare model, `[B, S, E]` -> `[B, S, H]`, maybe peft-wrapped),
    `lm_head` (`H` -> vocabulary), `embed_dim` `E`, `hidden_size` `H`.
    """

    #: the `transformers` class whose checkpoints this adapter loads.
    hf_class_name = "AutoModelForCausalLM"

    def __init__(
        self,
        pretrained: str | None = None,
        config: dict | None = None,
        tokenizer: str | dict | None = None,
        dtype: str | None = None,
        attn_implementation: str | None = None,
        gradient_checkpointing: bool = False,
        trust_remote_code: bool = False,
        random_init: bool = False,
        init_seed: int = 0,
    ):
        super().__init__()
        if trust_remote_code:
            log.warning("model.llm: trust_remote_code=True runs Python code shipped with %r", pretrained)
        self.pretrained = pretrained
        #: weights drawn from `init_seed` instead of loaded from `pretrained` (the random-weights control).
        self.random_init = bool(random_init) and pretrained is not None
        self.init_seed = int(init_seed)
        self._tokenizer_spec = tokenizer
        self._trust_remote_code = trust_remote_code
        self._tokenizer: Any = None
        self.vocab_size: int | None = None  # known once the model is built
        cfg = hf_config(pretrained, config, trust_remote_code=trust_remote_code, where=WHERE)
        if config is not None and "vocab_size" not in config and tokenizer is not None:
            self._tokenizer = self._load_tokenizer()
            cfg.vocab_size = len(self._tokenizer)
        hf_model = self._build(cfg, resolve_dtype(dtype, WHERE), attn_implementation)
        backbone, lm_head = self._split(hf_model)
        self.model = backbone
        self.lm_head = lm_head
        object.__setattr__(self, "_hf_model", hf_model)  # for save_pretrained; not a submodule
        self.config = backbone.config
        self.embed_dim = int(backbone.get_input_embeddings().embedding_dim)
        self.hidden_size = int(lm_head.weight.shape[1])
        self.vocab_size = int(lm_head.weight.shape[0])
        self.gradient_checkpointing = bool(gradient_checkpointing)
        if gradient_checkpointing:
            backbone.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": False})
        #: the backbone's forward takes `position_ids` (the adapter passes them for right padding).
        self.takes_position_ids = "position_ids" in inspect.signature(backbone.forward).parameters
        self.context: ContextPolicy | None = None

    # -- building (T5Decoder overrides these two) -----------------------------
    def _build(self, cfg: Any, dtype: Any, attn_implementation: str | None) -> Any:
        if self.random_init and dtype == "auto":  # the checkpoint's own dtype, as from_pretrained would load it
            dtype = getattr(cfg, "dtype", None)
        with torch.random.fork_rng(devices=[], enabled=self.random_init):
            if self.random_init:
                torch.manual_seed(self.init_seed)
            return build_hf_model(model_class(self.hf_class_name, WHERE), None if self.random_init else self.pretrained,
                                  cfg, where=WHERE, dtype=dtype, attn_implementation=attn_implementation,
                                  trust_remote_code=self._trust_remote_code)

    def _split(self, hf_model: Any) -> tuple[nn.Module, nn.Module]:
        """`(bare decoder, LM head)` of a `*ForCausalLM` model (weights shared, not copied)."""
        return hf_model.base_model, hf_model.get_output_embeddings()

    # -- tokenizer ----------------------------------------------------------
    def _load_tokenizer(self) -> Any:
        tok = build_tokenizer(self._tokenizer_spec, self.pretrained, trust_remote_code=self._trust_remote_code)
        vocab = self.vocab_size
        if vocab is not None and len(tok) > vocab:
            raise ConfigError(f"the tokenizer has {len(tok)} tokens but the model's vocabulary only {vocab}",
                              where=f"{WHERE}.tokenizer", hint="raise config.vocab_size or leave it out (defaults to the tokenizer size)")
        return tok

    @property
    def tokenizer(self) -> Any:  # type: ignore[override]
        """The `PreTrainedTokenizerFast` (loaded on first use, so dry runs never touch it)."""
        if self._tokenizer is None:
            self._tokenizer = self._load_tokenizer()
        return self._tokenizer

    def tokenize(self, texts: list[str]) -> tuple[Tensor, Tensor]:
        """`B` strings -> `(ids [B, L] long, mask [B, L] bool)`, right-padded, no special tokens."""
        device = self.lm_head.weight.device
        if not texts or all(not t for t in texts):
            return torch.zeros(len(texts), 0, dtype=torch.long, device=device), empty_mask(len(texts), device)
        enc = self.tokenizer(list(texts), padding=True, add_special_tokens=False, return_tensors="pt")
        return enc["input_ids"].to(device), enc["attention_mask"].to(device).bool()

    def embed_text(self, ids: Tensor) -> Tensor:
        """`ids [B, L]` -> the model's own input embeddings `[B, L, E]`."""
        return self.backbone.get_input_embeddings()(ids)

    # -- tuners ---------------------------------------------------------------
    @property
    def backbone(self) -> nn.Module:
        """The bare `transformers` model (under a peft wrapper, if any)."""
        return self.model.get_base_model() if self._peft_config() is not None else self.model

    def _peft_config(self) -> Any:
        return getattr(self.model, "active_peft_config", None) if hasattr(self.model, "get_base_model") else None

    def prompt_kind(self) -> str | None:
        """`"prefix"` (prefix tuning), `"prompt"` (prompt tuning, p-tuning) or None."""
        cfg = self._peft_config()
        if cfg is None or not getattr(cfg, "is_prompt_learning", False):
            return None
        return "prefix" if str(cfg.peft_type).endswith("PREFIX_TUNING") else "prompt"

    @property
    def num_virtual_tokens(self) -> int:  # type: ignore[override]
        """Virtual tokens in front of every sequence (prompt tuning, p-tuning), sliced off the output."""
        return int(self._peft_config().num_virtual_tokens) if self.prompt_kind() == "prompt" else 0

    @property
    def num_prefix_tokens(self) -> int:
        """Prefix key/value positions per layer (prefix tuning); they are no tokens of the sequence."""
        return int(self._peft_config().num_virtual_tokens) if self.prompt_kind() == "prefix" else 0

    def prefix_cache(self, batch_size: int) -> Any:
        """Prefix tuning's trained keys/values (a `transformers` cache, `P` positions per layer)
        for `batch_size` sequences; None without prefix tuning."""
        return self.model.get_prompt(batch_size=batch_size) if self.prompt_kind() == "prefix" else None

    # -- forward ----------------------------------------------------------------
    def set_context(self, context: ContextConfig) -> None:
        """Apply `model.context: {window, sink}` (after the tuner: virtual tokens count as sinks);
        every forward call then runs through a bounded `WindowCache`."""
        self.context = make_policy(self, context)

    def prepend_virtual_tokens(self, embeds: Tensor, mask: Tensor) -> tuple[Tensor, Tensor, int]:
        """Prompt tuning / p-tuning: the `V` virtual tokens in front -> `(embeds [B, V+S, E], mask [B, V+S], V)`."""
        b = embeds.shape[0]
        virtual = self.model.get_prompt(batch_size=b).to(embeds.dtype)
        n_virtual = virtual.shape[1]
        return torch.cat([virtual, embeds], dim=1), torch.cat([mask.new_ones(b, n_virtual), mask.bool()], dim=1), n_virtual

    def forward(self, embeds: Tensor, mask: Tensor, cache: LLMCache | None = None, use_cache: bool = False):
        """`embeds [B, S, E]`, `mask [B, S]` right-padded -> `(hidden [B, S, H], LLMCache | None)`.

        Without `cache` a new sequence starts (virtual tokens or the prefix are put in
        front); with `cache` the tokens continue it, each sequence at its own next position.
        Under a context policy (`set_context`) any length runs in chunks through the
        policy's bounded cache; without one, a stream longer than the position table is a
        [`ConfigError`][videollm_core.errors.ConfigError].
        """
        dtype = embeds.dtype  # an LLM loaded in another dtype (`dtype: bfloat16`) computes in its own, and answers in ours
        embeds = embeds.to(self.lm_head.weight.dtype)
        if self.context is not None:
            hidden, new_cache = windowed_forward(self, embeds, mask, cache, use_cache)
            return hidden.to(dtype), new_cache
        b = embeds.shape[0]
        mask = mask.bool()
        kind = self.prompt_kind()
        n_virtual, kv = 0, None
        past_mask, start = empty_mask(b, embeds.device), torch.zeros(b, dtype=torch.long, device=embeds.device)
        if cache is not None:
            kv, past_mask, start = cache.kv, cache.mask, cache.next_pos
        elif kind == "prompt":
            embeds, mask, n_virtual = self.prepend_virtual_tokens(embeds, mask)
        elif kind == "prefix":
            kv = self.prefix_cache(b)
            past_mask = mask.new_ones(b, self.num_prefix_tokens)
        full_mask = torch.cat([past_mask, mask], dim=1)
        if mask.shape[1]:
            check_length(self, int((start + mask.long().sum(dim=1)).max()))
        kwargs: dict[str, Any] = {"inputs_embeds": embeds, "attention_mask": full_mask.long(),
                                  "use_cache": use_cache or kv is not None, "cache": kv}
        if self.takes_position_ids:
            kwargs["position_ids"] = positions_from_mask(mask, start)
        out = self.backbone(**kwargs)
        hidden = out.last_hidden_state[:, n_virtual:].to(dtype)
        if not use_cache:
            return hidden, None
        return hidden, LLMCache(out.cache, full_mask, start + mask.long().sum(dim=1))

    def lm_logits(self, hidden: Tensor) -> Tensor:
        """`hidden [B, S, H]` -> vocabulary logits `[B, S, V]` (in the LM head's dtype)."""
        return self.lm_head(hidden.to(self.lm_head.weight.dtype))

    # -- text generation -------------------------------------------------------
    @property
    def eos_token_id(self) -> int | None:  # type: ignore[override]
        """The tokenizer's EOS id, else the model config's (`None`: stop at `max_new_tokens`)."""
        eos = self.tokenizer.eos_token_id
        return eos if eos is not None else getattr(self.config, "eos_token_id", None)  # not every HF config has one

    def generate(self, embeds: Tensor | None, mask: Tensor | None, max_new_tokens: int = 20, num_beams: int = 1,
                 cache: LLMCache | None = None, last_hidden: Tensor | None = None,
                 step_embeds: Tensor | None = None) -> list[str]:
        """Continue `embeds [B, S, E]` (after `cache` if given) with text through the LM head,
        greedy (`num_beams=1`) or beam search; stops at the tokenizer's EOS. With
        `last_hidden [B, H]`, the hidden state of `cache`'s last token, and no `embeds`,
        generation continues `cache` directly (nothing is recomputed; `cache` is advanced:
        pass `cache.fork()` to keep it). `step_embeds [B, E]` is added to the embedding of
        every generated token fed back (not to `embeds`), e.g. an event token."""
        if max_new_tokens < 1 or num_beams < 1:
            raise ConfigError(f"max_new_tokens ({max_new_tokens}) and num_beams ({num_beams}) must be >= 1",
                              where=f"{WHERE}.generate")
        search = greedy_search if num_beams == 1 else beam_search
        ids = search(self, embeds, mask, max_new_tokens=max_new_tokens, num_beams=num_beams,
                     eos_token_id=self.eos_token_id, cache=cache, last_hidden=last_hidden, step_embeds=step_embeds)
        return [self.tokenizer.decode(seq, skip_special_tokens=True).strip() for seq in ids]

    # -- saving ----------------------------------------------------------------
    def save_pretrained(self, path: str) -> None:
        """Write the LLM (and its tokenizer, when one is configured) so that
        `pretrained: path` loads it back. Only an un-tuned or basic-/partially-tuned LLM:
        peft weights are saved with the pipeline's trainable state dict."""
        if self._peft_config() is not None or on_meta_device():
            raise ConfigError("save_pretrained needs a real LLM without a peft tuner applied", where=WHERE,
                              hint="save peft weights with VideoLLM.trainable_state_dict()")
        self._hf_model.save_pretrained(path)
        if self._tokenizer is not None or self._tokenizer_spec is not None or self.pretrained is not None:
            try:
                self.tokenizer.save_pretrained(path)
            except ConfigError:
                log.info("model.llm: no tokenizer saved with %s", path)

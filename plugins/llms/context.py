"""The context policy `model.context: {window: W, sink: S}`: any length through a bounded cache.

Each token attends to at most `W` tokens: the first `S` of the sequence (attention
sinks: prefix-/prompt-tuning virtual tokens, the task prompt and the query go there) and
the `W - S` most recent ones, itself included, at the positions StreamingLLM gives them
(see `window_cache`). A forward call of any length runs in chunks of at most `C`
tokens through one `WindowCache`, so batch forward and streaming
(unit by unit, or many units per push) compute the same thing and memory stays bounded.

Without a policy an input longer than the model's position table is refused with a
[`ConfigError`][videollm_core.errors.ConfigError] that names the length, the limit and the fix.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import torch
from torch import Tensor, nn

from videollm_core.errors import ConfigError
from videollm_core.sections import ContextConfig

from .cache import LLMCache

WHERE = "model.context"
#: model types whose positions are a learned absolute table (`n_positions`/`max_position_embeddings`).
ABSOLUTE = ("gpt2", "opt", "gpt_neo", "gpt_bigcode", "biogpt")
RELATIVE = ("t5", "mt5", "umt5")
#: most tokens per forward call under a policy (queries past the window get the sinks once more each for rotary models).
MAX_CHUNK = 64


@dataclass(frozen=True)
class ContextPolicy:
    """`window` `W` tokens attended at most, the first `sink` `S` kept for good; `chunk`
    tokens per forward call; `kind` the position scheme (`absolute`/`rotary`/`relative`)."""

    window: int
    sink: int
    chunk: int
    kind: str


class WindowedLM(Protocol):
    """What the policy reads of an adapter (`HFCausalLM` has it all):
    the bare `transformers` model and its config, the tuner's virtual tokens, the policy set."""

    config: Any
    hidden_size: int
    gradient_checkpointing: bool
    takes_position_ids: bool
    context: ContextPolicy | None

    @property
    def backbone(self) -> nn.Module: ...  # the bare model: [B, c, E] -> last_hidden_state [B, c, H]

    @property
    def num_virtual_tokens(self) -> int: ...

    @property
    def num_prefix_tokens(self) -> int: ...

    def prompt_kind(self) -> str | None: ...  # "prefix", "prompt" or None

    def prefix_cache(self, batch_size: int) -> Any: ...  # prefix tuning's keys/values, or None

    def prepend_virtual_tokens(self, embeds: Tensor, mask: Tensor) -> tuple[Tensor, Tensor, int]: ...


def position_scheme(backbone: Any) -> tuple[str | None, int | None]:
    """`(kind, limit)`: how the model encodes positions and how many its table holds (None: no table)."""
    cfg = backbone.config
    limit = getattr(cfg, "max_position_embeddings", None) or getattr(cfg, "n_positions", None)
    rotary = getattr(backbone, "rotary_emb", None)
    if rotary is not None and getattr(rotary, "inv_freq", None) is not None:
        return "rotary", limit
    model_type = getattr(cfg, "model_type", None)
    if model_type in RELATIVE:
        return "relative", None
    if model_type in ABSOLUTE:
        return "absolute", limit
    return None, limit


def make_policy(llm: WindowedLM, context: ContextConfig) -> ContextPolicy:
    """Check `model.context` (its values checked by validation: `ContextConfig`) against the built (and tuned) LLM -> the policy."""
    window, sink = context.window, context.sink
    kind, limit = position_scheme(llm.backbone)
    model_type = getattr(llm.config, "model_type", "?")
    if kind is None:
        raise ConfigError(f"model_type {model_type!r} has a position scheme model.context does not know", where=WHERE,
                          hint=f"supported: absolute tables ({', '.join(ABSOLUTE)}), rotary (LLaMA-style), T5 relative")
    if limit is not None and window > limit:
        raise ConfigError(f"window {window} is longer than the {limit} positions of the {model_type} model", where=f"{WHERE}.window",
                          hint=f"use window <= {limit}")
    if llm.gradient_checkpointing:  # a re-run block would write its keys into the cache a second time
        raise ConfigError("model.context does not combine with gradient_checkpointing", where=WHERE,
                          hint="set model.llm.gradient_checkpointing: false (a bounded window needs less memory anyway)")
    virtual = llm.num_virtual_tokens + llm.num_prefix_tokens
    if sink < virtual:
        raise ConfigError(f"sink {sink} is smaller than the tuner's {virtual} virtual tokens, which count as sinks",
                          where=f"{WHERE}.sink", hint=f"use sink >= {virtual} (more keeps the task prompt and query too)")
    return ContextPolicy(window, sink, max(1, min(window - sink, MAX_CHUNK)), kind)


def check_length(llm: WindowedLM, positions: int) -> None:
    """Refuse a stream of `positions` positions when the model's table is shorter (no policy set)."""
    _, limit = position_scheme(llm.backbone)
    if limit is not None and positions > limit:
        model_type = getattr(llm.config, "model_type", "?")
        raise ConfigError(
            f"the token stream is {positions} positions long (task prompt, query, virtual tokens and visual tokens) "
            f"but the {model_type} model takes at most {limit} (n_positions / max_position_embeddings)", where=WHERE,
            hint=f"set model.context: {{window: W, sink: S}} with W <= {limit} to run over any length, "
                 f"e.g. --cfg-options model.context.window={limit} model.context.sink=8")


def _relative_bias(backbone: Any):
    """T5's bias of relative positions `[B, c, K]` -> `[B, H, c, K]` (the first block's table)."""
    att = backbone.block[0].layer[0].SelfAttention

    def bias(rel: Tensor) -> Tensor:
        bucket = att._relative_position_bucket(rel, bidirectional=False, num_buckets=att.relative_attention_num_buckets,
                                               max_distance=att.relative_attention_max_distance)
        return att.relative_attention_bias(bucket).permute(0, 3, 1, 2)

    return bias


def new_cache(llm: WindowedLM, batch_size: int, device: Any) -> Any:
    """An empty `WindowCache` for the policy (seeded with the prefix under prefix tuning)."""
    from .window_cache import WindowCache

    policy, backbone = llm.context, llm.backbone
    inv_freq = backbone.rotary_emb.inv_freq if policy.kind == "rotary" else None
    bias = _relative_bias(backbone) if policy.kind == "relative" else None
    prefix = llm.prefix_cache(batch_size)
    return WindowCache(policy.window, policy.sink, policy.chunk, policy.kind, batch_size=batch_size, device=device,
                       inv_freq=inv_freq, bias=bias, prefix=prefix)


def windowed_forward(llm: WindowedLM, embeds: Tensor, mask: Tensor, cache: LLMCache | None,
                     use_cache: bool) -> tuple[Tensor, LLMCache | None]:
    """`HFCausalLM.forward` under the policy: `embeds [B, L, E]`, right-padded `mask [B, L]`
    -> `(hidden [B, L, H], LLMCache | None)`, `L` unbounded, in chunks of `C` tokens."""
    b, n_virtual = embeds.shape[0], 0
    if cache is None:
        kv = new_cache(llm, b, embeds.device)
        if llm.prompt_kind() == "prompt":
            embeds, mask, n_virtual = llm.prepend_virtual_tokens(embeds, mask)
    else:
        kv = cache.kv
    real = mask.bool().long().sum(dim=1)
    outs = []
    for start in range(0, embeds.shape[1], kv.chunk):
        part = embeds[:, start : start + kv.chunk]
        n = (real - start).clamp(min=0, max=part.shape[1])
        position_ids, attn = kv.plan(n, part.shape[1], part.dtype)
        kwargs: dict[str, Any] = {"inputs_embeds": part, "attention_mask": attn, "use_cache": True, "cache": kv}
        if position_ids is not None and llm.takes_position_ids:
            kwargs["position_ids"] = position_ids
        outs.append(llm.backbone(**kwargs).last_hidden_state)
        kv.commit(n)
    hidden = torch.cat(outs, dim=1)[:, n_virtual:] if outs else embeds.new_zeros(b, 0, llm.hidden_size)
    if not use_cache:
        return hidden, None
    return hidden, LLMCache(kv, kv.slot_mask(), kv.seen - kv.prefix)

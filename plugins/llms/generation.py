"""Text generation through an adapter's LM head with its key/value cache (a new prefix, or the
continuation of a cache such as a video stream's): greedy search and
beam search (the scoring of `transformers`' beam search: sum of log-probabilities divided
by the hypothesis length, `length_penalty=1`; `2k` candidates per step, EOS ends one).

In: `embeds [B, S, E]` with right-padded `mask [B, S]` (and/or an `LLMCache`
of `B` sequences); each step feeds one token per sequence (`[B*k, 1, E]`, `k` beams)
and reads log-probabilities `[B*k, V]`. Out: `B` lists of token ids (EOS left out).
Any [`LLMAdapter`][videollm_core.base.LLMAdapter] whose `forward` returns an `LLMCache` works; the
searches never import an adapter module.
"""
from __future__ import annotations

import torch
from torch import Tensor

from videollm_core.base import LLMAdapter

from .cache import LLMCache


def _last_real(hidden: Tensor, mask: Tensor, cache: LLMCache | None) -> Tensor:
    """Hidden state `[B, H]` at each sequence's last real token of this call."""
    lengths = mask.long().sum(dim=1)
    if cache is None and bool((lengths == 0).any()):
        raise ValueError("generate needs at least one real input token per sequence (or a cache)")
    idx = (lengths - 1).clamp(min=0)
    return hidden[torch.arange(hidden.shape[0], device=hidden.device), idx]


def _prefill(llm: LLMAdapter, embeds: Tensor | None, mask: Tensor | None, cache: LLMCache | None,
             last_hidden: Tensor | None = None) -> tuple[Tensor, LLMCache]:
    """-> log-probabilities `[B, V]` of the first new token and the cache to continue.
    With `last_hidden [B, H]` (the hidden state of the cache's last token) nothing is run:
    generation continues `cache` as it is."""
    if last_hidden is not None:
        if cache is None:
            raise ValueError("last_hidden continues a cache: pass the cache too")
        return torch.log_softmax(llm.lm_logits(last_hidden).float(), dim=-1), cache
    hidden, cache = llm(embeds, mask, cache=cache, use_cache=True)
    return torch.log_softmax(llm.lm_logits(_last_real(hidden, mask, cache)).float(), dim=-1), cache


def _step(llm: LLMAdapter, ids: Tensor, cache: LLMCache, step_embeds: Tensor | None = None) -> tuple[Tensor, LLMCache]:
    """Feed `ids [B]` (their embeddings plus `step_embeds [B, E]` when given) -> `(log-probs [B, V], cache)`."""
    emb = llm.embed_text(ids[:, None])
    if step_embeds is not None:
        emb = emb + step_embeds[:, None].to(emb.dtype)
    hidden, cache = llm(emb, torch.ones_like(ids[:, None], dtype=torch.bool), cache=cache, use_cache=True)
    return torch.log_softmax(llm.lm_logits(hidden[:, -1]).float(), dim=-1), cache


@torch.no_grad()
def greedy_search(llm: LLMAdapter, embeds: Tensor | None, mask: Tensor | None, *, max_new_tokens: int, num_beams: int = 1,
                  eos_token_id: int | None = None, cache: LLMCache | None = None,
                  last_hidden: Tensor | None = None, step_embeds: Tensor | None = None) -> list[list[int]]:
    """Most likely next token each step; `B` id lists (EOS not included)."""
    logp, cache = _prefill(llm, embeds, mask, cache, last_hidden)
    b = logp.shape[0]
    out: list[list[int]] = [[] for _ in range(b)]
    done = torch.zeros(b, dtype=torch.bool, device=logp.device)
    for step in range(max_new_tokens):
        ids = logp.argmax(dim=-1)
        for i in range(b):
            if not done[i] and int(ids[i]) != eos_token_id:
                out[i].append(int(ids[i]))
        done |= ids == eos_token_id if eos_token_id is not None else torch.zeros_like(done)
        if bool(done.all()) or step == max_new_tokens - 1:
            break
        logp, cache = _step(llm, ids, cache, step_embeds)
    return out


@torch.no_grad()
def beam_search(llm: LLMAdapter, embeds: Tensor | None, mask: Tensor | None, *, max_new_tokens: int, num_beams: int,
                eos_token_id: int | None = None, cache: LLMCache | None = None,
                last_hidden: Tensor | None = None, step_embeds: Tensor | None = None) -> list[list[int]]:
    """Beam search with `num_beams` beams per sequence; `B` id lists of the best hypothesis."""
    k = num_beams
    step_embeds = step_embeds.repeat_interleave(k, dim=0) if step_embeds is not None else None
    logp, cache = _prefill(llm, embeds, mask, cache, last_hidden)
    b, vocab = logp.shape
    cache = cache.repeat_interleave(k)
    logp = logp.repeat_interleave(k, dim=0)
    scores = torch.full((b, k), float("-inf"), device=logp.device)
    scores[:, 0] = 0.0  # identical beams at the start: keep one
    tokens: list[list[list[int]]] = [[[] for _ in range(k)] for _ in range(b)]
    finished: list[list[tuple[float, list[int]]]] = [[] for _ in range(b)]
    for step in range(max_new_tokens):
        cand = (scores.reshape(-1, 1) + logp).reshape(b, k * vocab)
        top_scores, top_idx = cand.topk(min(2 * k, k * vocab), dim=1)
        new_scores = torch.full((b, k), float("-inf"), device=logp.device)
        src = torch.zeros(b, k, dtype=torch.long, device=logp.device)
        next_ids = torch.zeros(b, k, dtype=torch.long, device=logp.device)
        new_tokens: list[list[list[int]]] = []
        for i in range(b):
            kept: list[list[int]] = []
            for score, flat in zip(top_scores[i].tolist(), top_idx[i].tolist()):
                beam, tok = divmod(flat, vocab)
                if score == float("-inf") or len(kept) == k:
                    break
                if eos_token_id is not None and tok == eos_token_id:
                    if len(finished[i]) < k or score / (step + 1) > min(s for s, _ in finished[i]):
                        finished[i].append((score / (step + 1), tokens[i][beam]))
                    continue
                j = len(kept)
                new_scores[i, j], src[i, j], next_ids[i, j] = score, i * k + beam, tok
                kept.append(tokens[i][beam] + [tok])
            new_tokens.append(kept + [[] for _ in range(k - len(kept))])
        tokens, scores = new_tokens, new_scores
        if step == max_new_tokens - 1 or all(len(f) >= k for f in finished):
            break
        cache = cache.select(src.reshape(-1))
        logp, cache = _step(llm, next_ids.reshape(-1), cache, step_embeds)
    out = []
    for i in range(b):
        hyps = finished[i] + [(float(scores[i, j]) / max(len(tokens[i][j]), 1), tokens[i][j])
                              for j in range(k) if scores[i, j] > float("-inf")]
        out.append(max(hyps, key=lambda h: h[0])[1] if hyps else [])
    return out

"""The adapter's key/value cache: the model's `transformers` cache plus the attention mask
and the next position id of every sequence, so a continuation (streaming, generation)
after a right-padded prefix sees exactly what an unpadded sequence would."""
from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor


@dataclass
class LLMCache:
    """State of `B` sequences after a forward pass.

    Attributes:
        kv: the `transformers` `Cache` (e.g. `DynamicCache`) holding keys/values of
            every position seen, prefix-tuning prefixes and virtual tokens included.
        mask: `[B, P]` bool, which of the `P` cached positions are real tokens.
        next_pos: `[B]` long, position id of each sequence's next real token.
    """

    kv: Any
    mask: Tensor
    next_pos: Tensor

    @property
    def length(self) -> int:
        """`P`, the number of cached positions."""
        return int(self.mask.shape[1])

    def repeat_interleave(self, k: int) -> "LLMCache":
        """Each sequence `k` times in a row (beam search): `B` -> `B*k`, in place on `kv`."""
        self.kv.batch_repeat_interleave(k)
        return LLMCache(self.kv, self.mask.repeat_interleave(k, dim=0), self.next_pos.repeat_interleave(k, dim=0))

    def fork(self) -> "LLMCache":
        """An independent copy (inference): continuing it (generation) leaves this cache as it is,
        so a stream goes on after a head generated from it."""
        kv = self.kv.fork() if hasattr(self.kv, "fork") else copy.deepcopy(self.kv, _detached(self.kv))
        return LLMCache(kv, self.mask.clone(), self.next_pos.clone())

    def select(self, index: Tensor) -> "LLMCache":
        """Keep sequences `index` `[B']` (beam reordering), in place on `kv`."""
        self.kv.reorder_cache(index)
        return LLMCache(self.kv, self.mask.index_select(0, index), self.next_pos.index_select(0, index))


def _detached(obj: Any, memo: dict | None = None, depth: int = 0) -> dict:
    """`deepcopy` memo mapping every tensor held by a `transformers` cache (its layers and
    sub-caches, a few levels deep) to a detached clone, so caches built with gradients copy too."""
    memo = {} if memo is None else memo
    if isinstance(obj, Tensor):
        memo.setdefault(id(obj), obj.detach().clone())
        return memo
    if depth >= 4:
        return memo
    if isinstance(obj, dict):
        items = list(obj.values())
    elif isinstance(obj, (list, tuple)):
        items = list(obj)
    else:
        items = list(vars(obj).values()) if hasattr(obj, "__dict__") else []
    for item in items:
        _detached(item, memo, depth + 1)
    return memo


def positions_from_mask(mask: Tensor, start: Tensor | None = None) -> Tensor:
    """Position ids `[B, S]` long for right-padded `mask [B, S]`: `start + 0, 1, ...` on
    real tokens (padding repeats the last one; it is masked out anyway)."""
    pos = mask.long().cumsum(dim=1) - 1
    if start is not None:
        pos = pos + start[:, None]
    return pos.clamp(min=0)


def empty_mask(batch: int, device: torch.device | str) -> Tensor:
    return torch.zeros(batch, 0, dtype=torch.bool, device=device)

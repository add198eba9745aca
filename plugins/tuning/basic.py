"""Tuning without peft: `Frozen` (the paper's basic tuning: the LLM is frozen, only the
translator and heads train), `Full`, and `Partial` (unfreeze chosen parts of the LLM)."""
from __future__ import annotations

import re

from torch import nn

from videollm_core.base import LLMAdapter, Tuner
from videollm_core.errors import ConfigError

WHERE = "model.tuner"


class Frozen(Tuner):
    """Basic tuning: no LLM parameter trains."""

    def apply(self, llm: LLMAdapter) -> None:
        llm.requires_grad_(False)


class Full(Tuner):
    """Every parameter of the LLM's decoder trains (`llm.model`). An untied LM head, only
    used for text generation, trains only with `lm_head=True`: then every parameter of the
    adapter trains (an adapter holds the decoder and its LM head)."""

    def __init__(self, lm_head: bool = False):
        self.lm_head = bool(lm_head)

    def apply(self, llm: LLMAdapter) -> None:
        llm.requires_grad_(self.lm_head)
        llm.model.requires_grad_(True)


def decoder_blocks(model: nn.Module) -> nn.ModuleList:
    """The `ModuleList` of transformer blocks (`h`, `layers`, `block`...): the longest of the
    outermost lists (a T5 block's own `layer` list, nested inside `block`, never counts)."""
    named = {name: m for name, m in model.named_modules() if isinstance(m, nn.ModuleList) and len(m) > 0}
    lists = [m for name, m in named.items() if not any(name.startswith(f"{other}.") for other in named)]
    if not lists:
        raise ConfigError(f"cannot find the transformer blocks of {type(model).__name__}", where=f"{WHERE}.last_n_blocks")
    return max(lists, key=len)


class Partial(Tuner):
    """Partial tuning: freeze the LLM, then unfreeze parameters of `llm.model` whose name
    (relative to `llm.model`, e.g. `h.1.attn.c_attn.weight`) matches a regex of
    `patterns` (`re.search`), the first `first_n_blocks` and the last `last_n_blocks`
    transformer blocks, every normalisation layer (`norms`) and every bias (`biases`).

    The paper's partial tuning compares unfreezing the first block with unfreezing the last:
    `{type: Partial, first_n_blocks: 1}` and `{type: Partial, last_n_blocks: 1}`."""

    def __init__(self, patterns: list[str] | None = None, last_n_blocks: int = 0, norms: bool = False, biases: bool = False,
                 first_n_blocks: int = 0):
        self.patterns = list(patterns or [])
        try:
            self._regexes = [re.compile(p) for p in self.patterns]
        except re.error as e:
            raise ConfigError(f"bad regular expression in patterns: {e}", where=f"{WHERE}.patterns") from e
        for key, value in (("first_n_blocks", first_n_blocks), ("last_n_blocks", last_n_blocks)):
            if value < 0:
                raise ConfigError(f"{key} must be >= 0, got {value}", where=f"{WHERE}.{key}")
        self.first_n_blocks, self.last_n_blocks = int(first_n_blocks), int(last_n_blocks)
        self.norms = bool(norms)
        self.biases = bool(biases)

    def apply(self, llm: LLMAdapter) -> None:
        llm.requires_grad_(False)
        model = llm.model
        chosen: set[int] = set()
        for name, p in model.named_parameters():
            if any(r.search(name) for r in self._regexes) or (self.biases and name.endswith("bias")):
                chosen.add(id(p))
        if self.norms:
            for module in model.modules():
                if "norm" in type(module).__name__.lower():
                    chosen.update(id(p) for p in module.parameters(recurse=False))
        if self.first_n_blocks or self.last_n_blocks:
            blocks = list(decoder_blocks(model))
            for key, n, picked in (("first_n_blocks", self.first_n_blocks, blocks[:self.first_n_blocks]),
                                   ("last_n_blocks", self.last_n_blocks, blocks[len(blocks) - self.last_n_blocks:])):
                if n > len(blocks):
                    raise ConfigError(f"{key}={n} but the LLM has {len(blocks)} blocks", where=f"{WHERE}.{key}")
                for block in picked if n else ():
                    chosen.update(id(p) for p in block.parameters())
        if not chosen:
            raise ConfigError("Partial selected no LLM parameter", where=WHERE,
                              hint="set patterns (regex on names like 'h.1.attn'), first_n_blocks, last_n_blocks, norms or biases")
        for p in model.parameters():
            if id(p) in chosen:
                p.requires_grad_(True)

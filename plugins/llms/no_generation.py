"""A mixin for LLM adapters without an LM head (`NoLLM`, `T5Encoder`): every text-generation member
raises the adapter's own [`ConfigError`][videollm_core.errors.ConfigError], so a captioning head fails with
a message naming `model.llm` instead of a wrong answer."""
from __future__ import annotations

from typing import Any, NoReturn

from torch import Tensor


class WithoutTextGeneration:
    """Put before [`LLMAdapter`][videollm_core.base.LLMAdapter] in the bases; implement `_cannot_generate`."""

    def _cannot_generate(self, what: str) -> NoReturn:  # pragma: no cover - abstract
        raise NotImplementedError

    @property
    def eos_token_id(self) -> NoReturn:
        """Raises: only text generation asks for the end-of-text id."""
        self._cannot_generate("a caption's end token")

    def lm_logits(self, hidden: Tensor) -> NoReturn:
        """Raises: there is no LM head."""
        self._cannot_generate("lm_logits")

    def generate(self, embeds: Tensor | None, mask: Tensor | None, max_new_tokens: int = 20, num_beams: int = 1,
                 cache: Any = None, last_hidden: Tensor | None = None, step_embeds: Tensor | None = None) -> NoReturn:
        """Raises: there is no LM head."""
        self._cannot_generate("generate")

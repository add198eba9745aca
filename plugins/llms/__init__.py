"""Built-in plugin ``llms``: LLM adapters (``HFCausalLM``, ``T5Decoder``).

- :mod:`.hf_causal`, :mod:`.t5_decoder`: the adapters (``embeds [B, S, E]`` -> ``hidden [B, S, H]``);
  their model is built by :mod:`videollm_plugins.hf_models`, their tokenizer by :mod:`.tokenizer`.
- :mod:`.cache`: ``LLMCache``, the key/value cache of ``B`` sequences.
- :mod:`.context`, :mod:`.window_cache`: the bounded context policy ``model.context``.
- :mod:`.generation`: greedy and beam search.
- :mod:`.architectures`: shipped configs of the paper's LLMs (dry runs).

Imports go one way: the adapters import the helpers, never the reverse (the helpers take
the adapter as an argument). Nothing heavy is imported here: ``transformers`` loads when
an adapter is built.
"""
from __future__ import annotations

import videollm_core


@videollm_core.hookimpl
def videollm_register(registries) -> None:
    from .hf_causal import HFCausalLM
    from .t5_decoder import T5Decoder

    registries.llms.register_module(name="HFCausalLM", module=HFCausalLM)
    registries.llms.register_module(name="T5Decoder", module=T5Decoder)

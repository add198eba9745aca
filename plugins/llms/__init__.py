"""Built-in plugin ``llms``: LLM adapters (``HFCausalLM``, ``T5Decoder``, ``T5Encoder``) and the RQ1 control ``NoLLM``.

- :mod:`.hf_causal`, :mod:`.t5_decoder`: the adapters (``embeds [B, S, E]`` -> ``hidden [B, S, H]``);
  their model is built by :mod:`videollm_plugins.hf_models`, their tokenizer by :mod:`.tokenizer`.
  ``HFCausalLM(pretrained=..., random_init=True)`` is the random-weights control.
- :mod:`.no_llm`: ``NoLLM``, the no-reasoner control (hidden states = input embeddings).
- :mod:`.t5_encoder`: ``T5Encoder``, T5's bidirectional encoder (offline tasks; a built pipeline
  that would answer an online task with it is refused by :func:`videollm_pipeline_built`).
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
    from .no_llm import NoLLM
    from .t5_decoder import T5Decoder
    from .t5_encoder import T5Encoder

    registries.llms.register_module(name="HFCausalLM", module=HFCausalLM)
    registries.llms.register_module(name="T5Decoder", module=T5Decoder)
    registries.llms.register_module(name="T5Encoder", module=T5Encoder)
    registries.llms.register_module(name="NoLLM", module=NoLLM)


@videollm_core.hookimpl
def videollm_pipeline_built(pipeline, config) -> None:
    """Refuse a bidirectional reasoner (``T5Encoder``) under an online task's head."""
    from .t5_encoder import check_offline

    check_offline(pipeline)

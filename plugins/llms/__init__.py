"""Built-in plugin `llms`: LLM adapters (`HFCausalLM`, `T5Decoder`, `T5Encoder`) and the RQ1 control `NoLLM`.

- `hf_causal`, `t5_decoder`: the adapters (`embeds [B, S, E]` -> `hidden [B, S, H]`);
  their model is built by `videollm_plugins.hf_models`, their tokenizer by `tokenizer`.
  `HFCausalLM(pretrained=..., random_init=True)` is the random-weights control.
- `no_llm`: `NoLLM`, the no-reasoner control (hidden states = input embeddings).
- `t5_encoder`: `T5Encoder`, T5's bidirectional encoder (offline tasks; a built pipeline
  that would answer an online task with it is refused by `videollm_pipeline_built`).
- `cache`: `LLMCache`, the key/value cache of `B` sequences.
- `context`, `window_cache`: the bounded context policy `model.context`.
- `generation`: greedy and beam search.
- `architectures`: shipped configs of the paper's LLMs (dry runs).

Imports go one way: the adapters import the helpers, never the reverse (the helpers take
the adapter as an argument). Nothing heavy is imported here: `transformers` loads when
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
    """Refuse a bidirectional reasoner (`T5Encoder`) under an online task's head."""
    from .t5_encoder import check_offline

    check_offline(pipeline)

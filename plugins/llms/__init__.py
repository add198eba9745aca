"""Built-in plugin ``llms``: LLM adapters (``HFCausalLM``, ``T5Decoder``).

Nothing heavy is imported here: ``transformers`` loads when an adapter is built.
"""
from __future__ import annotations

import videollm_core


@videollm_core.hookimpl
def videollm_register(registries) -> None:
    from .hf_causal import HFCausalLM
    from .t5_decoder import T5Decoder

    registries.llms.register_module(name="HFCausalLM", module=HFCausalLM)
    registries.llms.register_module(name="T5Decoder", module=T5Decoder)

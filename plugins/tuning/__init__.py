"""Built-in plugin `tuning`: tuning strategies (basic, partial, full, peft methods).

`peft` is imported only when a peft tuner is applied.
"""
from __future__ import annotations

import videollm_core


@videollm_core.hookimpl
def videollm_register(registries) -> None:
    from .basic import Frozen, Full, Partial
    from .peft_tuners import IA3, AdaLoRA, LoRA, PrefixTuning, PromptTuning, PTuning

    for cls in (Frozen, Full, Partial, LoRA, IA3, AdaLoRA, PrefixTuning, PromptTuning, PTuning):
        registries.tuners.register_module(name=cls.__name__, module=cls)

"""Built-in plugin `translators`: linear, MLP and Q-Former semantic translators."""
from __future__ import annotations

import videollm_core

from .projection import LinearTranslator, MLPTranslator
from .qformer import QFormerTranslator

COMPONENTS = (LinearTranslator, MLPTranslator, QFormerTranslator)


@videollm_core.hookimpl
def videollm_register(registries) -> None:
    """Register the semantic translators in `registries.translators`."""
    for cls in COMPONENTS:
        registries.translators.register_module(name=cls.__name__, module=cls)

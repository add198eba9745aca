"""Built-in plugin `encoders`: modality encoders (visual units) and text encoders."""
from __future__ import annotations

import videollm_core

from .frame import FrameEncoder
from .text import HFTextEncoder, LLMTextEncoder
from .unitization import TemporalUnitEncoder

COMPONENTS = (TemporalUnitEncoder, FrameEncoder, LLMTextEncoder, HFTextEncoder)


@videollm_core.hookimpl
def videollm_register(registries) -> None:
    """Register the visual encoders and the text encoders in `registries.encoders`."""
    for cls in COMPONENTS:
        registries.encoders.register_module(name=cls.__name__, module=cls)

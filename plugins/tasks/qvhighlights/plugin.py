"""Built-in plugin `qvhighlights`: moment retrieval + highlight detection (QVHighlights)."""
from __future__ import annotations

import videollm_core


@videollm_core.hookimpl
def videollm_register(registries):
    from .dataset import QVHighlightsDataset
    from .head import MomentRetrievalHighlightHead
    from .metric import QVHighlightsMetric

    registries.datasets.register_module(name="QVHighlightsDataset", module=QVHighlightsDataset)
    registries.heads.register_module(name="MomentRetrievalHighlightHead", module=MomentRetrievalHighlightHead)
    registries.metrics.register_module(name="qvhighlights", module=QVHighlightsMetric)

"""Built-in plugin `nlq`: natural language query (Ego4D NLQ, Charades-STA)."""
from __future__ import annotations

import videollm_core


@videollm_core.hookimpl
def videollm_register(registries):
    from .dataset import CharadesSTADataset, Ego4DNLQDataset
    from .head import NaturalLanguageQueryHead
    from .metric import NaturalLanguageQueryMetric

    registries.datasets.register_module(name="Ego4DNLQDataset", module=Ego4DNLQDataset)
    registries.datasets.register_module(name="CharadesSTADataset", module=CharadesSTADataset)
    registries.heads.register_module(name="NaturalLanguageQueryHead", module=NaturalLanguageQueryHead)
    registries.metrics.register_module(name="nlq", module=NaturalLanguageQueryMetric)

"""Built-in plugin `moment_query`: temporal action detection (Ego4D MQ, ActivityNet-style JSON)."""
from __future__ import annotations

import videollm_core


@videollm_core.hookimpl
def videollm_register(registries):
    from .dataset import ActivityNetDetectionDataset, Ego4DMQDataset
    from .head import MomentQueryHead
    from .metric import MomentQueryMetric
    from .segment_queries import SegmentQueryHead

    registries.datasets.register_module(name="Ego4DMQDataset", module=Ego4DMQDataset)
    registries.datasets.register_module(name="ActivityNetDetectionDataset", module=ActivityNetDetectionDataset)
    registries.heads.register_module(name="MomentQueryHead", module=MomentQueryHead)
    registries.heads.register_module(name="SegmentQueryHead", module=SegmentQueryHead)
    registries.metrics.register_module(name="moment_query", module=MomentQueryMetric)

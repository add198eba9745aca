"""Built-in plugin `action_segmentation`: Breakfast dataset, head, MS-TCN metric."""
from __future__ import annotations

import videollm_core


@videollm_core.hookimpl
def videollm_register(registries):
    from .dataset import BreakfastDataset
    from .head import ActionSegmentationHead
    from .metric import ActionSegmentationMetric

    registries.datasets.register_module(name="BreakfastDataset", module=BreakfastDataset)
    registries.heads.register_module(name="ActionSegmentationHead", module=ActionSegmentationHead)
    registries.metrics.register_module(name="action_segmentation", module=ActionSegmentationMetric)

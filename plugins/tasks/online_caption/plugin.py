"""Built-in plugin `online_caption`: Ego4D-narration online captioning (dataset, head, metric)."""
from __future__ import annotations

import videollm_core

from .dataset import Ego4DNarrationDataset
from .head import OnlineCaptionHead
from .metric import OnlineCaptionMetric


@videollm_core.hookimpl
def videollm_register(registries):
    registries.datasets.register_module(name="Ego4DNarrationDataset", module=Ego4DNarrationDataset)
    registries.heads.register_module(name="OnlineCaptionHead", module=OnlineCaptionHead)
    registries.metrics.register_module(name="online_caption", module=OnlineCaptionMetric)

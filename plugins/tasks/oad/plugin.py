"""Built-in plugin `oad`: online action detection (EK100 and THUMOS datasets, head, metric)."""
from __future__ import annotations

import videollm_core

from .dataset import EK100OADDataset, ThumosOADDataset
from .head import OnlineActionDetectionHead
from .metric import OADMetric


@videollm_core.hookimpl
def videollm_register(registries):
    registries.datasets.register_module(name="EK100OADDataset", module=EK100OADDataset)
    registries.datasets.register_module(name="ThumosOADDataset", module=ThumosOADDataset)
    registries.heads.register_module(name="OnlineActionDetectionHead", module=OnlineActionDetectionHead)
    registries.metrics.register_module(name="oad", module=OADMetric)

"""Built-in plugin `anticipation`: EK100 action anticipation (dataset, head, metric)."""
from __future__ import annotations

import videollm_core

from .dataset import EK100AnticipationDataset
from .head import ActionAnticipationHead
from .metric import AnticipationMetric


@videollm_core.hookimpl
def videollm_register(registries):
    registries.datasets.register_module(name="EK100AnticipationDataset", module=EK100AnticipationDataset)
    registries.heads.register_module(name="ActionAnticipationHead", module=ActionAnticipationHead)
    registries.metrics.register_module(name="anticipation", module=AnticipationMetric)

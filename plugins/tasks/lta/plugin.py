"""Built-in plugin `lta`: Ego4D long-term anticipation (dataset, head, metric)."""
from __future__ import annotations

import videollm_core

from .dataset import Ego4DLTADataset
from .head import LongTermAnticipationHead
from .metric import LTAMetric


@videollm_core.hookimpl
def videollm_register(registries):
    registries.datasets.register_module(name="Ego4DLTADataset", module=Ego4DLTADataset)
    registries.heads.register_module(name="LongTermAnticipationHead", module=LongTermAnticipationHead)
    registries.metrics.register_module(name="lta", module=LTAMetric)

"""Built-in plugin `dense_caption`: ActivityNet Captions dataset, head, densevid/SODA metric."""
from __future__ import annotations

import videollm_core


@videollm_core.hookimpl
def videollm_register(registries):
    from .dataset import ActivityNetCaptionsDataset
    from .head import DenseCaptionHead
    from .metric import DenseCaptionMetric

    registries.datasets.register_module(name="ActivityNetCaptionsDataset", module=ActivityNetCaptionsDataset)
    registries.heads.register_module(name="DenseCaptionHead", module=DenseCaptionHead)
    registries.metrics.register_module(name="dense_caption", module=DenseCaptionMetric)

"""The plugin module named by the entry point ``[project.entry-points.videollm] example``.

videollm-core imports it and calls :func:`videollm_register` once; every component
registered there is attributed to the plugin ``example`` (``example:NAME`` in configs).
"""
from __future__ import annotations

import videollm_core

#: The range of the videollm-core plugin API this plugin is written for. A videollm-core
#: whose ``PLUGIN_API_VERSION`` lies outside it reports this plugin as ``incompatible``.
VIDEOLLM_API = ">=1.0,<2"


@videollm_core.hookimpl
def videollm_register(registries) -> None:
    """Register the encoder, translator, head, dataset and metric of this package."""
    from .dataset import SegmentCSVDataset
    from .encoder import TemporalConvEncoder
    from .head import UnitClassificationHead
    from .metric import SegmentAccuracy
    from .translator import GatedTranslator

    registries.encoders.register_module(name="TemporalConvEncoder", module=TemporalConvEncoder)
    registries.translators.register_module(name="GatedTranslator", module=GatedTranslator)
    registries.heads.register_module(name="UnitClassificationHead", module=UnitClassificationHead)
    registries.datasets.register_module(name="SegmentCSVDataset", module=SegmentCSVDataset)
    registries.metrics.register_module(name="segment_labels", module=SegmentAccuracy)

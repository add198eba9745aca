"""The plugin module named by the entry point ``[project.entry-points.videollm] example``.

videollm-core imports it and calls :func:`videollm_register` once; every component
registered there is attributed to the plugin ``example`` (``example:NAME`` in configs).
"""
from __future__ import annotations

import videollm_core

#: The range of the videollm-core plugin API this plugin is written for. A videollm-core
#: whose ``PLUGIN_API_VERSION`` lies outside it reports this plugin as ``incompatible``.
VIDEOLLM_API = ">=2.1,<3"


@videollm_core.hookimpl
def videollm_register(registries) -> None:
    """Register the encoder, translator, head, dataset and metric of this package."""
    from .dataset import ExampleDataset
    from .encoder import ExampleEncoder
    from .head import ExampleHead
    from .metric import ExampleAccuracy
    from .translator import ExampleTranslator

    registries.encoders.register_module(name="ExampleEncoder", module=ExampleEncoder)
    registries.translators.register_module(name="ExampleTranslator", module=ExampleTranslator)
    registries.heads.register_module(name="ExampleHead", module=ExampleHead)
    registries.datasets.register_module(name="ExampleDataset", module=ExampleDataset)
    registries.metrics.register_module(name="example", module=ExampleAccuracy)

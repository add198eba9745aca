"""Built-in plugin `features`: registers the feature sources in `registries.features`."""
from __future__ import annotations

import videollm_core

from .concat import ConcatFeatures
from .hdf5 import HDF5Features
from .npy import NpyFeatures
from .npz import NpzFeatures
from .rulstm import LMDBFeatures
from .torch_pt import TorchFeatures
from .video import VideoFrames

COMPONENTS = (NpyFeatures, NpzFeatures, HDF5Features, LMDBFeatures, TorchFeatures, ConcatFeatures, VideoFrames)


@videollm_core.hookimpl
def videollm_register(registries) -> None:
    """Register every built-in feature source under its class name."""
    for cls in COMPONENTS:
        registries.features.register_module(name=cls.__name__, module=cls)

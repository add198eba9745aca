"""`NpyFeatures`: one `<video_id>.npy` per video, memory-mapped.

Layouts: ActionFormer's THUMOS14 I3D features and this project's own extraction
(`[T, Df]`, `np.load` in `happyharrycn/actionformer_release`
`libs/datasets/thumos14.py`); MS-TCN's Breakfast/50Salads/GTEA I3D features are
`[Df, T]` (`yabufarha/ms-tcn` `batch_gen.py` loads them and slices `[:, ::sample_rate]`),
read with `channels_first: true`.
"""
from __future__ import annotations

import numpy as np

from videollm_core.errors import DataError

from .arrays import as_float32, checked
from .files import FolderSource


class NpyFeatures(FolderSource):
    """`<dir>/<video_id>.npy`, `[T, Df]` (or `[Df, T]` with `channels_first`) floats.

    Args:
        dir: the folder.
        fps: feature steps per second (left out in a dataset's `features:`: the dataset's rate).
        channels_first: the files store `[Df, T]` (MS-TCN); `read` returns `[T, Df]`.

    `read` returns a read-only memory map (a transposed view for `channels_first`) when the
    file is float32, a float32 copy otherwise.
    """

    suffix = ".npy"

    def __init__(self, dir: str, fps: float | None = None, channels_first: bool = False):
        super().__init__(dir, fps)
        self.channels_first = bool(channels_first)

    def read(self, video_id: str) -> np.ndarray:
        path = self.path_of(video_id)
        return as_float32(load_npy(path, channels_first=self.channels_first))


def load_npy(path, *, channels_first: bool = False) -> np.ndarray:
    """Memory-map one `.npy` and check its layout (see `arrays.checked`, values not scanned)."""
    try:
        arr = np.load(path, mmap_mode="r", allow_pickle=False)
    except Exception as e:  # truncated header, pickled object, not an .npy at all
        raise DataError(f"cannot read the feature file ({type(e).__name__}: {e})", where=str(path), hint="re-extract it with numpy.save") from e
    return checked(arr, str(path), channels_first=channels_first, check_values=False)


__all__ = ["NpyFeatures", "load_npy"]

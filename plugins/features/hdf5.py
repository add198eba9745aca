"""`HDF5Features`: one HDF5 file, one entry per video id.

Layouts:

* ActivityNet C3D (`sub_activitynet_v1-3.c3d.hdf5`, the features of ActivityNet
  Captions' DenseCap and of 2D-TAN): a group per video `v_xxx` holding the dataset
  `c3d_features` `[T, 500]` float64, one step per 8 frames
  (`microsoft/2D-TAN` `lib/datasets/activitynet.py` reads `f[vid]['c3d_features'][:]`);
  `key: c3d_features`.
* TSP (`HumamAlwassel/TSP` released h5): the entry of a video is itself the `[N, 512]`
  array (`f[video_name][:]`); no `key`.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from videollm_core.errors import DataError
from videollm_core.features import FeatureSource, require_fps

from .arrays import ProcessHandle, as_float32, checked, missing_package


def _h5py() -> Any:
    try:
        import h5py
    except ImportError as e:
        raise missing_package("h5py", "HDF5Features") from e
    return h5py


class HDF5Features(ProcessHandle, FeatureSource):
    """`path[video_id]` (or `path[video_id][key]`): `[T, Df]` floats per video.

    Args:
        path: the `.h5`/`.hdf5` file.
        fps: feature steps per second.
        key: the dataset's name inside each video's group (C3D: `c3d_features`); `None`
            when the video's entry is the array itself (TSP).

    The file opens on first read, once per process (DataLoader workers each open their
    own handle); each read copies one video's array out of the file (float64 becomes float32).
    """

    def __init__(self, path: str, fps: float | None = None, key: str | None = None):
        self.path = Path(path)
        self.fps = require_fps(fps, "HDF5Features", optional=True)
        self.key = key

    @property
    def where(self) -> str:
        return str(self.path)

    def open_handle(self) -> Any:
        h5py = _h5py()
        if not self.path.is_file():
            raise DataError("HDF5 feature file not found", where=str(self.path), hint="check features.path")
        try:
            return h5py.File(self.path, "r")
        except OSError as e:
            raise DataError(f"cannot open the HDF5 file ({e})", where=str(self.path), hint="is it an HDF5 file? (h5dump -H FILE)") from e

    def read(self, video_id: str) -> np.ndarray:
        f = self.handle()
        where = f"{self.path}[{video_id!r}]"
        if video_id not in f:
            raise DataError(f"no entry for video {video_id!r}", where=str(self.path),
                            hint="the file's top-level keys are the video ids (ActivityNet: v_xxx)")
        entry = f[video_id]
        if self.key is not None:
            where += f"[{self.key!r}]"
            if not hasattr(entry, "keys") or self.key not in entry:
                keys = ", ".join(entry.keys()) if hasattr(entry, "keys") else "none: it is a dataset (leave key out)"
                raise DataError(f"no dataset '{self.key}' in the video's group (it has {keys})", where=where, hint="set features.key")
            entry = entry[self.key]
        elif hasattr(entry, "keys"):
            raise DataError(f"the video's entry is a group ({', '.join(entry.keys())}), not an array", where=where,
                            hint="set features.key to the dataset inside it (ActivityNet C3D: c3d_features)")
        return as_float32(checked(entry[()], where, check_values=False))

    def video_ids(self) -> list[str]:
        return sorted(self.handle().keys())

    @classmethod
    def claims(cls, path: Path) -> dict | None:
        """An `.h5`/`.hdf5` file; `key` is the one dataset inside the first video's group, if it is a group."""
        if not (path.is_file() and path.suffix in (".h5", ".hdf5")):
            return None
        h5py = _h5py()
        try:
            with h5py.File(path, "r") as f:
                first = f[next(iter(f))] if len(f) else None
                if first is not None and hasattr(first, "keys") and len(first) == 1:
                    return {"path": str(path), "key": next(iter(first.keys()))}
        except OSError:
            pass  # unreadable: the first read reports it
        return {"path": str(path)}


__all__ = ["HDF5Features"]

"""Checks shared by every feature source: one `[T, Df]` float array per video."""
from __future__ import annotations

import os
from typing import Any

import numpy as np

from videollm_core.errors import DataError

#: rows scanned at once by the NaN/Inf check (bounded memory on memory-mapped files).
_CHUNK = 4096


def checked(arr: np.ndarray, where: str, *, channels_first: bool = False, check_values: bool = True) -> np.ndarray:
    """`arr` as `[T, Df]` after checking it; `[Df, T]` storage is transposed when `channels_first`.

    Raises:
        DataError: not 2-D, no steps, not floats, or (`check_values`) NaN/Inf at some step.
    """
    layout = "[Df, T]" if channels_first else "[T, Df]"
    if arr.ndim != 2:
        raise DataError(f"features must be 2-D {layout}, got shape {list(arr.shape)}", where=where)
    if channels_first:
        arr = arr.T
    if arr.shape[0] == 0:
        raise DataError("the features have no time steps", where=where)
    if not np.issubdtype(arr.dtype, np.floating):
        raise DataError(f"features must be floats, got {arr.dtype}", where=where)
    if check_values:
        for i in range(0, arr.shape[0], _CHUNK):
            block = np.asarray(arr[i : i + _CHUNK])
            if not np.isfinite(block).all():
                row = i + int(np.argwhere(~np.isfinite(block))[0][0])
                raise DataError(f"non-finite value (NaN/Inf) at step {row}", where=where, hint="re-extract the features of this video")
    return arr


def as_float32(arr: np.ndarray) -> np.ndarray:
    """`arr` itself when already float32 (a memory map stays one), else a float32 copy (e.g. C3D's float64)."""
    return arr if arr.dtype == np.float32 else np.asarray(arr, dtype=np.float32)


def l2_normalize(arr: np.ndarray, eps: float = 1e-5) -> np.ndarray:
    """Rows divided by their L2 norm plus `eps` (Moment-DETR's `l2_normalize_np_array`), float32."""
    arr = np.asarray(arr, dtype=np.float32)
    return arr / (np.linalg.norm(arr, axis=-1, keepdims=True) + eps)


def missing_package(package: str, source: str) -> DataError:
    """The error for an absent optional dependency: names the package and the extra that installs it."""
    return DataError(f"{source} needs the Python package '{package}'", where=source,
                     hint=f"pip install {package}  (or pip install 'videollm-core[features]')")


__all__ = ["checked", "as_float32", "l2_normalize", "missing_package"]


class ProcessHandle:
    """A file handle opened lazily, once per process: DataLoader workers (forked or spawned) each
    open their own, and a pickled source carries no open handle.

    Subclasses implement `open_handle`; `handle` returns the process's handle.
    """

    _handle: Any = None
    _pid: int | None = None

    def open_handle(self) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def handle(self) -> Any:
        if self._handle is None or self._pid != os.getpid():
            self._handle = self.open_handle()
            self._pid = os.getpid()
        return self._handle

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state.pop("_handle", None)  # an open h5py file or LMDB environment does not pickle
        state.pop("_pid", None)
        return state


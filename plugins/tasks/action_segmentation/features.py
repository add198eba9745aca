"""Per-video feature files ``<features_dir>/<video_id>.npy``, memory-mapped and checked.

Shared by the tasks of this engineer (action segmentation, dense captioning); a
candidate for ``plugins/tasks/common/``.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from videollm_core.errors import DataError

#: rows of a memory-mapped file scanned at once by the NaN/Inf check.
_CHUNK = 4096


def load_features(
    path: str | Path,
    *,
    feature_dim: int | None = None,
    channels_first: bool = False,
    check_values: bool = True,
) -> np.ndarray:
    """Open one video's features as ``[T, Df]`` (a read-only memory map or a view of it).

    Args:
        path: the ``.npy`` file.
        feature_dim: expected ``Df`` (the encoder's ``in_dim``); ``None`` skips the check.
        channels_first: the file stores ``[Df, T]`` (MS-TCN's Breakfast/50Salads/GTEA
            features); the result is transposed to ``[T, Df]``.
        check_values: scan for NaN/Inf (reads the whole file once, in chunks).

    Raises:
        DataError: missing or unreadable file, not 2-D, ``Df != feature_dim``, no steps,
            non-finite values. ``where`` is the file.
    """
    path = Path(path)
    where = str(path)
    if not path.is_file():
        raise DataError("feature file not found", where=where, hint="extract features for every video, named <video_id>.npy")
    try:
        arr = np.load(path, mmap_mode="r", allow_pickle=False)
    except Exception as e:  # truncated header, pickled object, not an .npy at all
        raise DataError(f"cannot read the feature file ({type(e).__name__}: {e})", where=where, hint="re-extract it with numpy.save") from e
    layout = "[Df, T]" if channels_first else "[T, Df]"
    if arr.ndim != 2:
        raise DataError(f"features must be 2-D {layout}, got shape {list(arr.shape)}", where=where)
    if channels_first:
        arr = arr.T
    if feature_dim is not None and arr.shape[1] != feature_dim:
        raise DataError(
            f"feature dim {arr.shape[1]} (shape {list(arr.shape)} read as {layout}) does not match the encoder's in_dim {feature_dim}",
            where=where,
            hint="set model.encoder.in_dim to the features' dimension (or check channels_first)",
        )
    if arr.shape[0] == 0:
        raise DataError("the feature file has no time steps", where=where)
    if not np.issubdtype(arr.dtype, np.floating):
        raise DataError(f"features must be floats, got {arr.dtype}", where=where)
    if check_values:
        for i in range(0, arr.shape[0], _CHUNK):
            block = np.asarray(arr[i : i + _CHUNK])
            if not np.isfinite(block).all():
                row = i + int(np.argwhere(~np.isfinite(block))[0][0])
                raise DataError(f"non-finite value (NaN/Inf) at step {row}", where=where, hint="re-extract the features of this video")
    return arr

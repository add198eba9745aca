"""The LSTR / TeSTra / MAT layout of THUMOS-style online action detection data.

::

    <root>/data_info.json                       (or <root>/../data_info.json) keyed by dataset name:
        {"THUMOS": {"class_names": [...], "num_classes": 22, "ignore_index": 21,
                    "fps": 4, "train_session_set": [...], "test_session_set": [...]}}
    <root>/target_perframe/<video>.npy           [T, C] one/multi-hot at ``fps`` (column 0 = background)
    <root>/<feature name>/<video>.npy            [T, Df] features on the same grid

Per-frame label = argmax of the target row (lowest class on overlaps; used for training
and the top-k recalls); the per-frame mAP scores each class over its column of the
multi-hot target (:func:`positives`), as LSTR's ``perframe_average_precision`` does. Frames
where the ``ignore_index`` column (THUMOS ``Ambiguous``) is set are dropped from evaluation.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from videollm_core.errors import DataError

IGNORED = -100


def find_data_info(root: Path, explicit: str | Path | None) -> Path:
    """``data_info.json``: ``explicit``, else in ``root``, else in ``root``'s parent."""
    for cand in ([Path(explicit)] if explicit else [root / "data_info.json", root.parent / "data_info.json"]):
        if cand.is_file():
            return cand
    raise DataError("data_info.json not found", where=str(explicit or root),
                    hint="LSTR keeps data/data_info.json beside data/THUMOS; pass data_info: PATH")


def read_data_info(path: Path, name: str) -> dict[str, Any]:
    """The entry ``name`` (e.g. ``THUMOS``) of an LSTR ``data_info.json``."""
    info = json.loads(Path(path).read_text(encoding="utf-8"))
    if name not in info:
        raise DataError(f"no dataset {name!r} in data_info.json (has {sorted(info)})", where=str(path),
                        hint="set dataset_name to one of its keys")
    entry = info[name]
    for key in ("class_names", "num_classes", "ignore_index", "fps"):
        if key not in entry:
            raise DataError(f"entry {name!r} lacks {key!r}", where=str(path))
    return entry


def frame_labels(target: np.ndarray, ignore_index: int | None) -> np.ndarray:
    """``target [T, C]`` multi-hot -> ``[T]`` labels (argmax; :data:`IGNORED` where ``ignore_index`` is set)."""
    labels = np.argmax(target, axis=1).astype(np.int64)
    if ignore_index is not None and 0 <= ignore_index < target.shape[1]:
        labels[target[:, ignore_index] > 0] = IGNORED
    return labels


def positives(target: np.ndarray, ignore_index: int | None) -> np.ndarray:
    """``target [T, C]`` multi-hot -> its positives ``(frame, class)`` ``[P, 2]``, background (column 0)
    and the ``ignore_index`` column left out (a frame of two overlapping actions is a positive of both)."""
    hot = np.asarray(target) > 0
    hot[:, 0] = False
    if ignore_index is not None and 0 <= ignore_index < hot.shape[1]:
        hot[:, ignore_index] = False
    return np.argwhere(hot).astype(np.int64)


def load_target(path: Path, num_classes: int) -> np.ndarray:
    """One ``target_perframe`` file ``[T, C]``, checked."""
    if not path.is_file():
        raise DataError("per-frame target file not found", where=str(path))
    try:
        target = np.load(path, allow_pickle=False)
    except Exception as e:
        raise DataError(f"cannot read it ({type(e).__name__}: {e})", where=str(path)) from e
    if target.ndim != 2 or target.shape[1] != num_classes:
        raise DataError(f"expected [T, {num_classes}] per-frame targets, got {list(target.shape)}", where=str(path))
    if not np.isfinite(target).all():
        raise DataError("non-finite per-frame target", where=str(path))
    return target


def load_ground_truth(root: Path, data_info: str | Path | None, dataset_name: str | None, session_set: str, fps: float):
    """An LSTR folder -> :class:`~.metric.OADGroundTruth` for the videos of ``session_set``."""
    from .metric import OADGroundTruth

    name = dataset_name or root.name
    entry = read_data_info(find_data_info(root, data_info), name)
    videos = entry.get(session_set) or sorted(p.stem for p in (root / "target_perframe").glob("*.npy"))
    ignore = entry["ignore_index"] if entry["ignore_index"] > 0 else None
    labels, pos = {}, {}
    for v in videos:
        target = load_target(root / "target_perframe" / f"{v}.npy", entry["num_classes"])
        labels[v], pos[v] = {"action": frame_labels(target, ignore)}, positives(target, ignore)
    return OADGroundTruth(float(entry["fps"]), labels, {"action": int(entry["num_classes"])}, extendable=False,
                          class_names=list(entry["class_names"]), positives=pos)


__all__ = ["IGNORED", "find_data_info", "read_data_info", "frame_labels", "positives", "load_target", "load_ground_truth"]

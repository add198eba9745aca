"""Writers of each released feature layout, exactly as the benchmarks ship them (test fixtures)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch


def write_npy(root: Path, arrays: dict[str, np.ndarray], *, channels_first: bool = False) -> Path:
    """``<root>/<vid>.npy``: ``[T, D]`` float32 (THUMOS14 I3D) or ``[D, T]`` (MS-TCN Breakfast)."""
    root.mkdir(parents=True, exist_ok=True)
    for vid, arr in arrays.items():
        np.save(root / f"{vid}.npy", (arr.T if channels_first else arr).astype(np.float32))
    return root


def write_npz(root: Path, arrays: dict[str, np.ndarray], key: str = "features") -> Path:
    """Moment-DETR: ``<root>/<vid>.npz`` with the ``[T, D]`` float32 array under ``features``."""
    root.mkdir(parents=True, exist_ok=True)
    for vid, arr in arrays.items():
        np.savez(root / f"{vid}.npz", **{key: arr.astype(np.float32)})
    return root


def write_c3d_hdf5(path: Path, arrays: dict[str, np.ndarray]) -> Path:
    """ActivityNet ``sub_activitynet_v1-3.c3d.hdf5``: group ``v_xxx``, dataset ``c3d_features`` float64."""
    import h5py

    with h5py.File(path, "w") as f:
        for vid, arr in arrays.items():
            f.create_group(vid).create_dataset("c3d_features", data=arr.astype(np.float64))
    return path


def write_tsp_hdf5(path: Path, arrays: dict[str, np.ndarray]) -> Path:
    """TSP: the entry of a video is the ``[N, 512]``-style float32 array itself."""
    import h5py

    with h5py.File(path, "w") as f:
        for vid, arr in arrays.items():
            f.create_dataset(vid, data=arr.astype(np.float32))
    return path


def write_pt(root: Path, arrays: dict[str, np.ndarray]) -> Path:
    """Ego4D: ``<root>/<video_uid>.pt``, a ``[T, D]`` float tensor saved by ``torch.save``."""
    root.mkdir(parents=True, exist_ok=True)
    for vid, arr in arrays.items():
        torch.save(torch.from_numpy(arr.astype(np.float32)), root / f"{vid}.pt")
    return root


def rulstm_frame(step: int, fps: float, native_fps: float = 30.0) -> int:
    """The 1-based frame RULSTM reads for the start of step ``step``: ``max(1, floor(t * 30))``."""
    return max(1, int(np.floor((step / fps) * native_fps)))


def write_rulstm_lmdb(path: Path, arrays: dict[str, np.ndarray], fps: float, seed: int = 0) -> Path:
    """EPIC-KITCHENS RULSTM: one LMDB, key ``<vid>_frame_<frame:010d>.jpg`` -> float32 bytes, every frame.

    Frames read by a step hold that step's vector; the others hold noise; each video has
    frames up to one before the frame of step ``T`` (so exactly ``T`` steps exist).
    """
    import lmdb

    rng = np.random.default_rng(seed)
    env = lmdb.open(str(path), map_size=1 << 28)
    with env.begin(write=True) as txn:
        for vid, arr in arrays.items():
            steps = {rulstm_frame(i, fps): i for i in range(arr.shape[0])}
            last = rulstm_frame(arr.shape[0], fps) - 1
            for frame in range(1, last + 1):
                vec = arr[steps[frame]] if frame in steps else rng.normal(size=arr.shape[1])
                txn.put(f"{vid}_frame_{frame:010d}.jpg".encode(), np.asarray(vec, dtype=np.float32).tobytes())
    env.close()
    return path


def write_mp4(path: Path, num_frames: int, *, rate: int = 8, size: int = 32, seed: int = 0) -> Path:
    """An mpeg4 video written with PyAV: ``num_frames`` random-colour frames at ``rate`` fps."""
    import av

    rng = np.random.default_rng(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=rate)
        stream.width, stream.height, stream.pix_fmt = size, size, "yuv420p"
        for _ in range(num_frames):
            image = np.empty((size, size, 3), np.uint8)
            image[...] = rng.integers(0, 256, size=3, dtype=np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path

"""`LMDBFeatures`: EPIC-KITCHENS features in the RULSTM LMDB layout, one vector per frame.

Layout (`fpv-iplab/rulstm` `RULSTM/dataset.py`): one LMDB environment per modality
(`rgb/`, `flow/`, `obj/`: 1024, 1024 and 352 dims); the value under the key
`<video_id>_frame_<frame:010d>.jpg` is that frame's vector as raw `float32` bytes
(`np.frombuffer(value, 'float32')`). Frames are numbered from 1 at 30 fps; the EK100
`*_full` features have a key for every frame. RULSTM turns a time `t` into the
frame `floor(t * 30)` and replaces frame numbers below 1 by the first valid one; here
step `i` of the `fps` grid (covering `[i/fps, (i+1)/fps)` s) reads the frame of its
start time `t = i / fps`, i.e. `max(1, floor(t * native_fps))`.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np

from videollm_core.errors import ConfigError, DataError
from videollm_core.features import FeatureSource, require_fps

from .arrays import ProcessHandle, missing_package


def _lmdb() -> Any:
    try:
        import lmdb
    except ImportError as e:
        raise missing_package("lmdb", "LMDBFeatures") from e
    return lmdb


def step_frames(num_frames: int, fps: float, native_fps: float) -> np.ndarray:
    """Frame numbers (1-based) read by the steps of a video with `num_frames` frames: `[T]` int64.

    Step `i` reads `max(1, floor((i / fps) * native_fps))`; the steps are every `i` whose frame exists.
    """
    i = np.arange(int(np.ceil((num_frames + 1) * fps / native_fps)) + 1, dtype=np.float64)
    frames = np.maximum(np.floor((i / fps) * native_fps).astype(np.int64), 1)
    return frames[frames <= num_frames]


class LMDBFeatures(ProcessHandle, FeatureSource):
    """Per-frame `float32` vectors in an LMDB, sampled on a grid of `fps` steps per second.

    Args:
        path: the LMDB folder of one modality (holding `data.mdb`).
        fps: feature steps per second of the dataset (EK100 OAD/anticipation: 4).
        native_fps: the frame rate the keys count in (EPIC-KITCHENS: 30).
        frame_key: the key of a frame, formatted with `video_id` and `frame`.
        dim: expected vector size (RULSTM: rgb/flow 1024, obj 352); `None` takes the first one's.

    A video's length is its highest frame key (keys sort by frame, the numbers being
    zero-padded). A missing key is a [`DataError`][videollm_core.errors.DataError] naming the key.
    """

    def __init__(self, path: str, fps: float, native_fps: float = 30.0,
                 frame_key: str = "{video_id}_frame_{frame:010d}.jpg", dim: int | None = None):
        self.path = Path(path)
        self.fps = require_fps(fps, "LMDBFeatures")
        self.native_fps = require_fps(native_fps, "LMDBFeatures.native_fps")
        head, sep, tail = frame_key.partition("{frame")
        if not sep or "{video_id}" not in head:
            raise ConfigError(f"frame_key must contain {{video_id}} then {{frame...}}, got {frame_key!r}", where="LMDBFeatures.frame_key",
                              hint='RULSTM: "{video_id}_frame_{frame:010d}.jpg"')
        self.frame_key, self._head = frame_key, head
        self._tail = re.escape(tail.partition("}")[2])
        self.dim_expected = None if dim is None else int(dim)

    @property
    def where(self) -> str:
        return str(self.path)

    def open_handle(self) -> Any:
        lmdb = _lmdb()
        if not (self.path / "data.mdb").is_file():
            raise DataError("LMDB not found (no data.mdb)", where=str(self.path),
                            hint="point features.path at one modality's folder, e.g. .../rulstm/rgb")
        return lmdb.open(str(self.path), readonly=True, lock=False)

    def num_frames(self, video_id: str) -> int:
        """The highest frame number stored for `video_id` (0 when it has none)."""
        prefix = self._head.format(video_id=video_id).encode("utf-8")
        pattern = re.compile(re.escape(prefix.decode("utf-8")) + r"(\d+)" + self._tail + "$")
        last = 0
        with self.handle().begin() as txn:
            cursor = txn.cursor()
            if cursor.set_range(prefix):
                for key in cursor.iternext(keys=True, values=False):
                    if not key.startswith(prefix):
                        break
                    match = pattern.match(key.decode("utf-8", "replace"))
                    if match:
                        last = max(last, int(match.group(1)))
        return last

    def read(self, video_id: str) -> np.ndarray:
        n = self.num_frames(video_id)
        if n == 0:
            key = self.frame_key.format(video_id=video_id, frame=1)
            raise DataError(f"no frame of video {video_id!r} in the LMDB (looked for keys like {key!r})", where=str(self.path),
                            hint="check the video id and features.frame_key")
        frames = step_frames(n, self.fps, self.native_fps)
        rows = []
        with self.handle().begin() as txn:
            for frame in frames:
                key = self.frame_key.format(video_id=video_id, frame=int(frame))
                value = txn.get(key.encode("utf-8"))
                if value is None:
                    raise DataError(f"missing key {key!r}", where=str(self.path),
                                    hint="the *_full features have every frame; check native_fps and frame_key")
                rows.append(np.frombuffer(value, dtype=np.float32))
        dim = self.dim_expected or rows[0].shape[0]
        bad = next((k for k, r in enumerate(rows) if r.shape[0] != dim), None)
        if bad is not None:
            key = self.frame_key.format(video_id=video_id, frame=int(frames[bad]))
            raise DataError(f"vector of {rows[bad].shape[0]} float32 under {key!r}, expected {dim}", where=str(self.path),
                            hint="RULSTM dims: rgb 1024, flow 1024, obj 352 (set features.dim)")
        return np.stack(rows)

    @property
    def dim(self) -> int:
        """`dim` when given, else the size of the first stored vector (no scan of the keys)."""
        if self.dim_expected is not None:
            return self.dim_expected
        with self.handle().begin() as txn:
            cursor = txn.cursor()
            if not cursor.first():
                raise DataError("the LMDB is empty", where=str(self.path))
            return len(cursor.value()) // 4

    def video_ids(self) -> list[str]:
        pattern = re.compile("^" + re.escape(self._head).replace(re.escape("{video_id}"), "(.+?)") + r"\d+" + self._tail + "$")
        ids = set()
        with self.handle().begin() as txn:
            for key in txn.cursor().iternext(keys=True, values=False):
                match = pattern.match(key.decode("utf-8", "replace"))
                if match:
                    ids.add(match.group(1))
        return sorted(ids)

    @classmethod
    def claims(cls, path: Path) -> dict | None:
        return {"path": str(path)} if path.is_dir() and (path / "data.mdb").is_file() else None


__all__ = ["LMDBFeatures", "step_frames"]

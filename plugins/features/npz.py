"""`NpzFeatures`: one `<video_id>.npz` per video, the array under one key.

Layout of Moment-DETR's QVHighlights release (`jayleicn/moment_detr`
`moment_detr/start_end_dataset.py` `_get_video_feat_by_vid`): `slowfast_features/<vid>.npz`
and `clip_features/<vid>.npz`, both with the `[T, D]` array under `features` (2304 and
512 dims, one step per 2-s clip); the CLIP text features beside them
(`clip_text_features/qid<N>.npz`) use `last_hidden_state`/`pooler_output`.
"""
from __future__ import annotations

import zipfile

import numpy as np

from videollm_core.errors import DataError

from .arrays import as_float32, checked
from .files import FolderSource


class NpzFeatures(FolderSource):
    """`<dir>/<video_id>.npz` holding `[T, Df]` under `key`.

    Args:
        dir: the folder.
        key: the array's name inside each file (Moment-DETR: `features`).
        fps: feature steps per second (QVHighlights: 0.5, one per 2-s clip).

    An `.npz` is a zip archive: `read` decompresses the one array (no memory map).
    """

    suffix = ".npz"

    def __init__(self, dir: str, fps: float | None = None, key: str = "features"):
        super().__init__(dir, fps)
        self.key = str(key)

    def read(self, video_id: str) -> np.ndarray:
        path = self.path_of(video_id)
        try:
            with np.load(path, allow_pickle=False) as archive:
                if self.key not in archive.files:
                    raise DataError(f"no array '{self.key}' in the file (it has {', '.join(archive.files) or 'none'})",
                                    where=str(path), hint="set features.key to the array's name")
                _check_array_size(path, self.key)
                arr = archive[self.key]
        except DataError:
            raise
        except (OSError, EOFError, ValueError, zipfile.BadZipFile, MemoryError) as e:  # EOFError: an empty file
            raise DataError(f"cannot read the feature file ({type(e).__name__}: {e})", where=str(path), hint="re-extract it with numpy.savez") from e
        return as_float32(checked(arr, f"{path}[{self.key!r}]", check_values=False))


def _check_array_size(path: object, key: str) -> None:
    """Refuse an array whose header (shape, dtype) or zip entry would decompress to more than
    `videollm_core.paths.max_file_bytes`, before a byte of it is allocated."""
    from videollm_core.paths import max_file_bytes

    limit = max_file_bytes()
    with zipfile.ZipFile(path) as archive:  # type: ignore[arg-type]
        info = archive.getinfo(f"{key}.npy")
        with archive.open(info) as f:
            version = np.lib.format.read_magic(f)
            read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
            shape, _, dtype = read_header(f)
    claimed = int(np.prod(shape, dtype=np.float64)) * dtype.itemsize
    if max(claimed, info.file_size) > limit:
        raise DataError(f"the array '{key}' would take {max(claimed, info.file_size):,} bytes once decompressed "
                        f"(shape {list(shape)}), over the limit of {limit:,}", where=str(path),
                        hint="is it the right file? For a genuine one, set VIDEOLLM_MAX_FILE_BYTES to a larger number of bytes")


__all__ = ["NpzFeatures"]

"""``NpzFeatures``: one ``<video_id>.npz`` per video, the array under one key.

Layout of Moment-DETR's QVHighlights release (``jayleicn/moment_detr``
``moment_detr/start_end_dataset.py`` ``_get_video_feat_by_vid``): ``slowfast_features/<vid>.npz``
and ``clip_features/<vid>.npz``, both with the ``[T, D]`` array under ``features`` (2304 and
512 dims, one step per 2-s clip); the CLIP text features beside them
(``clip_text_features/qid<N>.npz``) use ``last_hidden_state``/``pooler_output``.
"""
from __future__ import annotations

import zipfile

import numpy as np

from videollm_core.errors import DataError

from .arrays import as_float32, checked
from .files import FolderSource


class NpzFeatures(FolderSource):
    """``<dir>/<video_id>.npz`` holding ``[T, Df]`` under ``key``.

    Args:
        dir: the folder.
        key: the array's name inside each file (Moment-DETR: ``features``).
        fps: feature steps per second (QVHighlights: 0.5, one per 2-s clip).

    An ``.npz`` is a zip archive: :meth:`read` decompresses the one array (no memory map).
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
                arr = archive[self.key]
        except DataError:
            raise
        except (OSError, ValueError, zipfile.BadZipFile) as e:
            raise DataError(f"cannot read the feature file ({type(e).__name__}: {e})", where=str(path), hint="re-extract it with numpy.savez") from e
        return as_float32(checked(arr, f"{path}[{self.key!r}]", check_values=False))


__all__ = ["NpzFeatures"]

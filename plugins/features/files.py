"""Sources with one file per video in a folder: `<dir>/<video_id><suffix>`."""
from __future__ import annotations

import re
from pathlib import Path

from videollm_core.errors import DataError
from videollm_core.features import FeatureSource, require_fps

#: a plain file stem: letters, digits, '_', '-', '.' (QVHighlights ids may start with '-').
_SAFE_ID = re.compile(r"^[A-Za-z0-9_\-][A-Za-z0-9_.\-]*$")


def is_safe_video_id(video_id: str) -> bool:
    """True for ids safe as a file name (no path separator, no `..`, no spaces)."""
    return bool(_SAFE_ID.match(str(video_id))) and ".." not in str(video_id)


def check_video_id(video_id: str, where: str) -> str:
    """Return `video_id` if `is_safe_video_id`, else raise [`DataError`][videollm_core.errors.DataError] at `where`."""
    if not is_safe_video_id(video_id):
        raise DataError(
            f"unsafe video id {video_id!r}",
            where=where,
            hint="video ids must be plain file names (letters, digits, '_', '-', '.'), without '/' or '..'",
        )
    return str(video_id)


class FolderSource(FeatureSource):
    """Base of the one-file-per-video sources: `dir`, `fps` and the file of a video id.

    Subclasses set `suffix` and implement [`read`][videollm_core.data.FeatureSource.read].
    """

    suffix = ""

    #: whether reading depends on `fps` (decoding, clip cutting); else `fps` may be None.
    needs_fps = False

    def __init__(self, dir: str, fps: float | None = None):
        self.dir = Path(dir)
        self.fps = require_fps(fps, type(self).__name__, optional=not self.needs_fps)

    @property
    def where(self) -> str:
        return str(self.dir)

    def path_of(self, video_id: str) -> Path:
        """The file of `video_id`; [`DataError`][videollm_core.errors.DataError] for unsafe ids and missing files."""
        check_video_id(video_id, str(self.dir))
        path = self.dir / f"{video_id}{self.suffix}"
        if not path.is_file():
            hint = (f"the folder {self.dir} does not exist" if not self.dir.is_dir()
                    else f"extract features for every video, named <video_id>{self.suffix}")
            raise DataError("feature file not found", where=str(path), hint=hint)
        return path

    def video_ids(self) -> list[str]:
        if not self.dir.is_dir():
            raise DataError("feature folder not found", where=str(self.dir), hint="check the features dir")
        return sorted(p.name[: -len(self.suffix)] for p in self.dir.iterdir() if p.name.endswith(self.suffix))

    @classmethod
    def claims(cls, path: Path) -> dict | None:
        if path.is_dir() and any(p.name.endswith(cls.suffix) for p in path.iterdir()):
            return {"dir": str(path)}
        return None


__all__ = ["FolderSource", "is_safe_video_id", "check_video_id"]

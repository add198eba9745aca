"""Every path the framework reads, checked one way (writing: :mod:`videollm_core.engine.files`).

- :func:`check_input`: an input that must exist as a file or a folder and be readable
  (config, checkpoint, annotation file, features folder, ``--resume PATH``).
- :func:`read_json`: the one JSON reader (annotations, submissions, run state).
- :func:`path_error`: an ``OSError`` (no space, permission, read-only file system, a file
  where a folder belongs...) as a :class:`~videollm_core.errors.PathError` naming the
  path and the fix; the CLI prints it and exits with status 2.
"""
from __future__ import annotations

import contextlib
import errno
import os
from pathlib import Path
from typing import Any, Iterator, Mapping

from .errors import PathError

#: errno -> (what went wrong, how to fix it)
ERRNO_TEXT = {
    errno.ENOSPC: ("no space left on the device", "free some space, or choose a folder on another disk"),
    errno.EDQUOT: ("disk quota exceeded", "free some space, or choose a folder on another disk"),
    errno.EACCES: ("permission denied", "choose a path you may use, or fix its permissions"),
    errno.EPERM: ("operation not permitted", "choose a path you may use, or fix its permissions"),
    errno.EROFS: ("read-only file system", "choose a folder on a writable disk"),
    errno.ENOTDIR: ("a part of the path is a file, not a folder", "fix the path, or move the file out of the way"),
    errno.EISDIR: ("is a folder, not a file", "name the file inside it"),
    errno.ENOENT: ("not found", "check the path (relative paths start at the current directory)"),
    errno.EEXIST: ("already exists", "remove it or choose another path"),
    errno.ENAMETOOLONG: ("the name is too long", "choose a shorter path"),
    errno.ELOOP: ("too many symbolic links", "fix the links along the path"),
    errno.EIO: ("input/output error", "check the disk"),
}


def path_error(error: OSError, path: str | os.PathLike | None = None, action: str = "use", *, also: str | None = None) -> PathError:
    """The :class:`PathError` for ``error`` raised while trying to ``action`` ``path``
    (default: the error's own file name); ``also`` is added to the hint."""
    where = path if path is not None else error.filename
    problem, hint = ERRNO_TEXT.get(error.errno, (error.strerror or str(error), "check the path and the disk"))
    hint = f"{hint}; {also}" if also else hint
    if where is None:  # an OSError without a file (a network or hub error): its own words
        return PathError(str(error) or problem, hint=hint if error.errno in ERRNO_TEXT else None)
    return PathError(f"cannot {action}: {problem}", where=str(where), hint=hint)


@contextlib.contextmanager
def os_errors(path: str | os.PathLike, action: str) -> Iterator[None]:
    """Turn an ``OSError`` inside the block into :func:`path_error` for ``path``."""
    try:
        yield
    except OSError as e:
        raise path_error(e, path, action) from e


def usable_path(path: str | os.PathLike, what: str) -> Path:
    """``path`` as a :class:`Path` (``~`` expanded); a :class:`PathError` when no file system can
    hold it (empty, or a NUL byte, which ``open`` refuses with a bare ``ValueError``)."""
    text = os.fspath(path)
    if isinstance(text, bytes):
        text = os.fsdecode(text)
    if not text:
        raise PathError(f"{what}: the path is empty", hint="give a file or folder name")
    if "\x00" in text:
        raise PathError(f"{what}: the path contains a NUL byte", where=repr(text), hint="remove the \\x00 from the path")
    return Path(os.path.expanduser(text))


def read_json(path: str | os.PathLike, what: str = "file", expected: type | tuple[type, ...] | None = None,
              shape: str | None = None, require: Mapping[str, type] | None = None) -> Any:
    """The one JSON reader: parse ``path`` (annotations, submissions, checkpoints' state); a
    ``*.gz`` file is read through gzip (THUMOS14 and ActivityNet releases ship ``.json.gz``).

    Raises:
        DataError: ``what`` is missing or unreadable, not valid JSON, its top level is not
            ``expected``, or a key of ``require`` is absent or not of its type (``shape``
            describes the expected layout in the message).
    """
    import gzip
    import json

    from .errors import DataError

    p = usable_path(path, what)
    if not p.is_file():
        raise DataError(f"{what} not found", where=str(p))
    with os_errors(p, f"read the {what}"):
        data = p.read_bytes()
    try:
        obj = json.loads(gzip.decompress(data) if p.suffix == ".gz" else data)
    except (ValueError, EOFError, OSError) as e:  # not JSON, not UTF-8, a truncated or foreign gzip stream
        raise DataError(f"not valid JSON ({e})", where=str(p)) from e
    wrong_keys = bool(require) and (not isinstance(obj, dict) or any(not isinstance(obj.get(k), t) for k, t in require.items()))
    if wrong_keys or expected is not None and not isinstance(obj, expected):
        raise DataError(f"expected {shape or (expected.__name__ if isinstance(expected, type) else 'another layout')}",
                        where=str(p))
    return obj


def nearest_existing(path: Path) -> Path:
    """``path`` or its closest ancestor that exists (or is a link)."""
    probe = path
    while not os.path.lexists(probe) and probe != probe.parent:
        probe = probe.parent
    return probe


def check_input(path: str | os.PathLike, kind: str = "file", what: str = "input") -> Path:
    """Return ``path`` when it exists as a ``kind`` (``"file"`` or ``"folder"``) and is readable.

    Raises:
        PathError: missing, the other kind, or unreadable; ``what`` names it in the message
            (``"annotation file"``, ``"--resume checkpoint"``).
    """
    p = usable_path(path, what)
    if not p.exists():
        parent = nearest_existing(p)
        if parent.exists() and not parent.is_dir():
            raise PathError(f"{what} not found: {parent} is a file, not a folder", where=str(p), hint="fix the path")
        raise PathError(f"{what} not found", where=str(p), hint="check the path (relative paths start at the current directory)")
    if kind == "file" and p.is_dir():
        raise PathError(f"{what} is a folder; a file is expected", where=str(p), hint="name the file inside it")
    if kind == "folder" and not p.is_dir():
        raise PathError(f"{what} is a file; a folder is expected", where=str(p), hint="name the folder that holds it")
    if not os.access(p, os.R_OK | (os.X_OK if kind == "folder" else 0)):
        raise PathError(f"{what} is not readable: permission denied", where=str(p), hint="fix its permissions")
    return p


__all__ = ["ERRNO_TEXT", "path_error", "os_errors", "usable_path", "nearest_existing", "check_input", "read_json"]

"""Every path the framework reads or writes, checked one way; outputs written atomically.

- :func:`check_input`: an input that must exist as a file or a folder and be readable
  (config, checkpoint, annotation file, features folder, ``--resume PATH``).
- :func:`check_output_dir`: a folder the run writes into (``--work-dir``, ``--out``): it
  is a folder or can be made one, and it is writable. With ``create=False`` (a dry run)
  nothing is created; the nearest existing folder is checked instead.
- :func:`atomic_path` / :func:`atomic_dir`: write a file or a folder under a temporary
  name in the same folder, then rename it into place, so a crash or a full disk never
  leaves a half-written checkpoint, prediction file, feature file or export, and the
  previous version stays intact.
- :func:`path_error`: an ``OSError`` (no space, permission, read-only file system, a file
  where a folder belongs...) as a :class:`~videollm_core.errors.PathError` naming the
  path and the fix; the CLI prints it and exits with status 2.
"""
from __future__ import annotations

import contextlib
import errno
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Iterator, Mapping

from .errors import PathError

#: errno -> (what went wrong, how to fix it)
_ERRNO_TEXT = {
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
    problem, hint = _ERRNO_TEXT.get(error.errno, (error.strerror or str(error), "check the path and the disk"))
    hint = f"{hint}; {also}" if also else hint
    if where is None:  # an OSError without a file (a network or hub error): its own words
        return PathError(str(error) or problem, hint=hint if error.errno in _ERRNO_TEXT else None)
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


def _nearest_existing(path: Path) -> Path:
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
        parent = _nearest_existing(p)
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


def _read_only_fs(path: Path) -> bool:
    try:
        return bool(os.statvfs(path).f_flag & os.ST_RDONLY)
    except (OSError, AttributeError):  # no statvfs (Windows): the write probe decides
        return False


def check_output_dir(path: str | os.PathLike, what: str = "output folder", *, create: bool = True) -> Path:
    """Return ``path`` as a writable folder, created (parents too) when ``create``.

    Checks, in order: ``path`` is not a file; no part of it is a file; the folder (or,
    when it does not exist yet and ``create`` is false, its nearest existing ancestor) is
    on a writable file system and writable. With ``create``, a probe file is written and
    removed, which is what decides for root and network file systems.

    Raises:
        PathError: naming ``path`` and the fix.
    """
    p = usable_path(path, what)
    if p.exists() and not p.is_dir():
        raise PathError(f"{what} is a file; a folder is expected", where=str(p), hint="choose a folder, or move the file away")
    existing = _nearest_existing(p)
    if not existing.is_dir():
        raise PathError(f"{what} cannot be created: {existing} is a file, not a folder", where=str(p),
                        hint="choose a path whose parents are folders")
    if _read_only_fs(existing) or not os.access(existing, os.W_OK | os.X_OK):
        problem, hint = _ERRNO_TEXT[errno.EROFS if _read_only_fs(existing) else errno.EACCES]
        raise PathError(f"{what} is not writable: {problem} ({existing})", where=str(p), hint=hint)
    if create:
        with os_errors(p, f"create the {what}"):
            p.mkdir(parents=True, exist_ok=True)
            fd, probe = tempfile.mkstemp(prefix=".write-probe-", dir=p)
            os.close(fd)
            os.unlink(probe)
    return p


def resolve_work_dir(cfg: Mapping[str, Any], work_dir: str | os.PathLike | None = None) -> Path:
    """A run's work dir: ``work_dir``, else the config's ``work_dir``, else ``work_dirs/<config stem>``."""
    return Path(work_dir or cfg.get("work_dir") or Path("work_dirs") / getattr(cfg, "stem", "config"))


def _temp_sibling(path: Path) -> Path:
    """A free name beside ``path`` that keeps its suffix (writers may look at it)."""
    return path.with_name(f".tmp-{os.getpid()}-{os.urandom(4).hex()}-{path.name}")


def replace_path(tmp: str | os.PathLike, final: str | os.PathLike) -> None:
    """Move ``tmp`` onto ``final`` (same folder); a folder replaces a folder (the old one
    removed after, and put back if the move fails)."""
    tmp, final = Path(tmp), Path(final)
    if tmp.is_dir() and final.is_dir() and not final.is_symlink():
        old = _temp_sibling(final)
        os.rename(final, old)
        try:
            os.rename(tmp, final)
        except OSError:
            os.rename(old, final)  # put the previous version back
            raise
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, final)


def _discard(tmp: Path) -> None:
    if tmp.is_dir() and not tmp.is_symlink():
        shutil.rmtree(tmp, ignore_errors=True)
    else:
        with contextlib.suppress(OSError):
            tmp.unlink()


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, what: str = "file") -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it is renamed onto ``path``.

    Whatever the block writes there (a file, or a folder) replaces ``path`` at once; if
    the block fails, the temporary path is removed and ``path`` keeps its old content.
    An ``OSError`` (full disk, permission, read-only) becomes a :class:`PathError`
    naming ``path``. The parent folder is created.
    """
    final = Path(path)
    with os_errors(final.parent, f"create the folder for the {what}"):
        final.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temp_sibling(final)
    try:
        with os_errors(final, f"write the {what}"):
            yield tmp
            replace_path(tmp, final)
    finally:
        if os.path.lexists(tmp):
            _discard(tmp)


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike, what: str = "folder", tmp: str | os.PathLike | None = None) -> Iterator[Path]:
    """:func:`atomic_path` for a folder: yields the temporary folder, already created.

    ``tmp`` chooses the temporary folder's path (default: a hidden sibling); an old one
    left by a crash is removed first.
    """
    final = Path(path)
    if tmp is None:
        with atomic_path(final, what) as tmp_path:
            with os_errors(final, f"write the {what}"):
                tmp_path.mkdir()
            yield tmp_path
        return
    tmp_path = Path(tmp)
    try:
        with os_errors(final, f"write the {what}"):
            if os.path.lexists(tmp_path):
                _discard(tmp_path)
            tmp_path.mkdir(parents=True)
            yield tmp_path
            replace_path(tmp_path, final)
    finally:
        if os.path.lexists(tmp_path):
            _discard(tmp_path)


def write_text_atomic(path: str | os.PathLike, text: str, what: str = "file") -> Path:
    """Write ``text`` (UTF-8) to ``path`` through :func:`atomic_path`; flushed to disk."""
    with atomic_path(path, what) as tmp:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
    return Path(path)


__all__ = ["path_error", "os_errors", "usable_path", "check_input", "check_output_dir", "resolve_work_dir", "replace_path", "atomic_path", "atomic_dir", "write_text_atomic"]

"""Every file and folder the framework reads or writes: checked first, written atomically.

- `check_input`: a file or folder a command reads exists as that kind and is readable.

- `check_output_dir`: a folder the run writes into (`--work-dir`, `--out`): it
  is a folder or can be made one, and it is writable. With `create=False` (a dry run)
  nothing is created; the nearest existing folder is checked instead.
- `atomic_path` / `atomic_dir`: write a file or a folder under a temporary
  name in the same folder, then rename it into place, so a crash or a full disk never
  leaves a half-written checkpoint, prediction file, feature file or export, and the
  previous version stays intact.

OS errors become [`PathError`][videollm_core.errors.PathError] (`videollm_core.paths.path_error`).
"""
from __future__ import annotations

import contextlib
import errno
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Iterator, Mapping

from ..errors import PathError
from ..paths import ERRNO_TEXT, os_errors, usable_path


def nearest_existing(path: Path) -> Path:
    """`path` or its closest ancestor that exists (or is a link)."""
    probe = path
    while not os.path.lexists(probe) and probe != probe.parent:
        probe = probe.parent
    return probe


def check_input(path: str | os.PathLike, kind: str = "file", what: str = "input") -> Path:
    """Return `path` when it exists as a `kind` (`"file"` or `"folder"`) and is readable.

    Raises:
        PathError: missing, the other kind, or unreadable; `what` names it in the message
            (`"annotation file"`, `"--resume checkpoint"`).
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


def _read_only_fs(path: Path) -> bool:
    try:
        return bool(os.statvfs(path).f_flag & os.ST_RDONLY)
    except (OSError, AttributeError):  # no statvfs (Windows): the write probe decides
        return False


def check_output_dir(path: str | os.PathLike, what: str = "output folder", *, create: bool = True) -> Path:
    """Return `path` as a writable folder, created (parents too) when `create`.

    Checks, in order: `path` is not a file; no part of it is a file; the folder (or,
    when it does not exist yet and `create` is false, its nearest existing ancestor) is
    on a writable file system and writable. With `create`, a probe file is written and
    removed, which is what decides for root and network file systems.

    Raises:
        PathError: naming `path` and the fix.
    """
    p = usable_path(path, what)
    if p.exists() and not p.is_dir():
        raise PathError(f"{what} is a file; a folder is expected", where=str(p), hint="choose a folder, or move the file away")
    existing = nearest_existing(p)
    if not existing.is_dir():
        raise PathError(f"{what} cannot be created: {existing} is a file, not a folder", where=str(p),
                        hint="choose a path whose parents are folders")
    if _read_only_fs(existing) or not os.access(existing, os.W_OK | os.X_OK):
        problem, hint = ERRNO_TEXT[errno.EROFS if _read_only_fs(existing) else errno.EACCES]
        raise PathError(f"{what} is not writable: {problem} ({existing})", where=str(p), hint=hint)
    if create:
        with os_errors(p, f"create the {what}"):
            p.mkdir(parents=True, exist_ok=True)
            fd, probe = tempfile.mkstemp(prefix=".write-probe-", dir=p)
            os.close(fd)
            os.unlink(probe)
    return p


def resolve_work_dir(cfg: Mapping[str, Any], work_dir: str | os.PathLike | None = None) -> Path:
    """A run's work dir: `work_dir`, else the config's `work_dir`, else `work_dirs/<config stem>`."""
    return Path(work_dir or cfg.get("work_dir") or Path("work_dirs") / getattr(cfg, "stem", "config"))


def _temp_sibling(path: Path) -> Path:
    """A free name beside `path` that keeps its suffix (writers may look at it)."""
    return path.with_name(f".tmp-{os.getpid()}-{os.urandom(4).hex()}-{path.name}")


def replace_path(tmp: str | os.PathLike, final: str | os.PathLike) -> None:
    """Move `tmp` onto `final` (same folder); a folder replaces a folder (the old one
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
    """Yield a temporary path beside `path`; on success it is renamed onto `path`.

    Whatever the block writes there (a file, or a folder) replaces `path` at once; if
    the block fails, the temporary path is removed and `path` keeps its old content.
    An `OSError` (full disk, permission, read-only) becomes a [`PathError`][videollm_core.errors.PathError]
    naming `path`. The parent folder is created.
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
    """`atomic_path` for a folder: yields the temporary folder, already created.

    `tmp` chooses the temporary folder's path (default: a hidden sibling); an old one
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
    """Write `text` (UTF-8) to `path` through `atomic_path`; flushed to disk."""
    with atomic_path(path, what) as tmp:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
    return Path(path)


__all__ = ["check_input", "nearest_existing", "check_output_dir", "resolve_work_dir", "replace_path", "atomic_path", "atomic_dir", "write_text_atomic"]

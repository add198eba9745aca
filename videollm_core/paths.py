"""Every path the framework reads, checked one way (writing: `videollm_core.engine.files`).

- `check_input`: an input that must exist as a file or a folder and be readable
  (config, checkpoint, annotation file, features folder, `--resume PATH`).
- `read_json`, `read_jsonl`, `read_text`, `read_text_lines`: the one
  reader of each kind of text file (JSON annotations, submissions and manifests, JSON Lines,
  csv and txt tables, logs), bounded and typed: at most `max_file_bytes` bytes (a
  `*.gz` file is decompressed in chunks and held to the same cap), UTF-8 (a bad byte is
  named by line and offset), JSON no deeper than Python's parser takes (named by line and
  column). Each failure is a [`DataError`][videollm_core.errors.DataError] naming `file:line`.
- `path_error`: an `OSError` (no space, permission, read-only file system, a file
  where a folder belongs...) as a [`PathError`][videollm_core.errors.PathError] naming the
  path and the fix; the CLI prints it and exits with status 2.
"""
from __future__ import annotations

import contextlib
import errno
import io
import os
import re
import sys
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping

from .errors import ConfigError, DataError, PathError

#: the most bytes a text file may hold (decompressed, for `*.gz`), unless `MAX_FILE_BYTES_ENV` says otherwise.
MAX_FILE_BYTES = 4 * 1024**3
MAX_FILE_BYTES_ENV = "VIDEOLLM_MAX_FILE_BYTES"
_CHUNK = 1 << 20
#: a JSON string (to its closing quote, or to the end of an unterminated one: never a failed match), or a bracket.
_JSON_TOKEN = re.compile(r'"(?:[^"\\]|\\.|\\\Z)*(?:"|\Z)|[\[\]{}]', re.S)

#: errno -> (what went wrong, how to fix it)
ERRNO_TEXT: dict[int | None, tuple[str, str]] = {
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
    """The [`PathError`][videollm_core.errors.PathError] for `error` raised while trying to `action` `path`
    (default: the error's own file name); `also` is added to the hint."""
    where = path if path is not None else error.filename
    problem, hint = ERRNO_TEXT.get(error.errno, (error.strerror or str(error), "check the path and the disk"))
    hint = f"{hint}; {also}" if also else hint
    if where is None:  # an OSError without a file (a network or hub error): its own words
        return PathError(str(error) or problem, hint=hint if error.errno in ERRNO_TEXT else None)
    return PathError(f"cannot {action}: {problem}", where=str(where), hint=hint)


@contextlib.contextmanager
def os_errors(path: str | os.PathLike, action: str) -> Iterator[None]:
    """Turn an `OSError` inside the block into `path_error` for `path`."""
    try:
        yield
    except OSError as e:
        raise path_error(e, path, action) from e


def usable_path(path: str | os.PathLike, what: str) -> Path:
    """`path` as a `Path` (`~` expanded); a [`PathError`][videollm_core.errors.PathError] when no file system can
    hold it (empty, or a NUL byte, which `open` refuses with a bare `ValueError`)."""
    text = os.fspath(path)
    if isinstance(text, bytes):
        text = os.fsdecode(text)
    if not text:
        raise PathError(f"{what}: the path is empty", hint="give a file or folder name")
    if "\x00" in text:
        raise PathError(f"{what}: the path contains a NUL byte", where=repr(text), hint="remove the \\x00 from the path")
    return Path(os.path.expanduser(text))


def max_file_bytes() -> int:
    """The most bytes a text file may hold, decompressed for `*.gz` (`MAX_FILE_BYTES`, 4 GiB),
    or `$VIDEOLLM_MAX_FILE_BYTES` when set: a hostile file cannot exhaust the memory.

    Raises:
        ConfigError: the variable is not a positive whole number of bytes.
    """
    text = os.environ.get(MAX_FILE_BYTES_ENV, "").strip()
    if not text:
        return MAX_FILE_BYTES
    if not (text.isascii() and text.isdigit() and int(text) > 0):
        raise ConfigError(f"expected a positive number of bytes, got {text!r}", where=MAX_FILE_BYTES_ENV,
                          hint="e.g. 8589934592 for 8 GiB, or unset it for the default of 4 GiB")
    return int(text)


def _read(path: str | os.PathLike, what: str) -> tuple[Path, bytes]:
    """`(path, its bytes)`: a `*.gz` file decompressed in chunks, at most `max_file_bytes` either way."""
    import gzip
    import zlib

    p = usable_path(path, what)
    if not p.is_file():
        raise DataError(f"{what} not found", where=str(p))
    limit, gz = max_file_bytes(), p.suffix == ".gz"

    def too_big() -> DataError:
        return DataError(f"{what} holds more than {limit:,} bytes{' once decompressed' if gz else ''}", where=str(p),
                         hint=f"is it the right file? For a genuine one, set {MAX_FILE_BYTES_ENV} to a larger number of bytes")

    with os_errors(p, f"read the {what}"):
        if not gz:
            if p.stat().st_size > limit:
                raise too_big()
            return p, p.read_bytes()
        chunks, size = [], 0
        try:
            with gzip.open(p) as f:
                while chunk := f.read(_CHUNK):
                    size += len(chunk)
                    if size > limit:  # a gzip bomb stops here, holding at most the cap
                        raise too_big()
                    chunks.append(chunk)
        except (EOFError, zlib.error, gzip.BadGzipFile) as e:  # truncated, damaged, or not gzip at all
            raise DataError(f"not a readable gzip file ({e})", where=str(p), hint="download or compress it again") from e
    return p, b"".join(chunks)


def _utf8(data: bytes, path: Path, line: int = 1, offset: int = 0) -> str:
    """`data` (from `line`, byte `offset` of the file) as text; a leading UTF-8 byte-order mark is dropped."""
    skip = 3 if offset == 0 and data[:3] == b"\xef\xbb\xbf" else 0
    try:
        return str(memoryview(data)[skip:], "utf-8")
    except UnicodeDecodeError as e:
        at = skip + e.start
        line += data.count(b"\n", 0, at)
        raise DataError(f"not UTF-8 text: byte 0x{data[at]:02x} at offset {offset + at:,}", where=f"{path}:{line}",
                        hint="save the file as UTF-8 (e.g. iconv -f latin1 -t utf-8)") from None


def _deepest(text: str) -> tuple[int, int]:
    """`(offset, depth)` where the brackets of JSON `text` first nest deepest, the scan stopping at
    Python's recursion limit (past which its parser gives up)."""
    limit, depth, best = sys.getrecursionlimit(), 0, (0, 0)
    for m in _JSON_TOKEN.finditer(text):
        char = text[m.start()]
        if char in "[{":
            depth += 1
            if depth > best[1]:
                best = (m.start(), depth)
                if depth >= limit:
                    break
        elif char in "]}":
            depth -= 1
    return best


def _loads(text: str, path: Path, line: int | None = None) -> Any:
    """Parse JSON `text`: the whole file, or its line `line` (JSON Lines)."""
    import json

    hint = "one JSON value per line" if line is not None else None
    limit = sys.getrecursionlimit()
    pos: int | None
    try:
        return json.loads(text)
    except RecursionError:
        pos, depth = _deepest(text)
        problem = f"nested too deeply to parse ({depth:,}{'+' if depth >= limit else ''} levels of brackets)"
        hint = f"Python's JSON parser stops near {limit:,} levels; annotation and prediction files need fewer than 10"
    except ValueError as e:  # json.JSONDecodeError, or an integer of more than 4,300 digits
        pos = e.pos if isinstance(e, json.JSONDecodeError) else None
        problem = f"not valid JSON ({e.msg if isinstance(e, json.JSONDecodeError) else e})"
    if pos is None:
        raise DataError(problem, where=f"{path}:{line}" if line is not None else str(path), hint=hint)
    row = line if line is not None else text.count("\n", 0, pos) + 1
    column = pos - text.rfind("\n", 0, pos)
    raise DataError(f"{problem} at column {column}", where=f"{path}:{row}", hint=hint)


def _layout(expected: type | tuple[type, ...]) -> str:
    names: dict[type, str] = {dict: "a JSON object", list: "a JSON array", str: "a string"}
    return " or ".join(names.get(t, t.__name__) for t in (expected if isinstance(expected, tuple) else (expected,)))


def read_json(path: str | os.PathLike, what: str = "file", expected: type | tuple[type, ...] | None = None,
              shape: str | None = None, require: Mapping[str, type] | None = None, hint: str | None = None) -> Any:
    """The one JSON reader: parse `path` (annotations, submissions, manifests, model info); a
    `*.gz` file is read through gzip (THUMOS14 and ActivityNet releases ship `.json.gz`).
    Bounded: at most `max_file_bytes` bytes (decompressed), UTF-8, nested no deeper than
    Python's parser takes.

    Raises:
        DataError: `what` is missing, too large, not UTF-8 (naming the line and the byte
            offset), not valid JSON or nested too deeply (naming line and column), its top level
            is not `expected`, or a key of `require` is absent or not of its type (`shape`
            describes the expected layout in the message); `hint`, when given, replaces the
            message's hint (the way out for this file).
    """
    try:
        p, data = _read(path, what)
        obj = _loads(_utf8(data, p), p)
        wrong_keys = require is not None and bool(require) and (not isinstance(obj, dict) or any(not isinstance(obj.get(k), t) for k, t in require.items()))
        if wrong_keys or expected is not None and not isinstance(obj, expected):
            raise DataError(f"expected {shape or (_layout(expected) if expected is not None else 'another layout')}", where=str(p))
    except DataError as e:
        if hint:
            e.hint, e.args = hint, (e.render(),)
        raise
    return obj


def read_jsonl(path: str | os.PathLike, what: str = "file", expected: type | tuple[type, ...] | None = None,
               shape: str | None = None, on_error: Callable[[DataError], Any] | None = None) -> list[Any]:
    """The values of a JSON Lines file (`*.jsonl`, or `*.jsonl.gz` read through gzip), one per
    non-blank line, each read as `read_json` reads a file (the file bounded by `max_file_bytes`).

    Args:
        path: the file.
        what: what it is, for messages (`"annotation file"`, `"metrics log"`).
        expected: the type every value must have (`dict`); `shape` describes it in messages.
        on_error: called with the [`DataError`][videollm_core.errors.DataError] of a damaged line (not UTF-8, not JSON, nested
            too deeply, not `expected`), which is then left out (a dataset's
            [`handle`][videollm_core.data.DataErrors.handle], or a warning for a log cut by a kill).
            Default: the error is raised.

    Raises:
        DataError: `path` is missing or too large; a damaged line (naming `file:line`) unless `on_error`.
    """
    p, data = _read(path, what)
    rows: list[Any] = []
    offset = 0
    for n, raw in enumerate(data.split(b"\n"), 1):
        try:
            text = _utf8(raw, p, n, offset)
            if text.strip():
                row = _loads(text, p, n)
                if expected is not None and not isinstance(row, expected):
                    raise DataError(f"expected {shape or _layout(expected)} on each line, got {type(row).__name__}", where=f"{p}:{n}")
                rows.append(row)
        except DataError as e:
            if on_error is None:
                raise
            on_error(e)
        offset += len(raw) + 1
    return rows


def read_text(path: str | os.PathLike, what: str = "file") -> str:
    """The text of a UTF-8 file (`*.gz` read through gzip), at most `max_file_bytes` bytes;
    a csv reads as `csv.reader(io.StringIO(read_text(path), newline=""))`.

    Raises:
        DataError: missing, too large, or not UTF-8 (naming the line and the byte offset of the bad byte).
    """
    p, data = _read(path, what)
    return _utf8(data, p)


def read_text_lines(path: str | os.PathLike, what: str = "file") -> list[str]:
    """The lines of a UTF-8 text file (`read_text`), without their line ends (`\\n`, `\\r\\n`, `\\r`);
    line `n` of the file is item `n - 1`.

    Raises:
        DataError: as `read_text`.
    """
    return [line.rstrip("\r\n") for line in io.StringIO(read_text(path, what), newline="")]


__all__ = ["ERRNO_TEXT", "MAX_FILE_BYTES", "MAX_FILE_BYTES_ENV", "path_error", "os_errors", "usable_path",
           "max_file_bytes", "read_json", "read_jsonl", "read_text", "read_text_lines"]

"""Field checks for the entries of prediction files: garbage is refused, never scored.

Every task's predictions reader passes each entry of the file through these checks when
the file is loaded (not only the entries whose ids match the ground truth), so a string
score, a NaN, a reversed segment or a duplicated id is a [`DataError`][videollm_core.errors.DataError] naming the
file and the entry (`where`, e.g. `preds.json: results['v1'][3]`), the field and the
value found (the message), and the expected form (`hint`) -- the CLI turns it into exit
code 2. Each check returns the value in the form the metric evaluates.

Numbers are JSON numbers: booleans, numeric strings, `null`, NaN and infinities are
refused (Python's `json` reads `NaN`/`Infinity` as floats; sorting by a NaN score
gives an arbitrary ranking in every reference evaluator).
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Hashable

import numpy as np

from videollm_core.errors import DataError

#: the hint of every segment check.
SEGMENT_FORM = "[start, end] in seconds: two finite numbers with 0 <= start <= end"


def show(value: Any, limit: int = 60) -> str:
    """`repr(value)`, cut to `limit` characters (a whole score matrix is not a message)."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def is_number(value: Any) -> bool:
    """True for a finite int or float (not a bool, a string, None, NaN or an infinity)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:  # an int too large for a float
        return False


def number(value: Any, where: str, field: str, hint: str | None = None) -> float:
    """A finite number (a score, a time) -> float.

    Raises:
        DataError: `value` is not a finite int/float.
    """
    if not is_number(value):
        raise DataError(f"{field} must be a finite number, got {show(value)}", where=where, hint=hint)
    return float(value)


def segment(value: Any, where: str, field: str = "segment", hint: str | None = None, extra: int = 0) -> list[float]:
    """`[start, end]` (seconds) -> floats, checked: finite numbers, `0 <= start <= end`.

    Args:
        extra: numbers allowed after `end` (QVHighlights windows `[start, end, score]`: 1),
            checked as finite numbers too.

    Raises:
        DataError: not a list of `2 + extra` finite numbers, a negative start, or start > end.
    """
    size = 2 + extra
    hint = hint or SEGMENT_FORM
    if not isinstance(value, (list, tuple)) or len(value) != size or not all(is_number(x) for x in value):
        form = "[start, end]" if not extra else "[start, end, score]"
        raise DataError(f"{field} must be {form} with {size} finite numbers, got {show(value)}", where=where, hint=hint)
    out = [float(x) for x in value]
    if out[0] < 0:
        raise DataError(f"{field} {show(value)} starts before the video (negative start)", where=where, hint=hint)
    if out[0] > out[1]:
        raise DataError(f"{field} {show(value)} is reversed (start > end)", where=where, hint=hint)
    return out


def text(value: Any, where: str, field: str, hint: str | None = None) -> str:
    """A JSON string (a caption, an id); anything else (a number, null, a list) is refused."""
    if not isinstance(value, str):
        raise DataError(f"{field} must be a string, got {show(value)}", where=where, hint=hint)
    return value


def index(value: Any, where: str, field: str, hint: str | None = None) -> int:
    """An integer `>= 0`: a class id, a query index, a number of steps (a bool or `2.0` is refused)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise DataError(f"{field} must be an integer >= 0, got {show(value)}", where=where, hint=hint)
    return int(value)


def known(value: Hashable, table: Any, where: str, field: str, hint: str | None = None) -> Hashable:
    """`value` when it is in `table` (a class table: names or ids), else a [`DataError`][videollm_core.errors.DataError]."""
    if value not in table:
        raise DataError(f"{field} {show(value)} is not a known class", where=where, hint=hint)
    return value


def fields(value: Any, where: str, required: tuple[str, ...], hint: str | None = None) -> Mapping[str, Any]:
    """A JSON object holding every key of `required`."""
    if not isinstance(value, Mapping):
        raise DataError(f"expected an object with {', '.join(repr(k) for k in required)}, got {show(value)}", where=where, hint=hint)
    missing = [k for k in required if k not in value]
    if missing:
        raise DataError(f"missing field(s) {', '.join(repr(k) for k in missing)}", where=where, hint=hint)
    return value


def items(value: Any, where: str, field: str, hint: str | None = None) -> list[Any]:
    """A JSON list (of detections, windows, scores)."""
    if not isinstance(value, list):
        raise DataError(f"{field} must be a list, got {show(value)}", where=where, hint=hint)
    return value


def numbers(value: Any, where: str, field: str, hint: str | None = None) -> list[float]:
    """A list of finite numbers (e.g. per-clip saliency scores)."""
    values = items(value, where, field, hint)
    for k, x in enumerate(values):
        number(x, where, f"{field}[{k}]", hint)
    return [float(x) for x in values]


def once(key: Hashable, seen: dict[Hashable, str], where: str, what: str, hint: str | None = None) -> None:
    """Record `key` at `where` in `seen`; a second occurrence is a [`DataError`][videollm_core.errors.DataError] naming both places."""
    if key in seen:
        raise DataError(f"{what} {show(key)} appears twice (first at {seen[key]})", where=where, hint=hint)
    seen[key] = where


def finite_matrix(value: Any, where: str, hint: str | None = None, rows: int | None = None) -> np.ndarray:
    """A `[T, C]` matrix of finite numbers (a JSON list of rows or an array), `T == rows` when given.

    Returns:
        The matrix, float64 for JSON lists, the array's own float dtype otherwise.
    """
    try:
        arr = np.asarray(value)
    except ValueError as e:  # ragged rows
        raise DataError(f"scores must be a [T, C] matrix of numbers ({e})", where=where, hint=hint) from None
    if arr.dtype.kind not in "iuf":
        raise DataError(f"scores must be a [T, C] matrix of numbers, got values of type {arr.dtype}", where=where, hint=hint)
    if arr.ndim != 2:
        raise DataError(f"scores must be a [T, C] matrix, got shape {list(arr.shape)}", where=where, hint=hint)
    if rows is not None and arr.shape[0] != rows:
        raise DataError(f"{arr.shape[0]} rows of scores, expected {rows}", where=where, hint=hint)
    if arr.dtype.kind == "f" and not np.isfinite(arr).all():
        row = int(np.flatnonzero(~np.isfinite(arr).all(axis=1))[0])
        raise DataError(f"non-finite score (NaN or infinity) in row {row}", where=where, hint=hint)
    return arr.astype(np.float64) if arr.dtype.kind != "f" else arr


__all__ = ["SEGMENT_FORM", "show", "is_number", "number", "segment", "text", "index", "known", "fields", "items", "numbers",
           "once", "finite_matrix"]

"""Stopgap: ``.json.gz`` annotation files (THUMOS14 / ActivityNet releases ship them) for the
task readers, until :func:`videollm_core.paths.read_json` -- the one JSON reader, which
every plain ``.json`` goes to -- opens gzip files itself; then this module goes."""
from __future__ import annotations

import gzip
import json
import os
from pathlib import Path
from typing import Any, Mapping

from videollm_core.errors import DataError
from videollm_core.paths import read_json as read_plain_json


def read_json(path: str | os.PathLike, what: str = "file", expected: type | tuple[type, ...] | None = None,
              shape: str | None = None, require: Mapping[str, type] | None = None) -> Any:
    """:func:`videollm_core.paths.read_json`, also for a gzip-compressed ``*.gz`` file (same errors)."""
    p = Path(path)
    if p.suffix != ".gz":
        return read_plain_json(p, what, expected, shape, require)
    if not p.is_file():
        raise DataError(f"{what} not found", where=str(p))
    try:
        with gzip.open(p, "rt", encoding="utf-8") as f:
            obj = json.load(f)
    except (OSError, EOFError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise DataError(f"not valid JSON ({e})", where=str(p)) from e
    wrong_keys = bool(require) and (not isinstance(obj, dict) or any(not isinstance(obj.get(k), t) for k, t in require.items()))
    if wrong_keys or expected is not None and not isinstance(obj, expected):
        raise DataError(f"expected {shape or 'another layout'}", where=str(p))
    return obj


__all__ = ["read_json"]

"""Reading the JSON files of benchmarks (annotations, submissions) with user-facing errors."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def read_json(path: str | Path, expected: type | tuple[type, ...], shape: str, what: str = "file",
              require: dict[str, type] | None = None) -> Any:
    """Parse ``path``; :class:`~videollm_core.errors.DataError` when it is missing, not JSON,
    its top level is not ``expected`` or a key of ``require`` is absent or not of its type
    (``shape`` describes the expected layout in the message)."""
    from videollm_core.errors import DataError

    path = Path(path)
    if not path.is_file():
        raise DataError(f"{what} not found", where=str(path))
    try:
        obj = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise DataError(f"not valid JSON ({e})", where=str(path)) from e
    if not isinstance(obj, expected) or any(not isinstance(obj.get(k), t) for k, t in (require or {}).items()):
        raise DataError(f"expected {shape}", where=str(path))
    return obj


__all__ = ["read_json"]

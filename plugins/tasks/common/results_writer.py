"""Writing JSON submissions whose results arrive one by one (`ResultsWriter`).

Reading them back is `videollm_core.paths.read_json` (the one JSON reader).
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Mapping


class ResultsWriter:
    """Writes `{**header, "results": {key: value, ...}}` one result at a time, to a temporary
    file renamed over `path` by `close` (a partial file never has the final name).

    Memory holds one result, never the submission: the official EK100 / OAD JSON forms are
    written this way. Keys must be unique (checked).
    """

    def __init__(self, path: str | Path, header: Mapping[str, Any], results_key: str = "results") -> None:
        self.path = Path(path)
        self.tmp = self.path.with_name(self.path.name + f".partial-{os.getpid()}")
        from videollm_core.paths import os_errors

        with os_errors(self.path, "write the predictions"):
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._f = open(self.tmp, "w", encoding="utf-8")
        self._f.write(json.dumps(dict(header))[:-1] + (", " if header else "") + json.dumps(results_key) + ": {")
        self._keys: set[str] = set()

    def add(self, key: str, value: Any) -> None:
        key = str(key)
        if key in self._keys:
            raise ValueError(f"result {key!r} written twice")
        self._f.write((", " if self._keys else "") + json.dumps(key) + ": " + json.dumps(value))
        self._keys.add(key)

    def __len__(self) -> int:
        return len(self._keys)

    def close(self) -> Path:
        from videollm_core.paths import os_errors
        from videollm_core.engine.files import replace_path

        with os_errors(self.path, "write the predictions"):
            self._f.write("}}")
            self._f.close()
            replace_path(self.tmp, self.path)
        return self.path


__all__ = ["ResultsWriter"]

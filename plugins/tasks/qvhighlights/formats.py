"""The official QVHighlights files: the annotation jsonl (``highlight_{train,val}_release.jsonl``,
``highlight_test_with_gt.jsonl``) and the submission jsonl, plain or gzip-compressed, one
JSON object per line; clips are ``CLIP_LENGTH_S`` = 2 s long."""
from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

from videollm_core.errors import DataError

#: seconds per clip (``relevant_clip_ids`` and ``pred_saliency_scores`` index 2-s clips).
CLIP_LENGTH_S = 2.0


def read_jsonl(path: str | Path) -> list[dict[str, Any]]:
    """Rows of a ``.jsonl`` or ``.jsonl.gz`` file; a bad line raises :class:`DataError` naming it."""
    path = Path(path)
    if not path.is_file():
        raise DataError("file not found", where=str(path), hint="pass the path of an existing .jsonl/.jsonl.gz file")
    opener = gzip.open if path.suffix == ".gz" else open
    rows = []
    with opener(path, "rt", encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as e:
                raise DataError(f"not a JSON line ({e.msg})", where=f"{path}:{n}", hint="one JSON object per line") from e
    return rows


def write_jsonl(rows: list[dict[str, Any]], path: str | Path) -> None:
    """Write rows as jsonl (gzip when ``path`` ends in ``.gz``)."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "wt", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row) + "\n")


__all__ = ["CLIP_LENGTH_S", "read_jsonl", "write_jsonl"]

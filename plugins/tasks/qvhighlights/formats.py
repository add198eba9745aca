"""The official QVHighlights files: the annotation jsonl (`highlight_{train,val}_release.jsonl`,
`highlight_test_with_gt.jsonl`) and the submission jsonl, plain or gzip-compressed, one
JSON object per line; clips are `CLIP_LENGTH_S` = 2 s long."""
from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

from videollm_core.errors import DataError
from videollm_core.paths import read_jsonl as read_jsonl_file

from ..common import entries

#: seconds per clip (`relevant_clip_ids` and `pred_saliency_scores` index 2-s clips).
CLIP_LENGTH_S = 2.0


def read_jsonl(path: str | Path) -> list[dict[str, Any]]:
    """Rows of a `.jsonl` or `.jsonl.gz` file (`videollm_core.paths.read_jsonl`: bounded,
    UTF-8, one JSON object per line); a bad line raises [`DataError`][videollm_core.errors.DataError] naming it."""
    return read_jsonl_file(path, "JSON Lines file", dict, "one JSON object per line")


def write_jsonl(rows: list[dict[str, Any]], path: str | Path) -> None:
    """Write rows as jsonl (gzip when `path` ends in `.gz`)."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "wt", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row) + "\n")


#: one row of the submission, for error messages.
ROW_FORM = ("one row per query: {'qid': int, 'pred_relevant_windows': [[start, end, score], ...] ranked "
            "(s, 0 <= start <= end, finite score), 'pred_saliency_scores': [finite score per 2-s clip]}")


def read_submission(path: str | Path) -> list[dict[str, Any]]:
    """The submission jsonl, every row checked (whether or not its qid is in the ground truth).

    A row needs a `qid` (an integer or a string, as the ground truth names it) and the
    prediction fields of the first row (moment_detr's `standalone_eval/eval.py`
    `eval_submission` decides from `submission[0]` which fields every row has):
    `pred_relevant_windows` `[[start, end, score], ...]` with `0 <= start <= end`
    and finite scores, `pred_saliency_scores` finite numbers. A qid on two rows is
    refused: the reference merges both rows' windows for MR mAP but keeps the last row for
    R1 and highlight detection.

    Raises:
        DataError: naming the file and the row (1-based, blank lines not counted).
    """
    rows = read_jsonl(path)
    present = [k for k in ("pred_relevant_windows", "pred_saliency_scores") if rows and isinstance(rows[0], dict) and k in rows[0]]
    seen: dict[Any, str] = {}
    for n, row in enumerate(rows, 1):
        where = f"{path}: row {n}"
        entries.fields(row, where, ("qid", *(present or ["pred_relevant_windows"])), ROW_FORM)
        qid = row["qid"]
        if isinstance(qid, bool) or not isinstance(qid, (int, str)):
            raise DataError(f"qid must be an integer (or a string), got {entries.show(qid)}", where=where, hint=ROW_FORM)
        for k, w in enumerate(entries.items(row.get("pred_relevant_windows", []), where, "pred_relevant_windows", ROW_FORM)):
            entries.segment(w, where, f"pred_relevant_windows[{k}]", ROW_FORM, extra=1)
        entries.numbers(row.get("pred_saliency_scores", []), where, "pred_saliency_scores", ROW_FORM)
        entries.once(qid, seen, where, "qid", "one row per query")
    return rows


__all__ = ["CLIP_LENGTH_S", "ROW_FORM", "read_jsonl", "write_jsonl", "read_submission"]

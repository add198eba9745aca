"""The benchmark's files: segment CSVs (annotations and predictions).

- annotations: header ``video_id,split,start,end,label``, one labelled segment a row
  (seconds, ``0 <= start <= end``);
- predictions: the same without ``split``: ``video_id,start,end,label``.

In memory both are ``{video_id: [(start, end, label), ...]}`` (labels are class names).
"""
from __future__ import annotations

import csv
from pathlib import Path

from videollm_core import DataError

ANNOTATION_COLUMNS = ("video_id", "split", "start", "end", "label")
PREDICTION_COLUMNS = ("video_id", "start", "end", "label")

Segments = dict[str, list[tuple[float, float, str]]]


def read_rows(path: str | Path, columns: tuple[str, ...]) -> list[tuple[int, dict[str, str]]]:
    """``(line number, row)`` pairs of a CSV whose header is ``columns``."""
    path = Path(path)
    if not path.is_file():
        raise DataError("CSV file not found", where=str(path), hint=f"expected a CSV with the header {','.join(columns)}")
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        if tuple(reader.fieldnames or ()) != columns:
            raise DataError(f"header {reader.fieldnames} is not {list(columns)}", where=f"{path}:1",
                            hint=f"the first line must be {','.join(columns)}")
        return [(i, row) for i, row in enumerate(reader, start=2)]


def parse_segment(row: dict[str, str], where: str) -> tuple[float, float, str]:
    """``(start, end, label)`` of one row; a :class:`DataError` naming ``where`` when invalid."""
    try:
        start, end = float(row["start"]), float(row["end"])
    except (TypeError, ValueError):
        raise DataError(f"start/end must be numbers, got {row['start']!r}, {row['end']!r}", where=where) from None
    if not 0 <= start <= end:
        raise DataError(f"segment [{start}, {end}] s has start > end or a negative start", where=where,
                        hint="segments are [start, end] seconds with 0 <= start <= end")
    if not row["label"]:
        raise DataError("empty label", where=where)
    return start, end, row["label"]


def read_predictions(path: str | Path) -> Segments:
    """A predictions CSV -> ``{video_id: [(start, end, label)]}``."""
    out: Segments = {}
    for line, row in read_rows(path, PREDICTION_COLUMNS):
        out.setdefault(row["video_id"], []).append(parse_segment(row, f"{path}:{line}"))
    return out


def write_predictions(predictions: Segments, path: str | Path) -> None:
    """``{video_id: [(start, end, label)]}`` -> a predictions CSV (times rounded to ms)."""
    with Path(path).open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(PREDICTION_COLUMNS)
        for video_id in sorted(predictions):
            for start, end, label in predictions[video_id]:
                writer.writerow([video_id, f"{start:.3f}", f"{end:.3f}", label])

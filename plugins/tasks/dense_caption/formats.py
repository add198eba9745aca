"""ActivityNet Captions files: references (`train.json`, `val_1.json`, `val_2.json`)
and the densevid submission format.

Reference file: `{video_id: {"duration": s, "timestamps": [[s, e], ...], "sentences": [...]}}`
(seconds; optionally gzip-compressed, `.json.gz`). Submission:
`{"version": "VERSION 1.0", "results": {video_id: [{"timestamp": [s, e], "sentence": str}]},
"external_data": {"used": bool, "details": str}}`.

Known quirks of the real files, kept unchanged for evaluation (the official evaluator
reads them as they are) and repaired only for training targets by
`clean_events`: segments with start > end (two in `train.json`,
`v_0bosp4-pyTM` and `v_rhOtqArO-3Y`; PDVC's `train_modified.json` swaps them),
segments ending after the video's duration (134 in `val_1`, 111 in `val_2`, 261 in
`train`), sentences starting with a space, a few non-ASCII characters.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from videollm_core.errors import DataError

from videollm_core.paths import read_json

from ..common import entries

SUBMISSION_VERSION = "VERSION 1.0"
References = dict[str, dict[str, Any]]


def read_references(path: str | Path) -> References:
    """One ActivityNet Captions reference file, checked for structure (not for the quirks above)."""
    data = read_json(path, what="reference file", expected=dict, shape="{video_id: {duration, timestamps, sentences}}")
    for vid, entry in data.items():
        where = f"{path}[{vid!r}]"
        if not isinstance(entry, dict) or not {"duration", "timestamps", "sentences"} <= set(entry):
            raise DataError("each video needs 'duration', 'timestamps' and 'sentences'", where=where)
        entries.number(entry["duration"], where, "duration")
        entries.items(entry["timestamps"], where, "timestamps", hint="a list of [start, end] in seconds")
        for k, sentence in enumerate(entries.items(entry["sentences"], where, "sentences", hint="a list of captions")):
            entries.text(sentence, where, f"sentence {k}")
        if len(entry["timestamps"]) != len(entry["sentences"]):
            raise DataError(
                f"{len(entry['timestamps'])} timestamps but {len(entry['sentences'])} sentences", where=where,
                hint="one [start, end] per sentence",
            )
        for k, ts in enumerate(entry["timestamps"]):
            if not (isinstance(ts, (list, tuple)) and len(ts) == 2 and all(entries.is_number(x) for x in ts)):
                raise DataError(f"timestamp {k} must be [start, end] in seconds, got {ts!r}", where=where)
    return data


def split_paths(path: str | Path | list | tuple) -> list[Path]:
    """`"val_1.json,val_2.json"` or a list -> paths (several reference files)."""
    if isinstance(path, (list, tuple)):
        return [Path(p) for p in path]
    return [Path(p) for p in str(path).split(",") if p.strip()]


def remove_nonascii(text: str) -> str:
    """densevid_eval's `remove_nonascii`: every non-ASCII character becomes a space."""
    return "".join(c if ord(c) < 128 else " " for c in text)


def clean_events(entry: dict[str, Any], where: str, *, fix: bool = True) -> tuple[list[tuple[float, float]], list[str], int]:
    """Training targets of one video: `(segments [(s, e)] seconds sorted by start, stripped sentences, repairs)`.

    With `fix` an inverted segment is swapped and one past the end is clipped to the
    duration (`repairs` counts them); without it they raise [`DataError`][videollm_core.errors.DataError]. A
    segment starting at or after the end of the video always raises.
    """
    duration = float(entry["duration"])
    out: list[tuple[float, float, str]] = []
    repairs = 0
    for k, ((s, e), sent) in enumerate(zip(entry["timestamps"], entry["sentences"])):
        s, e = float(s), float(e)
        if s > e:
            if not fix:
                raise DataError(f"segment {k} has start {s} > end {e}", where=where, hint="swap them (PDVC's train_modified.json does)")
            s, e, repairs = e, s, repairs + 1
        if s < 0 or s >= duration:
            raise DataError(f"segment {k} [{s}, {e}] starts outside the video (duration {duration} s)", where=where)
        if e > duration:
            if not fix:
                raise DataError(f"segment {k} ends at {e} s, after the video's end {duration} s", where=where)
            e, repairs = duration, repairs + 1
        out.append((s, e, " ".join(remove_nonascii(sent).split())))
    out.sort(key=lambda x: (x[0], x[1]))
    return [(s, e) for s, e, _ in out], [t for _, _, t in out], repairs


#: one prediction of the submission, for error messages.
PREDICTION_FORM = "each prediction is {'timestamp': [start, end] (s, 0 <= start <= end), 'sentence': str}"


def read_submission(path: str | Path) -> dict[str, list[dict[str, Any]]]:
    """A densevid submission -> `{video_id: [{"timestamp": [s, e], "sentence": str}, ...]}` (as listed).

    Every prediction of every video (densevid_eval's `import_prediction` reads them all)
    needs a `timestamp` `[start, end]` of finite seconds with `0 <= start <= end`
    (densevid_eval's `iou` would silently give a reversed one no overlap) and a string
    `sentence` (its `remove_nonascii` iterates over it).

    Raises:
        DataError: naming the file, the video id and the prediction index.
    """
    data = read_json(path, what="predictions file")
    if not isinstance(data, dict) or not isinstance(data.get("results"), dict):
        raise DataError("expected a densevid submission {'version', 'results': {video_id: [...]}, 'external_data'}", where=str(path))
    for vid, preds in data["results"].items():
        for k, p in enumerate(entries.items(preds, f"{path}: results[{vid!r}]", "the predictions of a video", PREDICTION_FORM)):
            where = f"{path}: results[{vid!r}][{k}]"
            entries.fields(p, where, ("timestamp", "sentence"), PREDICTION_FORM)
            entries.segment(p["timestamp"], where, "timestamp", PREDICTION_FORM)
            entries.text(p["sentence"], where, "sentence", PREDICTION_FORM)
    return data["results"]


def write_submission(results: dict[str, list[dict[str, Any]]], path: str | Path, details: str = "") -> None:
    """Write the densevid submission file."""
    payload = {
        "version": SUBMISSION_VERSION,
        "results": results,
        "external_data": {"used": False, "details": details or "videollm-core: features as configured"},
    }
    Path(path).write_text(json.dumps(payload, indent=1), encoding="utf-8")

"""The official natural-language-query files: annotation readers (to one list of query
records), Charades metadata and the Ego4D NLQ submission file.

* **Ego4D NLQ** (`nlq_{train,val}.json`): `{"videos": [{"video_uid", "clips":
  [{"clip_uid", "clip_start_sec", "clip_end_sec", "annotations": [{"annotation_uid",
  "language_queries": [{"query", "clip_start_sec", "clip_end_sec", ...}]}]}]}]}`.
  A query is identified by `(clip_uid, annotation_uid, query_idx)`, `query_idx` its
  index in `language_queries` (counting entries without `query`, which the official
  loaders skip and so do we). Windows are clip seconds; the clip lasts
  `video_end_sec - video_start_sec` (as VSLNet's `prepare_ego4d_dataset.py`).
* **Charades-STA** (2D-TAN's `charades_sta_{train,test}.txt`): `VIDEO START END##sentence`
  per line, seconds. The query key is `(video_id, "<0-based line number>", 0)`; the
  video duration comes from Charades' `Charades_v1_{train,test}.csv` (`length`).
  Known quirks: ~15 % of windows end after the video (kept as written; datasets clip
  them), 4 training rows have start > end.

Record: `{"key": (clip_uid, annotation_uid, query_idx), "video_id", "query", "window":
[s, e] (s), "duration": float | None, "where": "file:row"}`.

Submission: `{"version": "1.0", "challenge": "ego4d_nlq_challenge", "results": [{"clip_uid",
"annotation_uid", "query_idx", "predicted_times": [[s, e], ...]}]}`.
"""
from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

from videollm_core.errors import DataError

from videollm_core.paths import read_json, read_text, read_text_lines

from ..common import entries

QueryKey = tuple[str, str, int]


def load_queries(path: str | Path, durations: dict[str, float] | None = None) -> list[dict[str, Any]]:
    """Ego4D NLQ JSON (`.json`) or Charades-STA text (`.txt`) -> query records."""
    path = Path(path)
    if path.suffix == ".txt":
        return load_charades_sta(path, durations)
    return load_ego4d_nlq(path)


def load_ego4d_nlq(path: str | Path) -> list[dict[str, Any]]:
    """Ego4D NLQ JSON -> query records; every level of the tree is checked for its type, and a
    malformed entry is one [`DataError`][videollm_core.errors.DataError] naming its place (`videos[i].clips[j]...`)."""
    data = read_json(path, what="annotation file")
    hint = "see the Ego4D NLQ schema in shared/data/README.md"
    if not isinstance(data, dict) or "videos" not in data:
        raise DataError("not an Ego4D NLQ file (no 'videos')", where=str(path), hint="pass nlq_val.json (or a Charades-STA .txt)")
    out = []
    for vi, video in enumerate(entries.items(data["videos"], f"{path}", "videos", hint)):
        at = f"{path}: videos[{vi}]"
        for ci, clip in enumerate(entries.items(entries.fields(video, at, (), hint).get("clips", []), at, "clips", hint)):
            at = f"{path}: videos[{vi}].clips[{ci}]"
            clip = entries.fields(clip, at, ("clip_uid", "video_start_sec", "video_end_sec"), hint)
            for ai, ann in enumerate(entries.items(clip.get("annotations", []), at, "annotations", hint)):
                at = f"{path}: videos[{vi}].clips[{ci}].annotations[{ai}]"
                ann = entries.fields(ann, at, ("annotation_uid",), hint)
                for qi, q in enumerate(entries.items(ann.get("language_queries", []), at, "language_queries", hint)):
                    where = f"{at}.language_queries[{qi}]"
                    q = entries.fields(q, where, (), hint)
                    if not q.get("query"):  # as VSLNet's loader: missing or empty queries are skipped
                        continue
                    start, end = (entries.number(clip[k], where, k, hint) for k in ("video_start_sec", "video_end_sec"))
                    out.append({
                        "key": (entries.text(clip["clip_uid"], where, "clip_uid", hint), str(ann["annotation_uid"]), qi),
                        "video_id": str(clip["clip_uid"]),
                        "query": entries.text(q["query"], where, "query", hint),
                        "window": [entries.number(q.get("clip_start_sec"), where, "clip_start_sec", hint),
                                   entries.number(q.get("clip_end_sec"), where, "clip_end_sec", hint)],
                        "duration": end - start,
                        # where the clip lies in its video, for per-video features (Ego4D <video_uid>.pt)
                        "clip": (str(video.get("video_uid", clip["clip_uid"])), start, end),
                        "where": where,
                    })
    return out


def load_charades_sta(path: str | Path, durations: dict[str, float] | None = None) -> list[dict[str, Any]]:
    path = Path(path)
    if not path.is_file():
        raise DataError("file not found", where=str(path), hint="pass charades_sta_{train,test}.txt")
    out = []
    for n, line in enumerate(read_text_lines(path, "Charades-STA file")):
        if not line.strip():
            continue
        head, sep, sentence = line.partition("##")
        parts = head.split()
        try:
            if not sep or len(parts) != 3:
                raise ValueError("expected 'VIDEO START END##sentence'")
            window = [float(parts[1]), float(parts[2])]
        except ValueError as e:
            raise DataError(str(e), where=f"{path}:{n + 1}", hint="2D-TAN's Charades-STA format") from e
        vid = parts[0]
        out.append({
            "key": (vid, str(n), 0),
            "video_id": vid,
            "query": sentence.strip(),
            "window": window,
            "duration": durations.get(vid) if durations is not None else None,
            "where": f"{path}:{n + 1}",
        })
    return out


def read_charades_durations(*paths: str | Path) -> dict[str, float]:
    """`{video_id: length_s}` from Charades' `Charades_v1_*.csv` files (plain or `.gz`)."""
    out: dict[str, float] = {}
    for p in paths:
        p = Path(p)
        if not p.is_file():
            raise DataError("Charades metadata not found", where=str(p), hint="pass Charades_v1_test.csv / Charades_v1_train.csv(.gz)")
        for n, row in enumerate(csv.DictReader(io.StringIO(read_text(p, "Charades metadata"), newline="")), 2):
            try:
                out[row["id"]] = float(row["length"])
            except (KeyError, ValueError) as e:
                raise DataError(f"bad row ({type(e).__name__}: {e})", where=f"{p}:{n}", hint="columns id and length are required") from e
    return out


#: one result of the submission, for error messages.
RESULT_FORM = ("each result is {'clip_uid': str, 'annotation_uid': str, 'query_idx': int >= 0, "
               "'predicted_times': [[start, end], ...] ranked (s, 0 <= start <= end)}")


def read_submission(path: str | Path) -> dict[str, Any]:
    """An Ego4D NLQ submission, every result checked (whether or not its query is in the ground truth).

    Each result needs `clip_uid` and `annotation_uid` strings, an integer `query_idx >= 0`
    (the reference `evaluate_nlq_performance` indexes `language_queries` with it) and
    `predicted_times`, a list of `[start, end]` windows with `0 <= start <= end` (an
    empty list is a miss). Two results for one query are refused: the reference scores both.

    Raises:
        DataError: naming the file and the result index of the first bad result.
    """
    data = read_json(path, what="predictions file")
    if not isinstance(data, dict) or not isinstance(data.get("results"), list):
        raise DataError("no 'results' list", where=str(path), hint="use the Ego4D NLQ submission format")
    seen: dict[Any, str] = {}
    for i, r in enumerate(data["results"]):
        where = f"{path}: results[{i}]"
        entries.fields(r, where, ("clip_uid", "annotation_uid", "query_idx", "predicted_times"), RESULT_FORM)
        key = (entries.text(r["clip_uid"], where, "clip_uid", RESULT_FORM), entries.text(r["annotation_uid"], where, "annotation_uid", RESULT_FORM),
               entries.index(r["query_idx"], where, "query_idx", RESULT_FORM))
        for k, w in enumerate(entries.items(r["predicted_times"], where, "predicted_times", RESULT_FORM)):
            entries.segment(w, where, f"predicted_times[{k}]")
        entries.once(key, seen, where, "query", "one result per (clip_uid, annotation_uid, query_idx)")
    return data


def write_submission(submission: dict[str, Any], path: str | Path) -> None:
    """Write a submission object (`format_predictions`) as JSON."""
    with open(path, "w", encoding="utf-8") as f:
        json.dump(submission, f)

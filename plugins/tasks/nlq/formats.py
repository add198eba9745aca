"""The official natural-language-query files: annotation readers (to one list of query
records), Charades metadata and the Ego4D NLQ submission file.

* **Ego4D NLQ** (``nlq_{train,val}.json``): ``{"videos": [{"video_uid", "clips":
  [{"clip_uid", "clip_start_sec", "clip_end_sec", "annotations": [{"annotation_uid",
  "language_queries": [{"query", "clip_start_sec", "clip_end_sec", ...}]}]}]}]}``.
  A query is identified by ``(clip_uid, annotation_uid, query_idx)``, ``query_idx`` its
  index in ``language_queries`` (counting entries without ``query``, which the official
  loaders skip and so do we). Windows are clip seconds; the clip lasts
  ``video_end_sec - video_start_sec`` (as VSLNet's ``prepare_ego4d_dataset.py``).
* **Charades-STA** (2D-TAN's ``charades_sta_{train,test}.txt``): ``VIDEO START END##sentence``
  per line, seconds. The query key is ``(video_id, "<0-based line number>", 0)``; the
  video duration comes from Charades' ``Charades_v1_{train,test}.csv`` (``length``).
  Known quirks: ~15 % of windows end after the video (kept as written; datasets clip
  them), 4 training rows have start > end.

Record: ``{"key": (clip_uid, annotation_uid, query_idx), "video_id", "query", "window":
[s, e] (s), "duration": float | None, "where": "file:row"}``.

Submission: ``{"version": "1.0", "challenge": "ego4d_nlq_challenge", "results": [{"clip_uid",
"annotation_uid", "query_idx", "predicted_times": [[s, e], ...]}]}``.
"""
from __future__ import annotations

import csv
import gzip
import json
from pathlib import Path
from typing import Any

from videollm_core.errors import DataError

from videollm_core.paths import read_json

QueryKey = tuple[str, str, int]


def load_queries(path: str | Path, durations: dict[str, float] | None = None) -> list[dict[str, Any]]:
    """Ego4D NLQ JSON (``.json``) or Charades-STA text (``.txt``) -> query records."""
    path = Path(path)
    if path.suffix == ".txt":
        return load_charades_sta(path, durations)
    return load_ego4d_nlq(path)


def load_ego4d_nlq(path: str | Path) -> list[dict[str, Any]]:
    data = read_json(path, what="annotation file")
    if not isinstance(data, dict) or "videos" not in data:
        raise DataError("not an Ego4D NLQ file (no 'videos')", where=str(path), hint="pass nlq_val.json (or a Charades-STA .txt)")
    out = []
    for vi, video in enumerate(data["videos"]):
        for ci, clip in enumerate(video.get("clips", [])):
            for ai, ann in enumerate(clip.get("annotations", [])):
                for qi, q in enumerate(ann.get("language_queries", [])):
                    where = f"{path}: videos[{vi}].clips[{ci}].annotations[{ai}].language_queries[{qi}]"
                    if not q.get("query"):  # as VSLNet's loader: missing or empty queries are skipped
                        continue
                    try:
                        out.append({
                            "key": (str(clip["clip_uid"]), str(ann["annotation_uid"]), qi),
                            "video_id": str(clip["clip_uid"]),
                            "query": str(q["query"]),
                            "window": [float(q["clip_start_sec"]), float(q["clip_end_sec"])],
                            "duration": float(clip["video_end_sec"]) - float(clip["video_start_sec"]),
                            # where the clip lies in its video, for per-video features (Ego4D <video_uid>.pt)
                            "clip": (str(video.get("video_uid", clip["clip_uid"])), float(clip["video_start_sec"]), float(clip["video_end_sec"])),
                            "where": where,
                        })
                    except (KeyError, TypeError, ValueError) as e:
                        raise DataError(f"malformed query ({type(e).__name__}: {e})", where=where, hint="see the Ego4D NLQ schema in shared/data/README.md") from e
    return out


def load_charades_sta(path: str | Path, durations: dict[str, float] | None = None) -> list[dict[str, Any]]:
    path = Path(path)
    if not path.is_file():
        raise DataError("file not found", where=str(path), hint="pass charades_sta_{train,test}.txt")
    out = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f):
            line = line.rstrip("\n")
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
    """``{video_id: length_s}`` from Charades' ``Charades_v1_*.csv`` files (plain or ``.gz``)."""
    out: dict[str, float] = {}
    for p in paths:
        p = Path(p)
        if not p.is_file():
            raise DataError("Charades metadata not found", where=str(p), hint="pass Charades_v1_test.csv / Charades_v1_train.csv(.gz)")
        opener = gzip.open if p.suffix == ".gz" else open
        with opener(p, "rt", encoding="utf-8") as f:
            for n, row in enumerate(csv.DictReader(f), 2):
                try:
                    out[row["id"]] = float(row["length"])
                except (KeyError, ValueError) as e:
                    raise DataError(f"bad row ({type(e).__name__}: {e})", where=f"{p}:{n}", hint="columns id and length are required") from e
    return out


def read_submission(path: str | Path) -> dict[str, Any]:
    """An Ego4D NLQ submission, checked for its ``results`` list."""
    data = read_json(path, what="predictions file")
    if not isinstance(data, dict) or not isinstance(data.get("results"), list):
        raise DataError("no 'results' list", where=str(path), hint="use the Ego4D NLQ submission format")
    return data


def write_submission(submission: dict[str, Any], path: str | Path) -> None:
    """Write a submission object (:meth:`~.metric.NaturalLanguageQueryMetric.format_predictions`) as JSON."""
    with open(path, "w", encoding="utf-8") as f:
        json.dump(submission, f)

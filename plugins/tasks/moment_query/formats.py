"""The official temporal-detection files: annotation readers (to one normalised form), the
Ego4D label map, and the ActivityNet / Ego4D MQ submission file.

Two on-disk schemas:

* **ActivityNet-style JSON** (ActivityNet 1.3, ActionFormer's THUMOS14/EK100 files):
  `{"database": {video_id: {"subset", "duration" (s), "fps"?, "annotations":
  [{"label", "segment": [s, e] (s), "label_id"?}]}}}`.
* **Ego4D MQ** (`moments_{train,val}.json`): `{"videos": [{"video_uid", "split",
  "clips": [{"clip_uid", "video_start_sec", "video_end_sec", "annotations": [{"labels":
  [{"label", "video_start_time", "video_end_time", "primary", ...}]}]}]}]}`. Evaluated
  per clip; only `primary` labels count; times become clip-relative
  (`video_start_time - clip.video_start_sec`); annotators are merged, dropping
  duplicates (same label, both ends within 1e-3 s).

Normalised form (what `MomentQueryMetric` evaluates and the datasets
read): `{video_id: {"subset": str, "duration": float, "fps": float | None,
"annotations": [{"label": str, "segment": [s, e]}]}}`, times in seconds.

Submission: `{"version", "results": {video_id: [{"label": name, "segment": [s, e] (s),
"score"}]}, "external_data": {}}` (`detect_results` is accepted for `results`).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence

from videollm_core.errors import DataError

from videollm_core.paths import read_json, read_text_lines

from ..common import entries

Database = dict[str, dict[str, Any]]


def load_detection_database(path: str | Path, subset: str | None = None) -> Database:
    """Read an ActivityNet-style or Ego4D MQ file into the normalised database.

    Args:
        path: the official annotation file (`.json` or `.json.gz`).
        subset: keep only videos of this subset/split, case-insensitive (`"Test"`,
            `"validation"`, `"val"`); None keeps all.
    """
    data = read_json(path, what="annotation file")
    if isinstance(data, dict) and "database" in data:
        db = _from_activitynet(data["database"], str(path))
    elif isinstance(data, dict) and "videos" in data:
        db = _from_ego4d(data["videos"], str(path))
    else:
        raise DataError(
            "neither an ActivityNet-style ('database') nor an Ego4D MQ ('videos') annotation file",
            where=str(path),
            hint="pass e.g. thumos14.json or moments_val.json",
        )
    if subset is not None:
        db = {v: d for v, d in db.items() if str(d["subset"]).lower() == subset.lower()}
    return db


def _from_activitynet(database: dict[str, Any], where: str) -> Database:
    out: Database = {}
    for vid, item in entries.fields(database, f"{where}: database", (), "'database': {video_id: {...}}").items():
        try:
            anns = [{"label": str(a["label"]), "segment": [float(a["segment"][0]), float(a["segment"][1])]} for a in item.get("annotations", [])]
            out[str(vid)] = {
                "subset": str(item.get("subset", "")),
                "duration": float(item["duration"]),
                "fps": float(item["fps"]) if item.get("fps") is not None else None,
                "annotations": anns,
            }
        except (KeyError, TypeError, IndexError, ValueError, AttributeError) as e:  # AttributeError: not an object
            raise DataError(f"malformed entry ({type(e).__name__}: {e})", where=f"{where}: database[{vid!r}]", hint="each video needs 'duration' and annotations with 'label' and 'segment': [start, end]") from e
    return out


def _from_ego4d(videos: list[dict[str, Any]], where: str) -> Database:
    out: Database = {}
    hint = "see the Ego4D MQ schema in shared/data/README.md"
    for vi, video in enumerate(entries.items(videos, f"{where}: videos", "videos", hint)):
        video = entries.fields(video, f"{where}: videos[{vi}]", (), hint)
        for ci, clip in enumerate(entries.items(video.get("clips", []), f"{where}: videos[{vi}]", "clips", hint)):
            place = f"{where}: videos[{vi}].clips[{ci}]"
            try:
                uid = str(clip["clip_uid"])
                start = float(clip["video_start_sec"])
                duration = float(clip["video_end_sec"]) - start
                anns: list[dict[str, Any]] = []
                for annotator in clip.get("annotations", []):
                    for lab in annotator.get("labels", []):
                        if not lab.get("primary", True):
                            continue
                        seg = [float(lab["video_start_time"]) - start, float(lab["video_end_time"]) - start]
                        if not any(a["label"] == lab["label"] and abs(a["segment"][0] - seg[0]) <= 1e-3 and abs(a["segment"][1] - seg[1]) <= 1e-3 for a in anns):
                            anns.append({"label": str(lab["label"]), "segment": seg})
            except (KeyError, TypeError, ValueError, AttributeError) as e:  # AttributeError: not an object
                raise DataError(f"malformed clip ({type(e).__name__}: {e})", where=place, hint=hint) from e
            out[uid] = {"subset": str(video.get("split", "")), "duration": duration, "fps": None, "annotations": anns,
                        # where the clip lies in its video, for per-video features (Ego4D <video_uid>.pt)
                        "clip": (str(video.get("video_uid", uid)), start, start + duration)}
    return out


def read_label_map(path: str | Path) -> list[str]:
    """Class names from ActionFormer's Ego4D label map (`"<id>\\t\\"<name>\\""` per line), in id order."""
    path = Path(path)
    if not path.is_file():
        raise DataError("label map not found", where=str(path), hint="e.g. shared/data/ego4d/mq_label_map_actionformer.txt")
    names: dict[int, str] = {}
    for n, line in enumerate(read_text_lines(path, "label map"), 1):
        if not line.strip():
            continue
        parts = line.split("\t", 1)
        if len(parts) != 2 or not parts[0].strip().isdigit():
            raise DataError("expected '<id>\\t<name>'", where=f"{path}:{n}", hint="one class per line")
        names[int(parts[0])] = parts[1].strip().strip('"')
    return [names[i] for i in sorted(names)]


#: one detection of the submission, for error messages.
DETECTION_FORM = "each detection is {'label': class name, 'segment': [start, end] (s, 0 <= start <= end), 'score': finite number}"


def read_submission(path: str | Path, class_names: Sequence[str] | None = None) -> dict[str, Any]:
    """An ActivityNet / Ego4D MQ detection submission (`.json` / `.json.gz`), every detection checked.

    Every detection of every video, in the ground truth or not, needs a `label` (a string, or
    an integer id), a `segment` `[start, end]` in seconds with `0 <= start <= end` and a
    finite `score` (ActivityNet's `Evaluation/eval_detection.py` `_import_prediction` and
    Ego4D's `MQ/Evaluation/ego4d/eval_detection.py` read every entry of the file too).
    With `class_names` (the metric's class table) a label outside it is refused; without it,
    labels absent from the ground truth are dropped at evaluation, as Ego4D's evaluator does.

    Raises:
        DataError: naming the file, the video id and the entry index of the first bad detection.
    """
    data = read_json(path, what="predictions file")
    key = "results" if isinstance(data, dict) and "results" in data else "detect_results"
    if not isinstance(data, dict) or not isinstance(data.get(key), dict):
        raise DataError("no 'results' object {video_id: [detections]}", where=str(path), hint="use the ActivityNet detection submission format")
    for vid, dets in data[key].items():
        for i, d in enumerate(entries.items(dets, f"{path}: {key}[{vid!r}]", "the detections of a video", DETECTION_FORM)):
            where = f"{path}: {key}[{vid!r}][{i}]"
            entries.fields(d, where, ("label", "segment", "score"), DETECTION_FORM)
            label = d["label"]
            if isinstance(label, bool) or not isinstance(label, (str, int)):
                raise DataError(f"label must be a class name, got {entries.show(label)}", where=where, hint=DETECTION_FORM)
            if class_names is not None:
                entries.known(str(label), class_names, where, "label", hint=f"use the names of the class table, e.g. {list(class_names)[:3]}")
            entries.segment(d["segment"], where, "segment", DETECTION_FORM)
            entries.number(d["score"], where, "score", DETECTION_FORM)
    return data


def write_submission(submission: dict[str, Any], path: str | Path) -> None:
    """Write a submission object (`format_predictions`) as JSON."""
    with open(path, "w", encoding="utf-8") as f:
        json.dump(submission, f)

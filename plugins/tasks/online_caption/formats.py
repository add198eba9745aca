"""The online-captioning files: Ego4D narrations in, the caption predictions out and back.

Ground truth: `narration.json` (schema of the Ego4D release; not public -- fixtures only):

    {"<video_uid>": {"status": "complete",
                     "narration_pass_1": {"narrations": [{"timestamp_sec": 3.1, "timestamp_frame": 93,
                                                         "narration_text": "#C C takes the knife",
                                                         "annotation_uid": "..."}, ...],
                                          "summaries": [...]},
                     "narration_pass_2": {...}}}

`annotation_uid` names an annotation job (shared by many narrations), so a narration
is identified here by `"<video_uid>:<pass>:<index in its list>"`. Quirks kept:
texts carry the `#C`/`#O` actor tags and sometimes `#unsure`; some videos lack
a pass or have `status` other than `complete`.

Predictions (no official Ego4D narration-captioning submission exists; this one names
each narration as the ground truth does):

    {"version": "1.0", "challenge": "ego4d_online_narration",
     "results": [{"narration_id": "<video_uid>:<pass>:<index>", "video_uid": ..., "timestamp_sec": ..., "caption": "..."}]}
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from videollm_core.base import DataErrors
from videollm_core.errors import DataError
from videollm_core.paths import read_json, read_text_lines

from ..common import entries

#: the layout of the prediction file, for error messages.
SUBMISSION_SHAPE = "{'version', 'challenge', 'results': [{'narration_id', 'caption'}, ...]}"
CHALLENGE = "ego4d_online_narration"
PASSES = ("narration_pass_1", "narration_pass_2")
_TAG = re.compile(r"^\s*#[A-Za-z]\b")


@dataclass(frozen=True)
class Narration:
    narration_id: str
    video_uid: str
    time: float  # seconds in the video
    text: str


def read_video_list(path: str | Path) -> list[str]:
    """A text file with one video uid per line (blank lines ignored)."""
    path = Path(path)
    if not path.is_file():
        raise DataError("video list not found", where=str(path))
    return [line.strip() for line in read_text_lines(path, "video list") if line.strip()]


def strip_actor_tag(text: str) -> str:
    """`"#C C takes the knife"` -> `"C takes the knife"` (drop a leading `#C`/`#O` tag).

    The tag is an annotation marker, not narration; coco-caption's PTB tokenizer keeps
    `#c` as one token while word-level tokenizers split it, so it is dropped from both
    references and training targets (as LaViLa/EgoVLP preprocessing does).
    """
    return _TAG.sub("", text, count=1).strip()


def read_narrations(path: str | Path, passes: tuple[str, ...] = ("narration_pass_1",), videos: list[str] | None = None,
                    skip_unsure: bool = True, errors: DataErrors | None = None, strip_tags: bool = True) -> list[Narration]:
    """`narration.json` -> narrations of `passes` (of `videos` when given), in file order.

    Entries without `timestamp_sec`/`narration_text`, with a negative time or an
    empty text are a [`DataError`][videollm_core.errors.DataError] naming the entry, handed to `errors` (the dataset's
    `on_error` policy; default: raise): raised, or left out and reported. With
    `skip_unsure`, texts tagged `#unsure` are left out (as LaViLa/EgoVLP do); with
    `strip_tags` the leading actor tag goes (`strip_actor_tag`).
    """
    errors = errors if errors is not None else DataErrors()
    obj = read_json(path, "narration file (Ego4D narration.json)", dict, "{video_uid: {narration_pass_1: {narrations: [...]}}}")
    wanted = set(videos) if videos is not None else None
    out: list[Narration] = []
    for vid, entry in obj.items():
        if wanted is not None and vid not in wanted:
            continue
        for p in passes:
            try:  # a pass the video lacks has no narrations; one of another shape is an error
                items = (entry.get(p) or {}).get("narrations", []) if isinstance(entry, dict) else []
                if not isinstance(items, list):
                    raise TypeError(f"narrations must be a list, got {type(items).__name__}")
            except (AttributeError, TypeError) as e:
                errors.handle(DataError(f"{vid}.{p} is not {{'narrations': [...]}} ({e})", where=f"{path}: {vid}.{p}",
                                        hint="fix the entry, or set data.on_error: skip"))
                continue
            for i, n in enumerate(items):
                where = f"{path}: {vid}.{p}.narrations[{i}]"
                try:
                    t, text = float(n["timestamp_sec"]), str(n["narration_text"]).strip()
                    if t < 0 or not text:
                        raise ValueError("negative timestamp_sec or empty narration_text")
                except (KeyError, TypeError, ValueError) as e:
                    msg = f"missing field {e}" if isinstance(e, KeyError) else str(e)
                    errors.handle(DataError(msg, where=where, hint="fix the entry, or set data.on_error: skip"))
                    continue
                if skip_unsure and "#unsure" in text.lower():
                    continue
                out.append(Narration(f"{vid}:{p}:{i}", vid, t, strip_actor_tag(text) if strip_tags else text))
    return out


def format_submission(entries: list[Mapping[str, Any]]) -> dict[str, Any]:
    """Head entries `{narration_id, video_uid?, timestamp_sec?, caption}` -> the predictions object."""
    results = [{"narration_id": e["narration_id"], "video_uid": e.get("video_uid"), "timestamp_sec": e.get("timestamp_sec"),
                "caption": str(e["caption"])} for e in entries]
    return {"version": "1.0", "challenge": CHALLENGE, "results": results}


#: one result of the predictions, for error messages.
RESULT_FORM = ("each result is {'narration_id': '<video_uid>:<pass>:<index>', 'caption': str, "
               "'video_uid'?: str, 'timestamp_sec'?: seconds >= 0}")


def read_submission(path: str | Path) -> dict[str, Any]:
    """The predictions JSON, every result checked (whether or not its narration is in the ground truth).

    There is no official Ego4D narration-captioning evaluator, so the rules are the strict
    ones: `narration_id` and `caption` strings (an empty caption is allowed and scores 0),
    `video_uid` a string and `timestamp_sec` a finite time `>= 0` when given, one
    result per narration.

    Raises:
        DataError: missing, not JSON, without a `results` list, or naming the file and the
            index of the first bad result.
    """
    data = read_json(path, "prediction file", dict, SUBMISSION_SHAPE, require={"results": list})
    seen: dict[Any, str] = {}
    for i, r in enumerate(data["results"]):
        where = f"{path}: results[{i}]"
        entries.fields(r, where, ("narration_id", "caption"), RESULT_FORM)
        entries.text(r["caption"], where, "caption", RESULT_FORM)
        if r.get("video_uid") is not None:
            entries.text(r["video_uid"], where, "video_uid", RESULT_FORM)
        if r.get("timestamp_sec") is not None and entries.number(r["timestamp_sec"], where, "timestamp_sec", RESULT_FORM) < 0:
            raise DataError(f"timestamp_sec {r['timestamp_sec']} is negative", where=where, hint=RESULT_FORM)
        entries.once(entries.text(r["narration_id"], where, "narration_id", RESULT_FORM), seen, where, "narration_id",
                     "one caption per narration")
    return data


__all__ = ["SUBMISSION_SHAPE", "PASSES", "Narration", "strip_actor_tag", "read_video_list", "read_narrations", "format_submission",
           "read_submission"]

"""The Ego4D LTA files: annotations (`fho_lta_{train,val,test_unannotated}.json`), the
taxonomy, the sample windows read off them, and the challenge submission.

Schema (read off the official `EGO4D/forecasting` loaders):

    {"version": ..., "split": ..., "clips": [{"clip_uid", "video_uid", "clip_idx", "action_idx",
        "clip_parent_start_sec", "action_clip_start_sec", "action_clip_end_sec",
        "verb", "noun", "verb_label", "noun_label", ...}, ...]}     # one entry per action
    fho_lta_taxonomy.json = {"verbs": [...], "nouns": [...]}

Samples (`ptv_dataset_helper.py`): per clip, actions sorted by `action_idx`; every
window of N consecutive observed actions followed by Z future ones (stride 1). A
sample's key is `"<clip_uid>_<action_idx of the last observed action>"`.

Submission (Ego4D forecasting challenge):

    {"<clip_uid>_<last_visible_action_idx>": {"verb": [K lists of Z ids], "noun": [K lists of Z ids]}}
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from videollm_core.base import DataErrors
from videollm_core.errors import DataError
from videollm_core.paths import read_json

from ..common import entries

#: the layout of the prediction file, for error messages.
SUBMISSION_SHAPE = "{'<clip_uid>_<action_idx>': {'verb': [[...]], 'noun': [[...]]}}"
REQUIRED = ("clip_uid", "video_uid", "action_idx", "clip_parent_start_sec", "action_clip_start_sec", "action_clip_end_sec")


@dataclass(frozen=True)
class LTAAction:
    """One annotated action; times in seconds of the parent video."""

    clip_uid: str
    video_uid: str
    action_idx: int
    start: float
    end: float
    verb: int  # -1 when unannotated (test)
    noun: int


@dataclass(frozen=True)
class LTAWindow:
    """N observed actions and the Z that follow (labels; empty lists on the unannotated split)."""

    key: str
    video_uid: str
    observed: tuple[LTAAction, ...]
    future_verbs: list[int]
    future_nouns: list[int]


def read_annotations(path: str | Path, errors: DataErrors | None = None) -> dict[str, list[LTAAction]]:
    """`fho_lta_*.json` -> `{clip_uid: actions sorted by action_idx}`.

    Entries lacking a field, with `start > end` or negative labels are a [`DataError`][videollm_core.errors.DataError]
    naming the file and entry, handed to `errors` (the dataset's `on_error` policy;
    default: raise): raised, or left out and reported.
    """
    path = Path(path)
    errors = errors if errors is not None else DataErrors()
    obj = read_json(path, "annotation file", dict, "{'clips': [...]} (the Ego4D LTA schema)", require={"clips": list})
    clips: dict[str, list[LTAAction]] = {}
    for i, c in enumerate(obj["clips"]):
        where = f"{path}: clips[{i}]"
        try:
            missing = [k for k in REQUIRED if k not in c]
            if missing:
                raise ValueError(f"missing field(s) {missing}")
            base = float(c["clip_parent_start_sec"])
            start, end = base + float(c["action_clip_start_sec"]), base + float(c["action_clip_end_sec"])
            if start > end:
                raise ValueError(f"action_clip_start_sec {c['action_clip_start_sec']} > action_clip_end_sec {c['action_clip_end_sec']}")
            verb, noun = int(c.get("verb_label", -1)), int(c.get("noun_label", -1))
            if ("verb_label" in c and verb < 0) or ("noun_label" in c and noun < 0):
                raise ValueError("negative verb_label/noun_label")
            action = LTAAction(str(c["clip_uid"]), str(c["video_uid"]), int(c["action_idx"]), start, end, verb, noun)
        except (ValueError, TypeError, OverflowError) as e:  # a field of the wrong type or value; int(inf): OverflowError
            errors.handle(DataError(f"{type(e).__name__}: {e}", where=where, hint="fix the entry, or set data.on_error: skip"))
            continue
        clips.setdefault(action.clip_uid, []).append(action)
    for acts in clips.values():
        acts.sort(key=lambda a: a.action_idx)
    return clips


def windows(clips: dict[str, list[LTAAction]], num_input: int, z: int = 20, need_future: bool = True) -> list[LTAWindow]:
    """Every window of `num_input` observed actions followed by `z` future ones (stride 1).

    With `need_future=False` (unannotated test split) every window of `num_input`
    actions is a sample and the future lists are empty.
    """
    out = []
    for clip_uid, acts in clips.items():
        last_start = len(acts) - num_input - (z if need_future else 0)
        for s in range(0, last_start + 1):
            obs = tuple(acts[s : s + num_input])
            fut = acts[s + num_input : s + num_input + z] if need_future else []
            out.append(LTAWindow(f"{clip_uid}_{obs[-1].action_idx}", obs[-1].video_uid, obs, [a.verb for a in fut], [a.noun for a in fut]))
    return out


def read_taxonomy(path: str | Path) -> dict[str, list[str]]:
    """`fho_lta_taxonomy.json` -> `{"verbs": [...], "nouns": [...]}`."""
    path = Path(path)
    tax: Any = read_json(path, "taxonomy file (fho_lta_taxonomy.json, beside the annotations)", dict,
                         "{'verbs': [...], 'nouns': [...]}", require={"verbs": list, "nouns": list})
    return {"verbs": list(tax["verbs"]), "nouns": list(tax["nouns"])}


def format_submission(entries: list[Mapping[str, Any]]) -> dict[str, Any]:
    """Head entries `{key, verb [K][Z], noun [K][Z]}` -> the submission dict (integer ids)."""
    return {str(e["key"]): {"verb": np.asarray(e["verb"]).astype(int).tolist(),
                            "noun": np.asarray(e["noun"]).astype(int).tolist()} for e in entries}


def check_sample(pred: Any, where: str, k: int = 5, z: int = 20) -> None:
    """One sample's prediction: `verb` and `noun`, each `k` candidate sequences of `z` class
    ids (integers >= 0), the `[N, Z, K]` predictions of `EGO4D/forecasting`'s
    `ego4d_forecasting/evaluation/lta_metrics.py` `edit_distance`. An id outside the taxonomy
    is not refused: that `edit_distance` compares ids for equality, so it never matches.

    Raises:
        DataError: naming `where`, the head and the candidate.
    """
    hint = f"'verb' and 'noun' are each {k} lists of {z} integer class ids (pad/truncate every candidate to exactly Z actions)"
    entries.fields(pred, where, ("verb", "noun"), hint)
    for head in ("verb", "noun"):
        seqs = pred[head]
        if not isinstance(seqs, list) or len(seqs) != k or any(not isinstance(q, list) or len(q) != z for q in seqs):
            raise DataError(f"'{head}' must be {k} lists of {z} ids, got {entries.show(seqs)}", where=f"{where}.{head}", hint=hint)
        for c, q in enumerate(seqs):
            for t, x in enumerate(q):
                entries.index(x, f"{where}.{head}[{c}][{t}]", f"{head} id", hint)


def read_submission(path: str | Path, k: int = 5, z: int = 20) -> dict[str, Any]:
    """The submission JSON, every sample checked by `check_sample` (whether or not it is in the ground truth).

    Raises:
        DataError: missing, not JSON, not an object, or naming the file and the first bad sample.
    """
    data = read_json(path, "prediction file", dict, SUBMISSION_SHAPE)
    for key, pred in data.items():
        check_sample(pred, f"{path}[{key!r}]", k, z)
    return data


__all__ = ["SUBMISSION_SHAPE", "LTAAction", "LTAWindow", "read_annotations", "windows", "read_taxonomy", "format_submission",
           "check_sample", "read_submission"]

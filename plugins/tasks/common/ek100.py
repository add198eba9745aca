"""EPIC-KITCHENS-100 annotation files in the RULSTM layout (shared by OAD and anticipation).

Files (unchanged from the benchmark; see `shared/data/README.md`):

* `rulstm_ek100/{training,validation}.csv[.gz]` -- no header:
  `narration_id,video_id,start_frame,end_frame,verb_class,noun_class,action_class`;
  frames on a fixed **30 fps** grid (`RULSTM_FPS`).
* `rulstm_ek100/actions.csv` -- header `id,verb,noun,action`: the action classes.
* `official/EPIC_100_{train,validation}.csv` -- the official annotations, header
  `narration_id,participant_id,video_id,...,start_timestamp,stop_timestamp,...,verb_class,...,noun_class,...`
  (read by `read_segments` too: timestamps go to the 30 fps grid as RULSTM's do; an
  action is the `(verb_class, noun_class)` pair, its id from `actions.csv` when given).
* `official/EPIC_100_{verb,noun}_classes.csv`, `EPIC_100_tail_{verbs,nouns}.csv`,
  `EPIC_100_unseen_participant_ids_validation.csv` -- class counts and the
  unseen / tail splits of the anticipation metrics.
"""
from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import numpy as np

from videollm_core.base import DataErrors
from videollm_core.errors import DataError
from videollm_core.paths import read_text

RULSTM_FPS = 30.0
#: background is class 0 in the OAD label spaces (action, verb, noun): class id + 1 otherwise.
BACKGROUND = 0


@dataclass(frozen=True)
class EK100Segment:
    """One annotated action segment; frames on the 30 fps grid, classes 0-based."""

    narration_id: str
    video_id: str
    start_frame: int
    end_frame: int
    verb: int
    noun: int
    action: int

    @property
    def participant(self) -> str:
        """`P01` for video `P01_11`."""
        return self.video_id.split("_")[0]

    @property
    def start_s(self) -> float:
        return self.start_frame / RULSTM_FPS

    @property
    def end_s(self) -> float:
        return self.end_frame / RULSTM_FPS


@dataclass
class EK100Splits:
    """The official subsets of the anticipation metrics (empty sets when files are absent)."""

    tail_verbs: set[int] = field(default_factory=set)
    tail_nouns: set[int] = field(default_factory=set)
    unseen_participants: set[str] = field(default_factory=set)
    found: bool = False


def _open_text(path: Path) -> io.TextIOBase:
    """A csv (`.gz` allowed) as a text stream for `csv` (`videollm_core.paths.read_text`:
    bounded, UTF-8, a bad byte a [`DataError`][videollm_core.errors.DataError] naming file and line)."""
    return io.StringIO(read_text(path, "csv file"), newline="")


#: the columns of the official annotation csv that `read_official_segments` reads.
OFFICIAL_COLUMNS = ("narration_id", "video_id", "start_timestamp", "stop_timestamp", "verb_class", "noun_class")


def is_official_csv(path: str | Path) -> bool:
    """Whether `path` is an official `EPIC_100_*.csv` (a header naming `verb_class`), not a RULSTM csv."""
    with _open_text(Path(path)) as f:
        header = f.readline().strip().split(",")
    return "narration_id" in header and "verb_class" in header


def _seconds(text: str) -> float:
    """`HH:MM:SS.ff` -> seconds."""
    h, m, sec = text.strip().split(":")
    return int(h) * 3600 + int(m) * 60 + float(sec)


def read_official_segments(path: str | Path, action_ids: dict[tuple[int, int], int] | None = None) -> list[EK100Segment]:
    """Segments of an official annotation csv (`EPIC_100_validation.csv`).

    Frames go to RULSTM's 30 fps grid (`start = max(1, floor(30 * start_s))`,
    `end = floor(30 * stop_s)`: equal to RULSTM's files on all 9,668 validation rows).
    `action` is `action_ids[(verb, noun)]` (`actions.csv`), -1 without a table or for
    a pair the table lacks (the anticipation metric scores actions as `verb * 1000 + noun`).
    """
    path = Path(path)
    out: list[EK100Segment] = []
    with _open_text(path) as f:
        reader = csv.DictReader(f)
        missing = [c for c in OFFICIAL_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise DataError(f"the official annotation csv lacks the column(s) {missing}", where=f"{path}:1")
        for row_no, row in enumerate(reader, start=2):
            try:
                start, stop = _seconds(row["start_timestamp"]), _seconds(row["stop_timestamp"])
                verb, noun = int(row["verb_class"]), int(row["noun_class"])
                if stop < start or min(verb, noun) < 0:
                    raise ValueError("stop before start or a negative class")
            except (ValueError, AttributeError) as e:
                raise DataError(f"unreadable row ({e})", where=f"{path}:{row_no}") from None
            first, last = max(1, math.floor(start * RULSTM_FPS)), math.floor(stop * RULSTM_FPS)
            action = (action_ids or {}).get((verb, noun), -1)
            out.append(EK100Segment(row["narration_id"].strip(), row["video_id"].strip(), first, max(first, last), verb, noun, action))
    return out


def read_segments(path: str | Path, errors: DataErrors | None = None) -> list[EK100Segment]:
    """Read a RULSTM segment csv (no header; `.gz` allowed).

    Rows with a wrong column count, non-integer fields, negative classes or
    `start_frame > end_frame` are a [`DataError`][videollm_core.errors.DataError] naming file and row, handed to
    `errors` (the dataset's `on_error` policy; default: raise): raised, or left out
    and reported.
    """
    path = Path(path)
    errors = errors if errors is not None else DataErrors()
    if not path.is_file():
        raise DataError("annotation file not found", where=str(path), hint="point the dataset at the RULSTM csv (e.g. rulstm_ek100/validation.csv)")
    out: list[EK100Segment] = []
    with _open_text(path) as f:
        for row_no, row in enumerate(csv.reader(f), start=1):
            if not row:
                continue
            where = f"{path}:{row_no}"
            try:
                if len(row) != 7:
                    raise ValueError(f"expected 7 columns (narration_id,video_id,start_frame,end_frame,verb,noun,action), got {len(row)}")
                nid, vid = row[0].strip(), row[1].strip()
                start, end, verb, noun, action = (int(x) for x in row[2:])
                if start > end:
                    raise ValueError(f"start_frame {start} > end_frame {end}")
                if min(verb, noun, action) < 0 or start < 0:
                    raise ValueError("negative frame or class id")
            except ValueError as e:
                header = row_no == 1 and len(row) > 2 and not row[2].strip().isdigit()
                hint = "RULSTM csv files have no header row" if header else "fix or drop the row, or set data.on_error: skip"
                errors.handle(DataError(str(e), where=where, hint=hint))
                continue
            out.append(EK100Segment(nid, vid, start, end, verb, noun, action))
    return out


def read_actions(path: str | Path) -> tuple[np.ndarray, list[str]]:
    """`actions.csv` -> `(pairs [A, 2] int (verb, noun) indexed by action id, names [A])`."""
    path = Path(path)
    if not path.is_file():
        raise DataError("actions.csv not found", where=str(path), hint="RULSTM's actions.csv must sit beside the segment csv (or pass actions=...)")
    rows = list(csv.DictReader(_open_text(path)))
    if not rows or not {"id", "verb", "noun"} <= set(rows[0]):
        raise DataError("expected the header id,verb,noun,action", where=f"{path}:1")
    pairs = np.full((len(rows), 2), -1, dtype=np.int64)
    names = [""] * len(rows)
    for i, r in enumerate(rows, start=2):
        a = int(r["id"])
        if not 0 <= a < len(rows):
            raise DataError(f"action id {a} outside 0..{len(rows) - 1}", where=f"{path}:{i}")
        pairs[a] = (int(r["verb"]), int(r["noun"]))
        names[a] = r.get("action", "")
    return pairs, names


def find_official_dir(anchor: str | Path, explicit: str | Path | None = None) -> Path | None:
    """The folder with `EPIC_100_*.csv`: `explicit`, else beside `anchor`, else `anchor/../official`."""
    if explicit is not None:
        return Path(explicit)
    anchor = Path(anchor)
    base = anchor if anchor.is_dir() else anchor.parent
    for cand in (base, base.parent / "official", base / "official"):
        if (cand / "EPIC_100_tail_verbs.csv").is_file():
            return cand
    return None


def _one_column(path: Path, column: str) -> list[str]:
    rows = list(csv.DictReader(_open_text(path)))
    if rows and column not in rows[0]:
        raise DataError(f"expected a column {column!r}", where=f"{path}:1")
    return [r[column].strip() for r in rows]


def read_splits(official_dir: str | Path | None, split: str = "validation") -> EK100Splits:
    """Tail verbs/nouns and unseen participants from the official files (empty if `None`)."""
    if official_dir is None:
        return EK100Splits()
    d = Path(official_dir)
    files = [d / "EPIC_100_tail_verbs.csv", d / "EPIC_100_tail_nouns.csv", d / f"EPIC_100_unseen_participant_ids_{split}.csv"]
    for f in files:
        if not f.is_file():
            raise DataError("official split file not found", where=str(f), hint="pass the EPIC-KITCHENS-100 annotations folder as splits_dir")
    return EK100Splits(
        tail_verbs={int(x) for x in _one_column(files[0], "verb")},
        tail_nouns={int(x) for x in _one_column(files[1], "noun")},
        unseen_participants=set(_one_column(files[2], "participant_id")),
        found=True,
    )


def class_counts(official_dir: Path | None, actions: np.ndarray) -> tuple[int, int]:
    """`(num_verbs, num_nouns)`: rows of the official class csvs, else `max id + 1` of `actions`."""
    if official_dir is not None:
        v, n = Path(official_dir) / "EPIC_100_verb_classes.csv", Path(official_dir) / "EPIC_100_noun_classes.csv"
        if v.is_file() and n.is_file():
            return len(_one_column(v, "id")), len(_one_column(n, "id"))
    return int(actions[:, 0].max()) + 1, int(actions[:, 1].max()) + 1


def step_range(seg: EK100Segment, fps: float) -> tuple[int, int]:
    """Steps `[first, last]` (inclusive) of a `fps` grid a segment covers: `floor(frame / 30 * fps)`."""
    return int(math.floor(seg.start_frame / RULSTM_FPS * fps)), int(math.floor(seg.end_frame / RULSTM_FPS * fps))


def frame_labels(segments: Iterable[EK100Segment], num_steps: int, fps: float) -> dict[str, np.ndarray]:
    """Per-step OAD labels `{"action", "verb", "noun"}: [num_steps]` int, 0 = background.

    A step covered by several segments takes the lowest class id (the argmax of the
    multi-hot target, as in MAT); ids are `class + 1`. Steps past `num_steps` are cut.
    """
    big = np.iinfo(np.int64).max
    out = {k: np.full(num_steps, big, dtype=np.int64) for k in ("action", "verb", "noun")}
    for seg in segments:
        a, b = step_range(seg, fps)
        b = min(b, num_steps - 1)
        if a > b:
            continue
        for key, value in (("action", seg.action), ("verb", seg.verb), ("noun", seg.noun)):
            out[key][a : b + 1] = np.minimum(out[key][a : b + 1], value + 1)
    for v in out.values():
        v[v == big] = BACKGROUND
    return out


def frame_positives(segments: Iterable[EK100Segment], num_steps: int | None, fps: float) -> np.ndarray:
    """The multi-hot per-step action target as `(step, action + 1)` pairs `[P, 2]` (unique, sorted).

    A step covered by two segments is a positive of both actions (LSTR/TeSTra build
    `target_perframe` this way); `num_steps` (None: no limit) cuts steps past the end.
    """
    pairs = []
    for seg in segments:
        a, b = step_range(seg, fps)
        if num_steps is not None:
            b = min(b, num_steps - 1)
        if a <= b:
            steps = np.arange(a, b + 1, dtype=np.int64)
            pairs.append(np.stack([steps, np.full_like(steps, seg.action + 1)], axis=1))
    if not pairs:
        return np.zeros((0, 2), dtype=np.int64)
    return np.unique(np.concatenate(pairs), axis=0)


__all__ = [
    "RULSTM_FPS", "BACKGROUND", "EK100Segment", "EK100Splits", "read_segments", "read_actions",
    "OFFICIAL_COLUMNS", "is_official_csv", "read_official_segments",
    "find_official_dir", "read_splits", "class_counts", "step_range", "frame_labels", "frame_positives",
]

"""The files of online action detection: ground truth in, per-frame scores out and back.

**Ground truth.** EK100: the RULSTM segment csv (`common.ek100`), turned into
per-frame labels by `ek100_ground_truth`. THUMOS (and TVSeries, EK55...): the
LSTR / TeSTra / MAT layout:

    <root>/data_info.json                       (or <root>/../data_info.json) keyed by dataset name:
        {"THUMOS": {"class_names": [...], "num_classes": 22, "ignore_index": 21,
                    "fps": 4, "train_session_set": [...], "test_session_set": [...]}}
    <root>/target_perframe/<video>.npy           [T, C] one/multi-hot at `fps` (column 0 = background)
    <root>/<feature name>/<video>.npy            [T, Df] features on the same grid

Per-frame label = argmax of the target row (lowest class on overlaps; used for training
and the top-k recalls); the per-frame mAP scores each class over its column of the
multi-hot target (`positives`), as LSTR's `perframe_average_precision` does. Frames
where the `ignore_index` column (THUMOS `Ambiguous`) is set are dropped from evaluation.

**Predictions.** There is no official OAD submission; LSTR / TeSTra / MAT keep per-frame
score matrices. Two forms, both read by `videollm evaluate oad` (`open_scores`):

* **JSON** (readable anywhere; fine for a few videos, ~100 bytes per score):

      {"version": "1.0", "challenge": "online_action_detection", "fps": 4.0,
       "results": {video_id: {"action": [[C scores] x T], "verb": [...], "noun": [...]}}}

* **compact folder** (the runner's default; EK100 validation = ~1.4 GB instead of ~19 GB):

      <dir>/index.json   {"version": "1.0", "challenge": "online_action_detection", "fps": 4.0,
                          "format": "npz-float16", "videos": {video_id: {"file": "<video_id>.npz",
                          "num_steps": T, "keys": ["action", "verb", "noun"]}}}
      <dir>/<video_id>.npz   arrays `action [T, C]` (and `verb`/`noun`) float16,
                             zip-deflated (`numpy.load` reads it)

Frame `i` covers `[i/fps, (i+1)/fps)`; column 0 of every class axis is background.
`ScoreWriter` takes the head's window entries in any order, keeps only the videos
not yet complete (an entry's `num_steps` says when a video is), and writes each video
as soon as its last window arrives, so memory holds a few videos, never the split.
"""
from __future__ import annotations

import json
import math
import os
import shutil
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from videollm_core.errors import DataError
from videollm_core.paths import os_errors, read_json
from videollm_core.engine.files import replace_path

from ..common import ek100, entries
from ..common.features import is_safe_video_id
from ..common.results_writer import ResultsWriter

#: frames with this label are dropped (THUMOS "Ambiguous").
IGNORED = -100
KEYS = ("action", "verb", "noun")
INDEX = "index.json"
CHALLENGE = "online_action_detection"
#: the layout of the prediction file, for error messages.
SUBMISSION_SHAPE = ("{'version', 'challenge', 'fps', 'results': {video_id: {'action': [[...]]}}} "
                    f"or a folder with {INDEX} and one .npz per video")
#: one video's scores, for error messages.
SCORES_FORM = ("{'action': [T, C] finite scores (column 0 background), 'verb'?: [T, V], 'noun'?: [T, N]}, "
               "the same T for every key")


@dataclass
class OADGroundTruth:
    """Per-frame labels (0 = background, `IGNORED` = drop) on an `fps` grid.

    `labels[video]["action"]` is `[T]`; `verb`/`noun` are present for EK100.
    `extendable`: predictions may run past `T` (frames after the last annotated
    segment are background; true when built from a segment csv). `positives[video]`:
    the multi-hot action target as `(frame, class)` pairs `[P, 2]` (None: the
    argmax labels, one class per frame).
    """

    fps: float
    labels: dict[str, dict[str, np.ndarray]]
    num_classes: dict[str, int]
    extendable: bool = False
    actions: np.ndarray | None = None  # [A, 2] (verb, noun) of action id a (= class a + 1)
    class_names: list[str] = field(default_factory=list)
    positives: dict[str, np.ndarray] | None = None

    def video_positives(self, vid: str) -> np.ndarray:
        """`(frame, class)` positives of `vid`'s action target (classes >= 1, kept frames)."""
        lab = self.labels[vid]["action"]
        if self.positives is not None and vid in self.positives:
            p = np.asarray(self.positives[vid], dtype=np.int64).reshape(-1, 2)
            return p[lab[np.minimum(p[:, 0], len(lab) - 1)] != IGNORED] if len(lab) else p
        frames = np.flatnonzero((lab > 0) & (lab != IGNORED))
        return np.stack([frames, lab[frames]], axis=1)


def ek100_ground_truth(segments: list[ek100.EK100Segment], actions: np.ndarray, fps: float, num_verbs: int, num_nouns: int,
                       num_steps: dict[str, int] | None = None, names: list[str] | None = None) -> OADGroundTruth:
    """Per-frame EK100 labels from segments; lengths from `num_steps` or the last segment end."""
    by_video: dict[str, list[ek100.EK100Segment]] = {}
    for s in segments:
        by_video.setdefault(s.video_id, []).append(s)
    labels, positives = {}, {}
    for vid, segs in by_video.items():
        n = num_steps[vid] if num_steps else max(ek100.step_range(s, fps)[1] for s in segs) + 1
        labels[vid] = ek100.frame_labels(segs, n, fps)
        positives[vid] = ek100.frame_positives(segs, n, fps)
    return OADGroundTruth(fps, labels, {"action": len(actions) + 1, "verb": num_verbs + 1, "noun": num_nouns + 1},
                          extendable=num_steps is None, actions=actions, class_names=["background"] + list(names or []),
                          positives=positives)


def find_data_info(root: Path, explicit: str | Path | None) -> Path:
    """`data_info.json`: `explicit`, else in `root`, else in `root`'s parent."""
    for cand in ([Path(explicit)] if explicit else [root / "data_info.json", root.parent / "data_info.json"]):
        if cand.is_file():
            return cand
    raise DataError("data_info.json not found", where=str(explicit or root),
                    hint="LSTR keeps data/data_info.json beside data/THUMOS; pass data_info: PATH")


def read_data_info(path: Path, name: str) -> dict[str, Any]:
    """The entry `name` (e.g. `THUMOS`) of an LSTR `data_info.json`."""
    info = read_json(path, "data_info.json", dict, "{dataset name: {'class_names', 'num_classes', 'ignore_index', 'fps', ...}}")
    if name not in info:
        raise DataError(f"no dataset {name!r} in data_info.json (has {sorted(info)})", where=str(path),
                        hint="set dataset_name to one of its keys")
    entry = info[name]
    for key in ("class_names", "num_classes", "ignore_index", "fps"):
        if key not in entry:
            raise DataError(f"entry {name!r} lacks {key!r}", where=str(path))
    return entry


def frame_labels(target: np.ndarray, ignore_index: int | None) -> np.ndarray:
    """`target [T, C]` multi-hot -> `[T]` labels (argmax; `IGNORED` where `ignore_index` is set)."""
    labels = np.argmax(target, axis=1).astype(np.int64)
    if ignore_index is not None and 0 <= ignore_index < target.shape[1]:
        labels[target[:, ignore_index] > 0] = IGNORED
    return labels


def positives(target: np.ndarray, ignore_index: int | None) -> np.ndarray:
    """`target [T, C]` multi-hot -> its positives `(frame, class)` `[P, 2]`, background (column 0)
    and the `ignore_index` column left out (a frame of two overlapping actions is a positive of both)."""
    hot = np.asarray(target) > 0
    hot[:, 0] = False
    if ignore_index is not None and 0 <= ignore_index < hot.shape[1]:
        hot[:, ignore_index] = False
    return np.argwhere(hot).astype(np.int64)


def load_target(path: Path, num_classes: int) -> np.ndarray:
    """One `target_perframe` file `[T, C]`, checked."""
    if not path.is_file():
        raise DataError("per-frame target file not found", where=str(path))
    try:
        target = np.load(path, allow_pickle=False)
    except Exception as e:
        raise DataError(f"cannot read it ({type(e).__name__}: {e})", where=str(path)) from e
    if target.ndim != 2 or target.shape[1] != num_classes:
        raise DataError(f"expected [T, {num_classes}] per-frame targets, got {list(target.shape)}", where=str(path))
    if not np.isfinite(target).all():
        raise DataError("non-finite per-frame target", where=str(path))
    return target


def lstr_ground_truth(root: Path, data_info: str | Path | None, dataset_name: str | None, session_set: str,
                      fps: float) -> OADGroundTruth:
    """An LSTR folder -> `OADGroundTruth` for the videos of `session_set`."""
    name = dataset_name or root.name
    entry = read_data_info(find_data_info(root, data_info), name)
    videos = entry.get(session_set) or sorted(p.stem for p in (root / "target_perframe").glob("*.npy"))
    ignore = entry["ignore_index"] if entry["ignore_index"] > 0 else None
    labels, pos = {}, {}
    for v in videos:
        target = load_target(root / "target_perframe" / f"{v}.npy", entry["num_classes"])
        labels[v], pos[v] = {"action": frame_labels(target, ignore)}, positives(target, ignore)
    return OADGroundTruth(float(entry["fps"]), labels, {"action": int(entry["num_classes"])}, extendable=False,
                          class_names=list(entry["class_names"]), positives=pos)


def write_npz(path: Path, arrays: Mapping[str, np.ndarray], level: int = 1) -> None:
    """A `numpy.load`-able `.npz` deflated at zlib `level` (`np.savez_compressed` uses 6: 3x slower,
    barely smaller on float16 scores), written to a temporary name and renamed."""
    tmp = path.with_name(path.name + ".tmp")
    with os_errors(path, "write the score file"):
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=level) as zf:
            for name, arr in arrays.items():
                with zf.open(f"{name}.npy", "w", force_zip64=True) as f:
                    np.lib.format.write_array(f, np.ascontiguousarray(arr), allow_pickle=False)
        os.replace(tmp, path)


class ScoreWriter:
    """Writes OAD head entries `{video_id, first_step, num_steps?, fps, action [L, C], verb?, noun?}`.

    Args:
        path: the folder (`compact=True`) or the `.json` file to write.
        fps: frame grid, used when no entry carries `fps`.
        compact: float16 `.npz` folder (True) or the JSON form (False).

    `write` may be called with any number of entries; `close` writes what is
    left (videos whose `num_steps` is unknown are completed there) and returns the
    scores as an `OADScores` reading the written files.
    """

    def __init__(self, path: str | Path, fps: float = 4.0, compact: bool = True) -> None:
        self.path, self.fps, self.compact = Path(path), float(fps), bool(compact)
        self._dtype = np.float16 if self.compact else np.float32  # the JSON form keeps the head's precision
        self.tmp = self.path.with_name(self.path.name + f".partial-{os.getpid()}")  # the compact folder until close()
        if compact and self.tmp.exists():
            shutil.rmtree(self.tmp)  # left by a crashed run of this process id
        self._open: dict[str, dict[str, Any]] = {}
        self._done: dict[str, dict[str, Any]] = {}
        self._json: ResultsWriter | None = None  # the JSON form, opened at the first video (its header holds the fps)
        if compact:
            with os_errors(self.tmp, "create the OAD score folder"):
                self.tmp.mkdir(parents=True)

    def write(self, entries: list[dict[str, Any]]) -> None:
        for e in entries:
            vid = str(e["video_id"])
            if vid in self._done:
                raise DataError(f"a window of video {vid} arrived after the video was complete", where="predictions",
                                hint="each step of a video must be predicted once")
            self.fps = float(e.get("fps", self.fps))
            state = self._open.setdefault(vid, {"parts": [], "covered": 0, "num_steps": None})
            part = {"first": int(e["first_step"])}
            part.update({k: np.asarray(e[k], dtype=self._dtype) for k in KEYS if e.get(k) is not None})
            state["parts"].append(part)
            state["covered"] += len(part["action"])
            if e.get("num_steps") is not None:
                state["num_steps"] = int(e["num_steps"])
            if state["num_steps"] is not None and state["covered"] >= state["num_steps"]:
                self._flush(vid)

    def _flush(self, vid: str) -> None:
        parts = sorted(self._open.pop(vid)["parts"], key=lambda p: p["first"])
        total = max(p["first"] + len(p["action"]) for p in parts)
        keys = [k for k in KEYS if all(k in p for p in parts)]
        mats = {}
        for k in keys:
            mat = np.zeros((total, parts[0][k].shape[1]), dtype=self._dtype)
            for p in parts:
                mat[p["first"] : p["first"] + len(p[k])] = p[k]
            mats[k] = mat
        if self.compact:
            name = f"{vid}.npz" if is_safe_video_id(vid) else f"unsafe-id-{len(self._done):06d}.npz"  # index.json maps it
            write_npz(self.tmp / name, mats)
            self._done[vid] = {"file": name, "num_steps": total, "keys": keys}
        else:
            self._json_writer().add(vid, {k: m.tolist() for k, m in mats.items()})
            self._done[vid] = {"num_steps": total, "keys": keys}

    def _json_writer(self) -> ResultsWriter:
        if self._json is None:
            self._json = ResultsWriter(self.path, {"version": "1.0", "challenge": CHALLENGE, "fps": self.fps})
        return self._json

    def close(self) -> "OADScores":
        for vid in list(self._open):
            self._flush(vid)
        if self.compact:
            index = {"version": "1.0", "challenge": CHALLENGE, "fps": self.fps, "format": "npz-float16", "videos": self._done}
            (self.tmp / INDEX).write_text(json.dumps(index, indent=1), encoding="utf-8")
            with os_errors(self.path, "write the OAD score folder"):
                replace_path(self.tmp, self.path)  # an earlier folder (the previous evaluation) is replaced whole
        else:
            self._json_writer().close()
        return open_scores(self.path)


class OADScores(Mapping):
    """Read-only `{video_id: {"action": [T, C], "verb"?: ..., "noun"?: ...}}` over either form.

    Compact folders load one video at a time (float16 arrays); the JSON form is parsed at once.
    """

    def __init__(self, fps: float, loader: Any, videos: dict[str, dict[str, Any]], path: Path | None = None) -> None:
        self.fps, self._load, self._videos, self.path = float(fps), loader, videos, path

    def __getitem__(self, vid: str) -> dict[str, np.ndarray]:
        if vid not in self._videos:
            raise KeyError(vid)
        return self._load(vid)

    def __iter__(self) -> Iterator[str]:
        return iter(self._videos)

    def __len__(self) -> int:
        return len(self._videos)

    def num_steps(self, vid: str) -> int:
        return int(self._videos[vid]["num_steps"])

    @classmethod
    def from_json(cls, obj: Mapping[str, Any], path: Path | None = None) -> "OADScores":
        """The JSON form's object (a dict as loaded, or as `OADMetric.format_predictions` makes it)."""
        results = obj.get("results")
        if not isinstance(results, Mapping):
            raise DataError(f"expected {SUBMISSION_SHAPE}", where=str(path or "predictions"))
        videos, places = {}, {}
        for vid, r in results.items():
            places[str(vid)] = f"{path or 'predictions'}: results[{str(vid)!r}]"
            entries.fields(r, places[str(vid)], ("action",), SCORES_FORM)
            videos[str(vid)] = {"num_steps": len(entries.items(r["action"], places[str(vid)], "action", SCORES_FORM))}

        def load(vid: str) -> dict[str, np.ndarray]:
            return {k: entries.finite_matrix(results[vid][k], f"{places[vid]}.{k}", SCORES_FORM, videos[vid]["num_steps"])
                    for k in KEYS if results[vid].get(k) is not None}

        return cls(_fps(obj, str(path or "predictions")), load, videos, path)


def _fps(header: Mapping[str, Any], where: str) -> float:
    """The header's `fps`: a positive number, NaN when absent (then not compared with the ground truth's)."""
    if header.get("fps") is None:
        return math.nan
    fps = entries.number(header["fps"], where, "fps", "frames per second of the score rows, e.g. 4.0")
    if fps <= 0:
        raise DataError(f"fps must be positive, got {fps}", where=where, hint="frames per second of the score rows, e.g. 4.0")
    return fps


def open_scores(path: str | Path) -> OADScores:
    """Either form from disk: a folder with `INDEX`, or the JSON file."""
    path = Path(path)
    if not path.is_dir():
        scores = OADScores.from_json(read_json(path, "prediction file", dict, SUBMISSION_SHAPE, require={"results": dict}), path)
        for vid in scores:  # every video checked now, whether or not the ground truth has it
            scores[vid]
        return scores
    index = read_json(path / INDEX, "score index", dict, SUBMISSION_SHAPE, require={"videos": dict})
    videos = index["videos"]
    form = "{'file': '<video_id>.npz', 'num_steps': T, 'keys': ['action', ...]}"
    for vid, v in videos.items():
        entries.fields(v, f"{path / INDEX}: videos[{vid!r}]", ("file", "num_steps"), form)
        entries.text(v["file"], f"{path / INDEX}: videos[{vid!r}]", "file", form)
        entries.index(v["num_steps"], f"{path / INDEX}: videos[{vid!r}]", "num_steps", form)

    def load(vid: str) -> dict[str, np.ndarray]:
        """One video's arrays, checked as they are read (`evaluate` reads every video)."""
        file = path / videos[vid]["file"]
        if not file.is_file() or file.parent != path:
            raise DataError(f"score file of video {vid} not found", where=str(file))
        try:
            with np.load(file, allow_pickle=False) as z:
                arrays = {k: z[k] for k in KEYS if k in z.files}
        except (OSError, ValueError, zipfile.BadZipFile) as e:
            raise DataError(f"cannot read it ({type(e).__name__}: {e})", where=str(file)) from None
        if "action" not in arrays:
            raise DataError("no 'action' array", where=str(file), hint=SCORES_FORM)
        return {k: entries.finite_matrix(a, f"{file}: {k}", SCORES_FORM, int(videos[vid]["num_steps"])) for k, a in arrays.items()}

    return OADScores(_fps(index, str(path / INDEX)), load, videos, path)


__all__ = ["IGNORED", "OADGroundTruth", "ek100_ground_truth", "find_data_info", "read_data_info", "frame_labels", "positives",
           "load_target", "lstr_ground_truth", "KEYS", "INDEX", "SUBMISSION_SHAPE", "write_npz", "ScoreWriter", "OADScores",
           "open_scores"]

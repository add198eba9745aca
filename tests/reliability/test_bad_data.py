"""Issue "Reliability" 2: bad data fails loudly (``on_error: raise``) or is dropped and counted
(``on_error: skip``), never a silently wrong sample.

Every task dataset of the examples is built on its demo data (the benchmark's real layout);
one video's ``features/<video_id>.npy`` is then damaged in six ways. ``raise`` must give a
:class:`DataError` naming the file; ``skip`` must drop exactly that video's samples, list it
in the dataset's ``skipped`` report, and leave every other sample readable.
Annotation faults (start after end, beyond the video, unknown class, unsafe video id) are
written into the official annotation files of the datasets whose format is JSON.
"""
from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from mutations import ROOT
from videollm_core.config import load_config
from videollm_core.errors import DataError, UserError


def _dataset_configs() -> dict[str, dict]:
    out = {}
    for path in sorted((ROOT / "examples").glob("*.yaml")):
        cfg = load_config(path)
        if "tasks" not in cfg:  # the multi-task example reads the same dataset types (at other widths)
            out.setdefault(cfg["data"]["train"]["type"], cfg["data"]["train"])
    return out


DATASETS = _dataset_configs()
CORRUPTIONS = ("missing", "truncated", "not_npy", "pickled_objects", "nan", "inf", "wrong_dim")


def build(dcfg: dict, on_error: str):
    """Build the dataset and read every sample (features may load lazily)."""
    from videollm_core.plugins import DATASETS as REG

    ds = REG.build(dcfg, where="data.train", default_args={"feature_dim": 32, "on_error": on_error})
    return ds, [ds[i] for i in range(len(ds))]


@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
    """``{type: (demo cache root, number of samples, video ids)}`` from undamaged demo data."""
    import os

    root = tmp_path_factory.mktemp("pristine_cache")
    old = os.environ.get("VIDEOLLM_CACHE")
    os.environ["VIDEOLLM_CACHE"] = str(root)
    try:
        out = {}
        for name, dcfg in DATASETS.items():
            ds, items = build(dcfg, "raise")
            assert not ds.skipped
            out[name] = (len(ds), [s["meta"]["video_id"] for s in items])
    finally:
        if old is None:
            os.environ.pop("VIDEOLLM_CACHE")
        else:
            os.environ["VIDEOLLM_CACHE"] = old
    return root, out


def _private_copy(pristine, tmp_path, monkeypatch) -> Path:
    root = tmp_path / "cache"
    shutil.copytree(pristine[0], root)
    monkeypatch.setenv("VIDEOLLM_CACHE", str(root))
    return root


def _feature_file(root: Path, video_id: str) -> Path:
    hits = sorted(root.rglob(f"features/{video_id}.npy"))
    assert len(hits) >= 1, f"no features/{video_id}.npy under {root}"
    return hits[0]


def damage(path: Path, how: str) -> None:
    arr = np.load(path)
    if how == "missing":
        path.unlink()
    elif how == "truncated":
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])
    elif how == "not_npy":
        path.write_bytes(b"this is not a numpy file\n" * 4)
    elif how == "pickled_objects":
        np.save(path, np.array([{"a": 1}] * 3, dtype=object), allow_pickle=True)
    elif how in ("nan", "inf"):
        arr = arr.astype(np.float32).copy()
        arr[len(arr) // 2, 0] = np.nan if how == "nan" else np.inf
        np.save(path, arr)
    elif how == "wrong_dim":  # Df 32 -> 33, wherever the layout keeps it ([T, Df], or MS-TCN's [Df, T])
        shape = [n + 1 if n == 32 else n for n in arr.shape]
        assert shape != list(arr.shape)
        np.save(path, np.zeros(shape, dtype=np.float32))


def _names(error: UserError, path: Path) -> bool:
    return path.name in error.render() or path.stem in error.render()


@pytest.mark.parametrize("how", CORRUPTIONS)
@pytest.mark.parametrize("dataset", sorted(DATASETS))
def test_damaged_features(dataset, how, pristine, tmp_path, monkeypatch):
    root = _private_copy(pristine, tmp_path, monkeypatch)
    total, videos = pristine[1][dataset]
    victim = videos[0]
    path = _feature_file(root, victim)
    damage(path, how)
    with pytest.raises(DataError) as e:
        build(DATASETS[dataset], "raise")
    assert _names(e.value, path), e.value.render()
    ds, items = build(DATASETS[dataset], "skip")
    kept = [s["meta"]["video_id"] for s in items]
    assert victim not in kept
    assert len(ds) == total - videos.count(victim), (len(ds), total, videos.count(victim))
    assert sorted(kept) == sorted(v for v in videos if v != victim)
    assert len(ds.skipped) >= 1 and victim in str(ds.skipped), ds.skipped
    for s in items:  # what is kept is intact
        assert np.isfinite(np.asarray(s["features"])).all() and np.asarray(s["features"]).shape[1] == 32


# -- annotation faults ---------------------------------------------------------------------
BAD_START, BAD_END = 33.3125, 3.0625  # distinctive numbers, searched for in what the dataset keeps
UNSAFE_ID = "../../etc/passwd"


def _edit_json(path: Path, edit) -> None:
    data = json.loads(path.read_text())
    edit(data)
    path.write_text(json.dumps(data))


def _edit_jsonl(path: Path, video: str, edit) -> None:
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    edit(next(r for r in rows if r["vid"] == video))
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def _dense_caption(root: Path, video: str, fault: str) -> Path:
    path = next(root.rglob("train.json"))

    def edit(data):
        if fault == "unsafe_id":
            data[UNSAFE_ID] = data.pop(video)
        else:
            seg = [BAD_START, BAD_END] if fault == "start_after_end" else [data[video]["duration"] + 50.0, data[video]["duration"] + 60.0]
            data[video]["timestamps"][0] = seg
    _edit_json(path, edit)
    return path


def _moment_query(root: Path, video: str, fault: str) -> Path:
    path = next(root.rglob("annotations.json"))

    def edit(data):
        db = data["database"]
        if fault == "unsafe_id":
            db[UNSAFE_ID] = db.pop(video)
            return
        ann = db[video]["annotations"][0]
        if fault == "unknown_class":
            ann["label"], ann["label_id"] = "NoSuchClass", 999
        else:
            ann["segment"] = [BAD_START, BAD_END] if fault == "start_after_end" else [db[video]["duration"] + 50.0, db[video]["duration"] + 60.0]
    _edit_json(path, edit)
    return path


def _qvhighlights(root: Path, video: str, fault: str) -> Path:
    path = next(root.rglob("highlight_train_release.jsonl"))

    def edit(row):
        if fault == "unsafe_id":
            row["vid"] = UNSAFE_ID
        else:
            row["relevant_windows"][0] = [BAD_START, BAD_END] if fault == "start_after_end" else [row["duration"] + 50, row["duration"] + 60]
    _edit_jsonl(path, video, edit)
    return path


def _breakfast(root: Path, video: str, fault: str) -> Path:
    path = next(root.rglob(f"groundTruth/{video}.txt"))
    lines = path.read_text().splitlines()
    lines[len(lines) // 2] = "NoSuchClass"
    path.write_text("\n".join(lines) + "\n")
    return path


ANNOTATION_FAULTS = {
    "ActivityNetCaptionsDataset": (_dense_caption, ("start_after_end", "beyond_video", "unsafe_id")),
    "ActivityNetDetectionDataset": (_moment_query, ("start_after_end", "beyond_video", "unsafe_id")),
    "BreakfastDataset": (_breakfast, ("unknown_class",)),
    "QVHighlightsDataset": (_qvhighlights, ("start_after_end", "beyond_video", "unsafe_id")),
}
ANNOTATION_CASES = [(d, f) for d, (_, faults) in ANNOTATION_FAULTS.items() for f in faults]


@pytest.mark.parametrize("dataset,fault", ANNOTATION_CASES, ids=[f"{d}-{f}" for d, f in ANNOTATION_CASES])
def test_bad_annotation_rows(dataset, fault, pristine, tmp_path, monkeypatch):
    root = _private_copy(pristine, tmp_path, monkeypatch)
    total, videos = pristine[1][dataset]
    edit, _ = ANNOTATION_FAULTS[dataset]
    path = edit(root, videos[0], fault)
    marker = UNSAFE_ID if fault == "unsafe_id" else videos[0]
    # real ActivityNet Captions segments run past the end; fix_segments (the default) repairs them: off here
    dcfg = {**DATASETS[dataset], "fix_segments": False} if dataset == "ActivityNetCaptionsDataset" else DATASETS[dataset]
    with pytest.raises(DataError) as e:
        build(dcfg, "raise")
    text = e.value.render()
    assert path.name in text, text
    assert marker in text or re.search(rf"{re.escape(path.name)}:\d+", text), f"the row is not named: {text}"
    ds, items = build(dcfg, "skip")
    kept = repr(ds.ground_truth()) + repr([s.get("targets") for s in items])
    assert str(BAD_START) not in kept and UNSAFE_ID not in kept and "NoSuchClass" not in kept
    assert len(ds.skipped) >= 1 and (marker in str(ds.skipped) or path.name in str(ds.skipped)), ds.skipped
    assert len(ds) <= total and not (root.parent / "etc").exists()

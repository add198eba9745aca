"""Every task's demo data, converted into other released layouts, trains exactly as from its .npy files.

Each example config trains 5 steps from its demo data (``features/<id>.npy``), then again with
the same features rewritten as Moment-DETR ``.npz``, as a TSP-style HDF5 file and (EK100
tasks) as a RULSTM LMDB of per-frame vectors, given as the dataset's ``features:`` entry;
the training losses must be the same. The ``.npy`` folder is moved away before those runs,
so a dataset that ignored its ``features:`` entry would fail.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from feature_layouts import write_npz, write_rulstm_lmdb, write_tsp_hdf5
from videollm_core.config import load_config
from videollm_core.engine.runner import Runner
from videollm_plugins.features.npy import NpyFeatures

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
#: example -> formats besides npy (the EK100 tasks also from the RULSTM LMDB, at their 4 steps/s).
TASKS = {
    "action_segmentation": ("npz", "h5"),
    "anticipation": ("npz", "lmdb"),
    "dense_caption": ("npz", "h5"),
    "lta": ("npz", "h5"),
    "moment_query": ("npz", "h5"),
    "nlq": ("npz", "h5"),
    "oad": ("h5", "lmdb"),
    "online_caption": ("npz", "h5"),
    "qvhighlights": ("npz", "h5"),
}


def _config(name: str, work: Path) -> dict:
    cfg = load_config(EXAMPLES / f"{name}.yaml", {"work_dir": str(work), "train.max_steps": 5, "train.eval_every": 0,
                                                    "train.log_every": 1, "train.save_every": 0, "data.batch_size": 2})
    cfg["data"].pop("val", None)
    cfg["data"].pop("test", None)
    return cfg


def _losses(cfg: dict) -> list[float]:
    Runner(cfg).train()
    lines = [json.loads(line) for line in (Path(cfg["work_dir"]) / "metrics.jsonl").read_text().splitlines() if line.strip()]
    return [r["loss"] for r in lines if "loss" in r]


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(TASKS))
def test_other_layouts_train_with_the_same_losses(name, tmp_path, monkeypatch):
    monkeypatch.setenv("VIDEOLLM_CACHE", str(tmp_path / "cache"))
    baseline_cfg = _config(name, tmp_path / "npy")
    baseline = _losses(baseline_cfg)
    assert len(baseline) == 5 and all(np.isfinite(baseline))
    train = baseline_cfg["data"]["train"]
    folders = [p for p in (tmp_path / "cache").rglob("features") if p.is_dir() and any(p.glob("*.npy"))]
    assert len(folders) == 1, folders  # the demo data's features/<id>.npy
    reader = NpyFeatures(str(folders[0]), channels_first=bool(train.get("channels_first", name == "action_segmentation")))
    arrays = {vid: np.array(reader.read(vid)) for vid in reader.video_ids()}
    sources = {
        "npz": lambda: {"type": "NpzFeatures", "dir": str(write_npz(tmp_path / "npz", arrays)), "key": "features"},
        "h5": lambda: {"type": "HDF5Features", "path": str(write_tsp_hdf5(tmp_path / "features.h5", arrays))},
        "lmdb": lambda: {"type": "LMDBFeatures", "path": str(write_rulstm_lmdb(tmp_path / "rgb", arrays, float(train.get("fps", 4.0))))},
    }
    folders[0].rename(folders[0].with_name("features_moved_away"))  # from here on, reading an .npy would fail
    for fmt in TASKS[name]:
        cfg = _config(name, tmp_path / fmt)
        cfg["data"]["train"]["features"] = sources[fmt]()
        assert _losses(cfg) == pytest.approx(baseline, rel=1e-6, abs=1e-7), fmt

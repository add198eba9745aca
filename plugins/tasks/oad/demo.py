"""Demo data of online action detection: a THUMOS-style tree here, the EK100 tree shared with
anticipation (`ek100_tree`, written by `common.ek100_demo_data`).

THUMOS: deterministic demo data in the LSTR layout (see `formats`). `thumos_tree`
writes `data_info.json` (key `THUMOS`: Background, `num_actions` classes,
`Ambiguous` last = `ignore_index`, 4 fps, train/test session sets),
`THUMOS/target_perframe/<video>.npy` one-hot `[T, C]` and
`THUMOS/rgb_kinetics_resnet50/<video>.npy` `[T, Df]` features = class prototype +
Gaussian noise (ambiguous frames: a blend of their neighbours' prototypes).
"""
from __future__ import annotations

import json
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from ..common.demo_params import demo_params as fill_params
from ..common.ek100_demo_data import ensure_tree as ek100_tree

DEFAULTS: dict[str, Any] = {"num_videos": 12, "seed": 0, "feature_dim": 32, "num_actions": 6, "frames": 160, "noise": 0.5}
NAMES = ["BaseballPitch", "BasketballDunk", "Billiards", "CleanAndJerk", "CliffDiving", "CricketBowling", "Diving", "GolfSwing"]


def demo_params(demo: dict[str, Any] | None, feature_dim: int | None) -> dict[str, Any]:
    """Fill `DEFAULTS`; `feature_dim` (the encoder's `in_dim`) sets `Df` unless `demo` does."""
    return fill_params(DEFAULTS, demo, feature_dim, {"num_actions": len(NAMES)})


def thumos_tree(demo: dict[str, Any] | None, feature_dim: int | None) -> Path:
    """The THUMOS demo folder (`.../THUMOS`, beside its `data_info.json`) of `demo`'s parameters, made once."""
    from videollm_plugins.demo import ensure_demo_data

    params = demo_params(demo, feature_dim)
    return ensure_demo_data("oad_thumos", partial(generate, params=params), params) / "THUMOS"


def generate(out_dir: Path, params: dict[str, Any]) -> None:
    """Write the THUMOS demo tree for `params` (see `DEFAULTS`) into `out_dir`."""
    rng = np.random.default_rng(int(params["seed"]))
    na, dim, frames = int(params["num_actions"]), int(params["feature_dim"]), int(params["frames"])
    classes = ["Background"] + NAMES[:na] + ["Ambiguous"]
    c = len(classes)
    protos = rng.normal(size=(c, dim)).astype(np.float32) * 1.5
    root = Path(out_dir) / "THUMOS"
    (root / "target_perframe").mkdir(parents=True)
    (root / "rgb_kinetics_resnet50").mkdir(parents=True)
    n = int(params["num_videos"])
    names = [f"video_validation_{k:07d}" if k < n - n // 3 else f"video_test_{k:07d}" for k in range(n)]
    for name in names:
        label = np.zeros(frames, dtype=np.int64)
        t = int(rng.integers(2, 10))
        while t < frames - 4:
            length = int(rng.integers(6, 20))
            label[t : t + length] = int(rng.integers(1, na + 1))
            if rng.random() < 0.3:
                label[t + length : t + length + 2] = c - 1  # a short Ambiguous stretch after the action
            t += length + int(rng.integers(4, 14))
        target = np.eye(c, dtype=np.float32)[label]
        feats = protos[label] + rng.normal(scale=float(params["noise"]), size=(frames, dim)).astype(np.float32)
        np.save(root / "target_perframe" / f"{name}.npy", target)
        np.save(root / "rgb_kinetics_resnet50" / f"{name}.npy", feats.astype(np.float32))
    info = {"THUMOS": {"data_root": "data/THUMOS", "class_names": classes, "num_classes": c, "ignore_index": c - 1,
                       "metrics": "AP", "fps": 4,
                       "train_session_set": [v for v in names if "validation" in v],
                       "test_session_set": [v for v in names if "test" in v]}}
    (Path(out_dir) / "data_info.json").write_text(json.dumps(info, indent=1), encoding="utf-8")


__all__ = ["DEFAULTS", "demo_params", "generate", "thumos_tree", "ek100_tree"]

"""Deterministic Breakfast-style demo data in the MS-TCN layout (see :mod:`.layout`).

Videos follow a small grammar of breakfast activities (each a fixed order of steps
with optional ones, framed by ``SIL``), with step lengths drawn at random. Frame
features are a class prototype plus Gaussian noise, so the frame labels are
learnable from the features while segment boundaries and lengths vary. File names,
mapping (the real 48 Breakfast classes), splits and the ``[Df, F]`` channels-first
feature files are those of MS-TCN's ``data/breakfast``.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..common.demo_params import demo_params as fill_params
from . import layout

#: the standard MS-TCN Breakfast mapping (0-indexed).
BREAKFAST_CLASSES: tuple[str, ...] = (
    "SIL pour_cereals pour_milk stir_cereals take_bowl pour_coffee take_cup spoon_sugar stir_coffee pour_sugar "
    "pour_oil crack_egg add_saltnpepper fry_egg take_plate put_egg2plate take_eggs butter_pan take_knife cut_orange "
    "squeeze_orange pour_juice take_glass take_squeezer spoon_powder stir_milk spoon_flour stir_dough pour_dough2pan "
    "fry_pancake put_pancake2plate pour_flour cut_fruit put_fruit2bowl peel_fruit stir_fruit cut_bun smear_butter "
    "take_topping put_toppingOnTop put_bunTogether take_butter stir_egg pour_egg2pan stirfry_egg add_teabag pour_water stir_tea"
).split()

#: activity -> ordered steps; a trailing "?" marks an optional step.
GRAMMAR: dict[str, tuple[str, ...]] = {
    "cereals": ("take_bowl", "pour_cereals", "pour_milk", "stir_cereals?"),
    "coffee": ("take_cup", "pour_coffee", "pour_milk?", "spoon_sugar?", "stir_coffee"),
    "tea": ("take_cup", "add_teabag", "pour_water", "spoon_sugar?", "stir_tea"),
    "juice": ("take_knife", "cut_orange", "squeeze_orange", "take_glass", "pour_juice"),
}

DEFAULTS: dict[str, Any] = {
    "num_videos": 24,  # split 1: the first quarter is test, the rest train
    "seed": 0,
    "feature_dim": 64,
    "fps": 15.0,
    "step_seconds": [2.0, 5.0],  # length range of one step
    "sil_seconds": [0.5, 2.0],
    "noise": 1.0,  # std of the Gaussian noise around the unit-norm*3 class prototypes
}


def demo_params(demo: dict[str, Any] | None, feature_dim: int | None) -> dict[str, Any]:
    """Complete a config's ``demo:`` dict with :data:`DEFAULTS`."""
    return fill_params(DEFAULTS, demo, feature_dim)


def generate(out: Path, params: dict[str, Any]) -> None:
    """Write ``mapping.txt``, ``groundTruth/``, ``splits/{train,test}.split1.bundle``, ``features/`` into ``out``."""
    rng = np.random.default_rng(int(params["seed"]))
    fps, dim = float(params["fps"]), int(params["feature_dim"])
    (out / "groundTruth").mkdir(parents=True)
    (out / "features").mkdir()
    (out / "splits").mkdir()
    (out / "mapping.txt").write_text("".join(f"{i} {n}\n" for i, n in enumerate(BREAKFAST_CLASSES)), encoding="utf-8")
    protos = rng.normal(size=(len(BREAKFAST_CLASSES), dim))
    protos *= 3.0 / np.linalg.norm(protos, axis=1, keepdims=True)
    activities = sorted(GRAMMAR)
    names: list[str] = []
    for i in range(int(params["num_videos"])):
        activity = activities[i % len(activities)]
        person = 3 + i  # P03.. like Breakfast; split 1 tests P03-P15
        name = f"P{person:02d}_cam01_P{person:02d}_{activity}.txt"
        steps = [s.rstrip("?") for s in GRAMMAR[activity] if not s.endswith("?") or rng.random() < 0.5]
        labels: list[str] = []
        for step in ["SIL", *steps, "SIL"]:
            lo, hi = params["sil_seconds"] if step == "SIL" else params["step_seconds"]
            labels += [step] * max(1, int(round(rng.uniform(lo, hi) * fps)))
        ids = np.array([BREAKFAST_CLASSES.index(x) for x in labels])
        feats = protos[ids] + float(params["noise"]) * rng.normal(size=(len(ids), dim))
        layout.write_frame_labels(labels, out / "groundTruth" / name)
        np.save(out / "features" / f"{layout.video_id_of(name)}.npy", feats.T.astype(np.float32))  # [Df, F]
        names.append(name)
    n_test = max(1, len(names) // 4)
    (out / "splits" / "test.split1.bundle").write_text("".join(f"{n}\n" for n in names[:n_test]), encoding="utf-8")
    (out / "splits" / "train.split1.bundle").write_text("".join(f"{n}\n" for n in names[n_test:]), encoding="utf-8")

"""Deterministic Breakfast-style demo data in the MS-TCN layout (see `formats`),
where a segment's label depends on what came before it.

Each video is a morning of `activities_per_video` different breakfast activities of
`GRAMMAR` in a row (each ordered steps, a trailing `?` marking an optional one),
framed by `SIL`; step and silence lengths are drawn at random.

Signal, and why a frame alone does not tell its label. Every step has a *visual
primitive* (`PRIMITIVE`): the first step of each activity (`take_bowl`,
`take_cup`, `add_teabag`, `take_glass`, `cut_orange`, `crack_egg`) and a few
others have a prototype of their own, but the generic motions are shared across
activities: every `pour_*` step looks like the one `pour` prototype, every
`stir_*` like `stir`, every `spoon_*` like `spoon`. A frame's feature is its
primitive's prototype (unit norm x 3) plus Gaussian noise (std `noise`). So a
`pour` frame is `pour_cereals`, `pour_coffee`, `pour_water`, `pour_milk`,
`pour_juice` or `pour_dough2pan` depending only on the activity, and the activity is
visible only in its first step, seconds earlier (every `pour`/`stir`/`spoon` step
comes after it). A per-frame classifier can at best give each shared primitive its most
frequent label; a model reading the video in order can carry the activity forward from
its first step. Since a video holds several activities, *which* of the activities seen so
far a step belongs to is a matter of order (the latest first step before it): knowing
the set of activities in the video, in any order, leaves the label a guess among them.
No two consecutive steps share a primitive, so boundaries stay visible.
File names, mapping (the real 48 Breakfast classes), splits and the `[Df, F]`
channels-first feature files are those of MS-TCN's `data/breakfast`.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..common.demo_params import demo_params as fill_params
from . import formats

#: the standard MS-TCN Breakfast mapping (0-indexed).
BREAKFAST_CLASSES: tuple[str, ...] = (
    "SIL pour_cereals pour_milk stir_cereals take_bowl pour_coffee take_cup spoon_sugar stir_coffee pour_sugar "
    "pour_oil crack_egg add_saltnpepper fry_egg take_plate put_egg2plate take_eggs butter_pan take_knife cut_orange "
    "squeeze_orange pour_juice take_glass take_squeezer spoon_powder stir_milk spoon_flour stir_dough pour_dough2pan "
    "fry_pancake put_pancake2plate pour_flour cut_fruit put_fruit2bowl peel_fruit stir_fruit cut_bun smear_butter "
    "take_topping put_toppingOnTop put_bunTogether take_butter stir_egg pour_egg2pan stirfry_egg add_teabag pour_water stir_tea"
).split()

#: activity -> ordered steps; a trailing "?" marks an optional step. The first step names the activity.
GRAMMAR: dict[str, tuple[str, ...]] = {
    "cereals": ("take_bowl", "pour_cereals", "stir_cereals?"),
    "coffee": ("take_cup", "pour_coffee", "spoon_sugar?", "stir_coffee"),
    "tea": ("add_teabag", "pour_water", "spoon_sugar?", "stir_tea"),
    "milk": ("take_glass", "spoon_powder", "pour_milk", "stir_milk"),
    "juice": ("cut_orange", "squeeze_orange", "pour_juice"),
    "pancake": ("crack_egg", "spoon_flour", "stir_dough", "pour_dough2pan", "fry_pancake"),
}

#: step -> visual primitive (steps not listed look like themselves).
PRIMITIVE: dict[str, str] = {
    **{s: "pour" for s in ("pour_cereals", "pour_coffee", "pour_water", "pour_milk", "pour_juice", "pour_dough2pan")},
    **{s: "stir" for s in ("stir_cereals", "stir_coffee", "stir_tea", "stir_milk", "stir_dough")},
    **{s: "spoon" for s in ("spoon_sugar", "spoon_powder", "spoon_flour")},
}

DEFAULTS: dict[str, Any] = {
    "num_videos": 36,  # split 1: the first quarter is test, the rest train
    "seed": 0,
    "feature_dim": 64,
    "fps": 15.0,
    "step_seconds": [2.0, 5.0],  # length range of one step
    "sil_seconds": [0.5, 2.0],
    "noise": 1.0,  # std of the Gaussian noise around the unit-norm*3 primitive prototypes
    "activities_per_video": [2, 3],  # range (inclusive) of the number of activities in a video
}


def demo_params(demo: dict[str, Any] | None, feature_dim: int | None) -> dict[str, Any]:
    """Complete a config's `demo:` dict with `DEFAULTS`."""
    return fill_params(DEFAULTS, demo, feature_dim)


def primitives() -> list[str]:
    """The visual primitives, in a fixed order (one prototype each)."""
    return sorted({PRIMITIVE.get(s.rstrip("?"), s.rstrip("?")) for steps in GRAMMAR.values() for s in ("SIL", *steps)})


def generate(out: Path, params: dict[str, Any]) -> None:
    """Write `mapping.txt`, `groundTruth/`, `splits/{train,test}.split1.bundle`, `features/` into `out`."""
    rng = np.random.default_rng(int(params["seed"]))
    fps, dim = float(params["fps"]), int(params["feature_dim"])
    (out / "groundTruth").mkdir(parents=True)
    (out / "features").mkdir()
    (out / "splits").mkdir()
    (out / "mapping.txt").write_text("".join(f"{i} {n}\n" for i, n in enumerate(BREAKFAST_CLASSES)), encoding="utf-8")
    prims = primitives()
    protos = rng.normal(size=(len(prims), dim))
    protos *= 3.0 / np.linalg.norm(protos, axis=1, keepdims=True)
    activities = sorted(GRAMMAR)
    names: list[str] = []
    for i in range(int(params["num_videos"])):
        fewest, most = (int(n) for n in params["activities_per_video"])
        chosen = [activities[i % len(activities)]]  # every activity starts some videos of each split
        others = [a for a in activities if a != chosen[0]]
        chosen += [others[j] for j in rng.permutation(len(others))[: int(rng.integers(fewest, most + 1)) - 1]]
        person = 3 + i  # P03.. like Breakfast; split 1 tests P03-P15
        name = f"P{person:02d}_cam01_P{person:02d}_{'-'.join(chosen)}.txt"
        steps = [s.rstrip("?") for a in chosen for s in GRAMMAR[a] if not s.endswith("?") or rng.random() < 0.5]
        labels: list[str] = []
        for step in ["SIL", *steps, "SIL"]:
            lo, hi = params["sil_seconds"] if step == "SIL" else params["step_seconds"]
            labels += [step] * max(1, int(round(rng.uniform(lo, hi) * fps)))
        ids = np.array([prims.index(PRIMITIVE.get(x, x)) for x in labels])
        feats = protos[ids] + float(params["noise"]) * rng.normal(size=(len(ids), dim))
        formats.write_frame_labels(labels, out / "groundTruth" / name)
        np.save(out / "features" / f"{formats.video_id_of(name)}.npy", feats.T.astype(np.float32))  # [Df, F]
        names.append(name)
    n_test = max(1, len(names) // 4)
    (out / "splits" / "test.split1.bundle").write_text("".join(f"{n}\n" for n in names[:n_test]), encoding="utf-8")
    (out / "splits" / "train.split1.bundle").write_text("".join(f"{n}\n" for n in names[n_test:]), encoding="utf-8")

"""Deterministic ActivityNet-Captions-style demo data (`train.json`, `val_1.json`,
`val_2.json`, `features/<video_id>.npy`) whose captions need the whole video.

Each video prepares `ingredients_per_video` (default 1) different ingredients of
`OBJECTS` one after the other, each with a routine of `GRAMMAR` (ordered events, some
optional); events are separated by background gaps. Every event is captioned
`"a person <verb> the <ingredient>"`.

Signal, and why an event alone does not tell its caption. Every verb and every
ingredient has a feature prototype (unit norm x 3), and so does the background. Every
routine starts with `takes`: its steps carry the `takes` prototype *plus* the
ingredient's prototype. Every later event of the routine (`washes`, `peels`,
`chops`...) carries only its verb's prototype: its ingredient was shown only when it
was taken, seconds earlier. Every step gets Gaussian noise (std `noise`). So the verb
of a caption is in the event's own features, but the ingredient of every other event is
only in the context, and it is the one taken *last* before the event: a model that
captions an event from its own features alone (even with perfect boundaries) names the
ingredient of the `takes` events only and guesses the others (1 in 5); a model reading
the video in order can carry the ingredient forward. With several ingredients per video,
knowing which ones a video shows without their order still leaves a guess among them
(the default of one keeps the demo learnable by the small example model in 400 steps).

`val_2` annotates the same videos with jittered boundaries, as the second ActivityNet
reference set does; sentences after the first start with a space and one train segment
ends after the video, like the real files.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from ..common.demo_params import demo_params as fill_params

#: the ingredients; each routine names one in every caption and shows it only in its first event.
OBJECTS: tuple[str, ...] = ("tomato", "onion", "carrot", "potato", "pepper")
#: routines: ordered verbs; a trailing "?" marks an optional event. Every routine starts with "takes".
GRAMMAR: tuple[tuple[str, ...], ...] = (
    ("takes", "washes", "chops", "fries?"),
    ("takes", "peels", "chops", "boils"),
    ("takes", "washes?", "peels", "fries"),
    ("takes", "chops", "boils?"),
)
#: the verbs, in prototype order.
VERBS: tuple[str, ...] = ("takes", "washes", "peels", "chops", "fries", "boils")
#: the verb whose event shows the object.
FIRST_VERB = "takes"

DEFAULTS: dict[str, Any] = {
    "num_videos": 48,  # train videos
    "num_val": 8,  # videos of val_1 / val_2
    "seed": 0,
    "feature_dim": 64,
    "seconds_per_step": 1.0,  # one feature per second (a clip feature every 1 s)
    "event_seconds": [5.0, 10.0],
    "gap_seconds": [1.0, 5.0],
    "noise": 1.0,
    "ingredients_per_video": 1,
}


def demo_params(demo: dict[str, Any] | None, feature_dim: int | None) -> dict[str, Any]:
    """Complete a config's `demo:` dict with `DEFAULTS` (`feature_dim` from the encoder)."""
    return fill_params(DEFAULTS, demo, feature_dim)


def caption(verb: str, obj: str) -> str:
    """The caption of an event: `"a person <verb> the <object>"`."""
    return f"a person {verb} the {obj}"


def vocabulary() -> list[str]:
    """Every word of the demo captions (for a word-level tokenizer)."""
    return sorted({w for v in VERBS for o in OBJECTS for w in caption(v, o).split()})


def _video(rng: np.random.Generator, params: dict[str, Any]) -> tuple[list[tuple[float, float, str, int]], float]:
    """Events `(start, end, verb, ingredient)` of one video and its duration."""
    ingredients = rng.permutation(len(OBJECTS))[: int(params["ingredients_per_video"])]
    t = float(rng.uniform(*params["gap_seconds"]))
    out = []
    for obj in ingredients:
        routine = GRAMMAR[int(rng.integers(len(GRAMMAR)))]
        for verb in [e.rstrip("?") for e in routine if not e.endswith("?") or rng.random() < 0.5]:
            length = float(rng.uniform(*params["event_seconds"]))
            out.append((round(t, 2), round(t + length, 2), verb, int(obj)))
            t += length + float(rng.uniform(*params["gap_seconds"]))
    return out, round(t, 2)


def generate(out: Path, params: dict[str, Any]) -> None:
    """Write the three reference files and the features into `out`."""
    rng = np.random.default_rng(int(params["seed"]))
    dim, step = int(params["feature_dim"]), float(params["seconds_per_step"])
    protos = rng.normal(size=(len(VERBS) + len(OBJECTS) + 1, dim))
    protos *= 3.0 / np.linalg.norm(protos, axis=1, keepdims=True)
    background = len(protos) - 1
    (out / "features").mkdir(parents=True)
    files: dict[str, dict[str, Any]] = {"train": {}, "val_1": {}, "val_2": {}}
    n_train, n_val = int(params["num_videos"]), int(params["num_val"])
    for i in range(n_train + n_val):
        vid = f"v_demo{i:04d}"
        events, duration = _video(rng, params)
        num_steps = int(np.ceil(duration / step))
        centres = (np.arange(num_steps) + 0.5) * step
        feats = np.tile(protos[background], (num_steps, 1))
        for s, e, verb, obj in events:
            inside = (centres >= s) & (centres < e)
            feats[inside] = protos[VERBS.index(verb)] + (protos[len(VERBS) + obj] if verb == FIRST_VERB else 0.0)
        feats += float(params["noise"]) * rng.normal(size=(num_steps, dim))
        np.save(out / "features" / f"{vid}.npy", feats.astype(np.float32))
        sentences = [caption(verb, OBJECTS[obj]).capitalize() + "." for _, _, verb, obj in events]
        sentences = [s if k == 0 else " " + s for k, s in enumerate(sentences)]  # like the real files
        stamps = [[s, e] for s, e, _, _ in events]
        if i < n_train:
            if i == 0:
                stamps[-1][1] = round(duration + 2.0, 2)  # a segment past the end, as in the real train.json
            files["train"][vid] = {"duration": duration, "timestamps": stamps, "sentences": sentences}
        else:
            files["val_1"][vid] = {"duration": duration, "timestamps": stamps, "sentences": sentences}
            jitter = [[round(max(0.0, s + rng.uniform(-1, 1)), 2), round(min(duration, e + rng.uniform(-1, 1)), 2)] for s, e in stamps]
            files["val_2"][vid] = {"duration": duration, "timestamps": jitter, "sentences": sentences}
    for name, data in files.items():
        (out / f"{name}.json").write_text(json.dumps(data), encoding="utf-8")

"""Deterministic ActivityNet-Captions-style demo data (``train.json``, ``val_1.json``,
``val_2.json``, ``features/<video_id>.npy``).

Each video is a kitchen routine drawn from a small grammar (an ordered list of events,
some optional), separated by background gaps. Every event class has a feature
prototype; a feature step inside an event is that prototype plus Gaussian noise,
background steps are noise around a background prototype. Captions name the event
("a person chops onions"), so a model that localises the prototypes and learns the
words captions correctly. ``val_2`` annotates the same videos with jittered boundaries,
as the second ActivityNet reference set does; sentences after the first start with a
space and one train segment ends after the video, like the real files.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from ..common.demo_params import demo_params as fill_params

#: event class -> caption.
EVENTS: dict[str, str] = {
    "wash": "a person washes the vegetables",
    "chop": "a person chops onions",
    "stir": "a person stirs the pot",
    "pour": "a person pours water into a glass",
    "fridge": "a person opens the fridge",
    "bread": "a person cuts the bread",
}
#: routines: ordered events; a trailing "?" marks an optional event.
GRAMMAR: tuple[tuple[str, ...], ...] = (
    ("fridge", "wash", "chop", "stir"),
    ("wash?", "chop", "stir", "pour"),
    ("fridge", "bread", "pour?"),
    ("bread", "chop?", "stir"),
)

DEFAULTS: dict[str, Any] = {
    "num_videos": 48,  # train videos
    "num_val": 8,  # videos of val_1 / val_2
    "seed": 0,
    "feature_dim": 64,
    "seconds_per_step": 1.0,  # one feature per second (a clip feature every 1 s)
    "event_seconds": [6.0, 14.0],
    "gap_seconds": [1.0, 5.0],
    "noise": 1.0,
}


def demo_params(demo: dict[str, Any] | None, feature_dim: int | None) -> dict[str, Any]:
    """Complete a config's ``demo:`` dict with :data:`DEFAULTS` (``feature_dim`` from the encoder)."""
    return fill_params(DEFAULTS, demo, feature_dim)


def vocabulary() -> list[str]:
    """Every word of the demo captions (for a word-level tokenizer)."""
    return sorted({w for caption in EVENTS.values() for w in caption.split()})


def _video(rng: np.random.Generator, params: dict[str, Any]) -> tuple[list[tuple[float, float, str]], float]:
    routine = GRAMMAR[int(rng.integers(len(GRAMMAR)))]
    events = [e.rstrip("?") for e in routine if not e.endswith("?") or rng.random() < 0.5]
    t = float(rng.uniform(*params["gap_seconds"]))
    out = []
    for e in events:
        length = float(rng.uniform(*params["event_seconds"]))
        out.append((round(t, 2), round(t + length, 2), e))
        t += length + float(rng.uniform(*params["gap_seconds"]))
    return out, round(t, 2)


def generate(out: Path, params: dict[str, Any]) -> None:
    """Write the three reference files and the features into ``out``."""
    rng = np.random.default_rng(int(params["seed"]))
    dim, step = int(params["feature_dim"]), float(params["seconds_per_step"])
    classes = sorted(EVENTS)
    protos = rng.normal(size=(len(classes) + 1, dim))
    protos *= 3.0 / np.linalg.norm(protos, axis=1, keepdims=True)  # last one: background
    (out / "features").mkdir(parents=True)
    files: dict[str, dict[str, Any]] = {"train": {}, "val_1": {}, "val_2": {}}
    n_train, n_val = int(params["num_videos"]), int(params["num_val"])
    for i in range(n_train + n_val):
        vid = f"v_demo{i:04d}"
        events, duration = _video(rng, params)
        num_steps = int(np.ceil(duration / step))
        centres = (np.arange(num_steps) + 0.5) * step
        ids = np.full(num_steps, len(classes))
        for s, e, name in events:
            ids[(centres >= s) & (centres < e)] = classes.index(name)
        feats = protos[ids] + float(params["noise"]) * rng.normal(size=(num_steps, dim))
        np.save(out / "features" / f"{vid}.npy", feats.astype(np.float32))
        sentences = [EVENTS[name][0].upper() + EVENTS[name][1:] + "." for _, _, name in events]
        sentences = [s if k == 0 else " " + s for k, s in enumerate(sentences)]  # like the real files
        stamps = [[s, e] for s, e, _ in events]
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

"""Deterministic natural-language-query demo data in the Ego4D NLQ layout.

Writes `nlq_train.json` / `nlq_val.json` (the Ego4D schema: videos -> clips ->
annotations -> language_queries, clip-relative seconds) and `features/<clip_uid>.npy`
(`[T, Df]` float32, one step per `feature_stride / fps` s).

Signal: every object of a small vocabulary has a feature prototype. A clip shows
`1 + distractors` different objects, each during its own window (`prototype + noise`),
background elsewhere; one query per shown object (`"where did i put the <object>?"`),
so the window can only be found by reading the query: a model that ignores it gives the
same windows to all queries of a clip, and one window overlaps at most one of the disjoint
events by IoU > 0.5, so its R@1,IoU=0.5 is at most `1 / (1 + distractors)`.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from ..common.demo_windows import plant_windows

OBJECTS = ("keys", "phone", "wallet", "knife", "cup", "scissors", "remote", "glasses")
TEMPLATES = ("where did i put the {}?", "where is the {}?")
#: every word of the demo queries, for a config's word-level tokenizer.
VOCABULARY = tuple(sorted({w for t in TEMPLATES for w in t.replace("?", " ").replace("{}", " ").split()} | set(OBJECTS) | {"?"}))

DEFAULTS: dict[str, Any] = {
    "num_videos": 48,  # clips; the first quarter is val
    "seed": 0,
    "feature_dim": 32,
    "num_objects": 6,
    "distractors": 2,
    "fps": 30.0,
    "feature_stride": 30,  # 1 s per feature step
    "duration": [24.0, 32.0],
    "window_seconds": [3.0, 7.0],
    "noise": 0.5,
}


def generate(out: Path, params: dict[str, Any]) -> None:
    """Write `features/`, `nlq_train.json` and `nlq_val.json` into `out`."""
    rng = np.random.default_rng(int(params["seed"]))
    objects = OBJECTS[: int(params["num_objects"])]
    dim, step = int(params["feature_dim"]), float(params["feature_stride"]) / float(params["fps"])
    protos = rng.normal(size=(len(objects) + 1, dim))
    protos *= 3.0 / np.linalg.norm(protos, axis=1, keepdims=True)
    (out / "features").mkdir(parents=True)
    splits: dict[str, list[dict[str, Any]]] = {"train": [], "val": []}
    n_val = max(1, int(params["num_videos"]) // 4)
    for v in range(int(params["num_videos"])):
        uid = f"{v:08x}-demo-clip"
        duration = float(np.round(rng.uniform(*params["duration"]), 2))
        shown = rng.choice(len(objects), size=1 + int(params["distractors"]), replace=False)
        windows = plant_windows(rng, duration, len(shown), params["window_seconds"])
        num_steps = int(np.ceil(duration / step))
        centres = (np.arange(num_steps) + 0.5) * step
        cls = np.full(num_steps, len(objects))
        for o, (s, e) in zip(shown, windows):
            cls[(centres >= s) & (centres < e)] = o
        np.save(out / "features" / f"{uid}.npy", (protos[cls] + float(params["noise"]) * rng.normal(size=(num_steps, dim))).astype(np.float32))
        start = 100.0 * v  # clips start inside their source video; queries use clip seconds
        queries = [
            {"query": TEMPLATES[int(rng.integers(len(TEMPLATES)))].format(objects[o]), "template": "Objects: Where is object X?",
             "clip_start_sec": s, "clip_end_sec": e, "video_start_sec": start + s, "video_end_sec": start + e,
             "video_start_frame": int(30 * (start + s)), "video_end_frame": int(30 * (start + e)), "slot_x": objects[o], "verb_x": "put"}
            for o, (s, e) in zip(shown, windows)
        ]
        clip = {"clip_uid": uid, "video_start_sec": start, "video_end_sec": start + duration, "video_start_frame": int(30 * start),
                "video_end_frame": int(30 * (start + duration)), "clip_start_sec": 0.0, "clip_end_sec": duration,
                "annotations": [{"annotation_uid": f"{uid}-ann0", "language_queries": queries}]}
        split = "val" if v < n_val else "train"
        splits[split].append({"video_uid": f"{v:08x}-demo-video", "split": split, "clips": [clip]})
    for split, videos in splits.items():
        (out / f"nlq_{split}.json").write_text(json.dumps({"version": "v1", "date": "demo", "description": "videollm-core demo", "manifest": "", "videos": videos}, indent=1), encoding="utf-8")

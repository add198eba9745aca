"""Deterministic temporal-detection demo data in the real on-disk layouts.

Writes `features/<video_id>.npy` (`[T, Df]` float32, one step per `stride / fps`
seconds) and the annotations, either ActionFormer's THUMOS14 JSON (`format:
activitynet` -> `annotations.json` with `{"version", "database": {vid: {subset,
duration, fps, annotations: [{label, segment, segment(frames), label_id}]}}}`) or
Ego4D's `moments_{train,val}.json` (`format: ego4d`; clips of one video each, times
in video seconds, one annotator).

Signal: each class has a random prototype; a step inside an action of class c holds
`prototype_c + noise`, other steps `prototype_bg + noise`, so classes and boundaries
are learnable. Actions follow a small grammar: a video repeats one "activity", a fixed
cycle of classes, separated by background gaps.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

#: class names of the demo (real THUMOS14 / Ego4D MQ names, so the files look real).
THUMOS_NAMES = ("BaseballPitch", "CleanAndJerk", "HighJump", "LongJump", "PoleVault", "Shotput")
EGO4D_NAMES = (
    "use_phone", "wash_dishes_/_utensils_/_bakeware_etc.", "cut_/_chop_/_slice_a_vegetable,_fruit,_or_meat",
    "browse_through_clothing_items_on_rack_/_shelf_/_hanger", "read_a_book_/_magazine_/_shopping_list_etc.", "converse_/_interact_with_someone",
)

DEFAULTS: dict[str, Any] = {
    "num_videos": 24,  # the first quarter is the validation/test subset
    "seed": 0,
    "feature_dim": 32,
    "num_classes": 4,
    "format": "activitynet",
    "fps": 4.0,
    "feature_stride": 4,  # frames per step -> 1 s per feature step
    "duration": [28.0, 40.0],  # seconds
    "action_seconds": [3.0, 7.0],
    "gap_seconds": [1.0, 4.0],
    "noise": 0.7,
}


def _videos(params: dict[str, Any]) -> tuple[list[str], dict[str, dict[str, Any]], dict[str, np.ndarray]]:
    rng = np.random.default_rng(int(params["seed"]))
    names = list(THUMOS_NAMES if params["format"] == "activitynet" else EGO4D_NAMES)[: int(params["num_classes"])]
    dim, step = int(params["feature_dim"]), float(params["feature_stride"]) / float(params["fps"])
    protos = rng.normal(size=(len(names) + 1, dim))
    protos *= 3.0 / np.linalg.norm(protos, axis=1, keepdims=True)
    db, feats = {}, {}
    n_val = max(1, int(params["num_videos"]) // 4)
    for v in range(int(params["num_videos"])):
        vid = f"video_{'test' if v < n_val else 'validation'}_{v:07d}"
        duration = float(np.round(rng.uniform(*params["duration"]), 2))
        cycle = rng.permutation(len(names))[: rng.integers(2, len(names) + 1)]
        anns, t, k = [], float(rng.uniform(*params["gap_seconds"])), 0
        while True:
            length = float(rng.uniform(*params["action_seconds"]))
            if t + length > duration - 0.5:
                break
            c = int(cycle[k % len(cycle)])
            anns.append({"label": names[c], "segment": [round(t, 2), round(t + length, 2)], "label_id": c})
            t += length + float(rng.uniform(*params["gap_seconds"]))
            k += 1
        num_steps = int(np.ceil(duration / step))
        centres = (np.arange(num_steps) + 0.5) * step
        cls = np.full(num_steps, len(names))
        for a in anns:
            cls[(centres >= a["segment"][0]) & (centres < a["segment"][1])] = a["label_id"]
        feats[vid] = (protos[cls] + float(params["noise"]) * rng.normal(size=(num_steps, dim))).astype(np.float32)
        db[vid] = {"subset": "Test" if v < n_val else "Validation", "duration": duration, "fps": float(params["fps"]), "annotations": anns}
    return names, db, feats


def generate(out: Path, params: dict[str, Any]) -> None:
    """Write `features/` and `annotations.json` (activitynet) or `moments_{train,val}.json` (ego4d)."""
    names, db, feats = _videos(params)
    (out / "features").mkdir(parents=True)
    for vid, f in feats.items():
        np.save(out / "features" / f"{vid}.npy", f)
    if params["format"] == "activitynet":
        for item in db.values():
            for a in item["annotations"]:
                a["segment(frames)"] = [round(x * item["fps"], 1) for x in a["segment"]]
        (out / "annotations.json").write_text(json.dumps({"version": "Thumos14-demo", "database": db}, indent=1), encoding="utf-8")
        return
    for split, subset in (("train", "Validation"), ("val", "Test")):
        videos = []
        for i, (vid, item) in enumerate(db.items()):
            if item["subset"] != subset:
                continue
            offset = 60.0 * i  # the clip starts a minute into its video, so clip-relative times matter
            labels = [
                {"label": a["label"], "start_time": a["segment"][0], "end_time": a["segment"][1],
                 "video_start_time": offset + a["segment"][0], "video_end_time": offset + a["segment"][1],
                 "video_start_frame": int(30 * (offset + a["segment"][0])), "video_end_frame": int(30 * (offset + a["segment"][1])),
                 "primary": True}
                for a in item["annotations"]
            ]
            clip = {"clip_uid": vid, "video_start_sec": offset, "video_end_sec": offset + item["duration"],
                    "video_start_frame": int(30 * offset), "video_end_frame": int(30 * (offset + item["duration"])),
                    "annotations": [{"labels": labels}]}
            videos.append({"video_uid": f"{vid}_source", "split": split, "clips": [clip]})
        (out / f"moments_{split}.json").write_text(json.dumps({"version": "v1", "videos": videos}, indent=1), encoding="utf-8")

"""Deterministic Ego4D-narration-schema demo data (Ego4D files are not public).

Writes ``narration.json`` (the Ego4D schema, one pass per video), ``train_videos.txt`` /
``val_videos.txt`` (one uid per line) and ``features/<video_uid>.npy`` ``[T, Df]`` at
``fps`` steps per second. Every 3-4 s a narration ``"#C C <verb> the <noun>"``
happens; the feature steps within ``signal`` seconds of its timestamp carry
``verb prototype + noun prototype`` (+ noise everywhere), so the window around a
narration tells its verb and noun. :data:`WORDS` is the whole vocabulary (for a
word-level tokenizer).
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from ..common.demo_params import demo_params as fill_params

DEFAULTS: dict[str, Any] = {"num_videos": 12, "seed": 0, "fps": 2.0, "feature_dim": 32, "num_verbs": 4, "num_nouns": 5,
                            "narrations_per_video": 12, "noise": 1.0, "signal": 0.75}
VERBS = ["takes", "puts", "cuts", "washes", "opens", "closes", "stirs", "holds"]
NOUNS = ["knife", "onion", "plate", "tap", "pan", "lid", "bowl", "cup"]
#: every word of the demo narrations, as a word-level tokenizer splits them.
WORDS = ["#", "c", "the"] + VERBS + NOUNS


def demo_params(demo: dict[str, Any] | None, feature_dim: int | None) -> dict[str, Any]:
    """Fill :data:`DEFAULTS`; ``feature_dim`` (the encoder's ``in_dim``) sets ``Df`` unless ``demo`` does."""
    return fill_params(DEFAULTS, demo, feature_dim, {"num_verbs": len(VERBS), "num_nouns": len(NOUNS)})


def generate(out_dir: Path, params: dict[str, Any]) -> None:
    rng = np.random.default_rng(int(params["seed"]))
    nv, nn_, dim, fps = int(params["num_verbs"]), int(params["num_nouns"]), int(params["feature_dim"]), float(params["fps"])
    pv, pn = rng.normal(size=(nv, dim)).astype(np.float32), rng.normal(size=(nn_, dim)).astype(np.float32)
    out = Path(out_dir)
    (out / "features").mkdir(parents=True)
    n = int(params["num_videos"])
    data: dict[str, Any] = {}
    lists: dict[str, list[str]] = {"train": [], "val": []}
    for k in range(n):
        vid = f"00000000-demo-{k:04d}"
        lists["val" if k >= n - max(2, n // 4) else "train"].append(vid)
        t, items = 2.0, []
        for _ in range(int(params["narrations_per_video"])):
            items.append((t, int(rng.integers(nv)), int(rng.integers(nn_))))
            t += float(rng.uniform(3.0, 4.0))
        steps = int(math.ceil((t + 1.0) * fps))
        feats = rng.normal(scale=float(params["noise"]), size=(steps, dim)).astype(np.float32)
        centres = (np.arange(steps) + 0.5) / fps
        narrations = []
        for t0, v, nn in items:
            feats[np.abs(centres - t0) <= float(params["signal"])] += pv[v] + pn[nn]
            narrations.append({"timestamp_sec": round(t0, 3), "timestamp_frame": int(round(t0 * 30)),
                               "narration_text": f"#C C {VERBS[v]} the {NOUNS[nn]}", "annotation_uid": f"demo-annotation-{k:04d}"})
        np.save(out / "features" / f"{vid}.npy", feats)
        data[vid] = {"status": "complete", "narration_pass_1": {"narrations": narrations, "summaries": []}}
    (out / "narration.json").write_text(json.dumps(data), encoding="utf-8")
    for split, vids in lists.items():
        (out / f"{split}_videos.txt").write_text("\n".join(vids) + "\n", encoding="utf-8")


__all__ = ["DEFAULTS", "VERBS", "NOUNS", "WORDS", "demo_params", "generate"]

"""Deterministic Ego4D-narration-schema demo data (Ego4D files are not public), where the
verb of a narration is told by the *order* of what happens.

Writes `narration.json` (the Ego4D schema, one pass per video), `train_videos.txt` /
`val_videos.txt` (one uid per line) and `features/<video_uid>.npy` `[T, Df]` at
`fps` steps per second. Every 3-4 s a narration `"#C C <verb> the <noun>"` happens
at time `t`. `WORDS` is the whole vocabulary (for a word-level tokenizer).

Signal, and why the window's content alone does not tell the caption. There are motion
*phases* (e.g. reach, grasp, release), each with a feature prototype, and a prototype per
noun. A verb is an ordered pair of phases (`PHASES_OF`; the first six verbs are
all the ordered pairs of phases 0-2): `takes` is phase 0 then phase 1, `puts` phase 1
then phase 0, `opens` 0 then 2, `closes` 2 then 0, `cuts` 1 then 2, `washes` 2
then 1. An action ends `action_end` s after its narration time `t` (the example's
`window_after`: the action is complete when the narration window closes): with
`n = phase_seconds * fps` steps per phase, the last `n` steps that end by
`t + action_end` carry the second phase's prototype, the `n` before them the first
phase's (by default 3 + 3 steps: the whole 6-step window of the example); all of them
also carry the noun's prototype, and every step gets Gaussian noise (std `noise`). So the noun is in any step of the window, but the verb needs both
phases *and* their order: the window's mean (or its steps as an unordered set) leaves a
coin between a verb and its reverse (`takes`/`puts`), and the last steps alone leave
a coin between the two verbs ending in the same phase (`takes`/`cuts`); a model that
reads the steps in order tells them apart.
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from ..common.demo_params import demo_params as fill_params

DEFAULTS: dict[str, Any] = {"num_videos": 12, "seed": 0, "fps": 2.0, "feature_dim": 32, "num_verbs": 6, "num_nouns": 5,
                            "narrations_per_video": 12, "noise": 1.0, "phase_seconds": 1.5, "action_end": 1.0}
VERBS = ["takes", "puts", "opens", "closes", "cuts", "washes", "stirs", "holds"]
#: verb -> (first phase, second phase): every ordered pair of phases 0-2, then phase 3 with phase 0.
PHASES_OF = [(0, 1), (1, 0), (0, 2), (2, 0), (1, 2), (2, 1), (0, 3), (3, 0)]
NUM_PHASES = 4
NOUNS = ["knife", "onion", "plate", "tap", "pan", "lid", "bowl", "cup"]
#: every word of the demo narrations, as a word-level tokenizer splits them.
WORDS = ["#", "c", "the"] + VERBS + NOUNS


def demo_params(demo: dict[str, Any] | None, feature_dim: int | None) -> dict[str, Any]:
    """Fill `DEFAULTS`; `feature_dim` (the encoder's `in_dim`) sets `Df` unless `demo` does."""
    return fill_params(DEFAULTS, demo, feature_dim, {"num_verbs": len(VERBS), "num_nouns": len(NOUNS)})


def generate(out_dir: Path, params: dict[str, Any]) -> None:
    """Write `narration.json`, `{train,val}_videos.txt` and `features/` into `out_dir`."""
    rng = np.random.default_rng(int(params["seed"]))
    nv, nn_, dim, fps = int(params["num_verbs"]), int(params["num_nouns"]), int(params["feature_dim"]), float(params["fps"])
    pp, pn = rng.normal(size=(NUM_PHASES, dim)).astype(np.float32), rng.normal(size=(nn_, dim)).astype(np.float32)
    n_phase, end = max(1, int(round(float(params["phase_seconds"]) * fps))), float(params["action_end"])
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
        narrations = []
        for t0, v, nn in items:
            a, b = PHASES_OF[v]
            last = min(steps, int(math.floor((t0 + end) * fps + 1e-6)))  # steps [0, last) have ended by t0 + end
            feats[max(0, last - 2 * n_phase): last - n_phase] += pp[a] + pn[nn]
            feats[last - n_phase: last] += pp[b] + pn[nn]
            narrations.append({"timestamp_sec": round(t0, 3), "timestamp_frame": int(round(t0 * 30)),
                               "narration_text": f"#C C {VERBS[v]} the {NOUNS[nn]}", "annotation_uid": f"demo-annotation-{k:04d}"})
        np.save(out / "features" / f"{vid}.npy", feats)
        data[vid] = {"status": "complete", "narration_pass_1": {"narrations": narrations, "summaries": []}}
    (out / "narration.json").write_text(json.dumps(data), encoding="utf-8")
    for split, vids in lists.items():
        (out / f"{split}_videos.txt").write_text("\n".join(vids) + "\n", encoding="utf-8")


__all__ = ["DEFAULTS", "NOUNS", "PHASES_OF", "VERBS", "WORDS", "demo_params", "generate"]

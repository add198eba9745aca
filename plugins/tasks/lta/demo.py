"""Deterministic Ego4D-LTA-schema demo data (the Ego4D files are not public).

Writes `fho_lta_{train,val}.json` and `fho_lta_taxonomy.json` in the official
schema and `features/<video_uid>.npy` `[T, Df]` at `fps` steps per second of the
parent video.

Planted signal (issue 11: the future follows from the order of what was seen, not from the
last action alone). There are `recipe_length` (default 5) kitchen actions
`a_0..a_{L-1}`, each a distinct (verb, noun) pair, and `num_recipes` recipes that are
different *orders* of the same actions: recipe `r` steps through them with stride `s_r`
(`a_i -> a_{i + s_r mod L}`, strides `1, 2, ...`, all coprime with `L`). Every recipe
uses every action, so any action is followed by a different action in each recipe: the
current action alone leaves `num_recipes` possible futures. Two consecutive actions fix
the stride (`i_cur - i_prev = s_r mod L`), hence all 20 future actions. A clip follows one
recipe from a random offset; each action is replaced by a random taxonomy pair with
probability `p_noise`.

A step inside an action is `verb prototype + noun prototype + noise`, between actions the
background prototype plus noise: a step shows what is done now, never which recipe. So a
context-free model on the last observed step knows the current action but must guess the
recipe, and a model that keeps the previous observed action (N = 2) gets the recipe.
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from ..common.demo_params import demo_params as fill_params

DEFAULTS: dict[str, Any] = {"num_clips": 16, "seed": 0, "fps": 2.0, "feature_dim": 32, "num_verbs": 8, "num_nouns": 10,
                            "num_recipes": 4, "recipe_length": 5, "actions_per_clip": 30, "noise": 0.5, "p_noise": 0.05}
VERBS = ["take", "put", "cut", "wash", "open", "close", "stir", "pour", "turn", "wipe", "hold", "mix"]
NOUNS = ["knife", "onion", "tap", "pan", "lid", "bowl", "spoon", "cup", "plate", "door", "bag", "table"]


def demo_params(demo: dict[str, Any] | None, feature_dim: int | None) -> dict[str, Any]:
    """Fill `DEFAULTS`; `feature_dim` (the encoder's `in_dim`) sets `Df` unless `demo` does."""
    return fill_params(DEFAULTS, demo, feature_dim, {"num_verbs": len(VERBS), "num_nouns": len(NOUNS)})


def generate(out_dir: Path, params: dict[str, Any]) -> None:
    """Write the demo tree for `params` (see `DEFAULTS` and the module docstring) into `out_dir`."""
    rng = np.random.default_rng(int(params["seed"]))
    nv, nn_, dim, fps = int(params["num_verbs"]), int(params["num_nouns"]), int(params["feature_dim"]), float(params["fps"])
    length = int(params["recipe_length"])
    strides = [k for k in range(1, length) if math.gcd(k, length) == 1][: int(params["num_recipes"])]
    if length > min(nv, nn_) or len(strides) < int(params["num_recipes"]):
        raise ValueError(f"recipe_length {length} needs <= {min(nv, nn_)} and num_recipes <= the strides coprime with it ({len(strides)})")
    kitchen = list(zip(rng.permutation(nv)[:length].tolist(), rng.permutation(nn_)[:length].tolist()))  # a_0..a_{L-1}
    recipes = [[kitchen[(i * stride) % length] for i in range(length)] for stride in strides]
    pv, pn, bg = (rng.normal(size=(n, dim)).astype(np.float32) for n in (nv, nn_, 1))
    out = Path(out_dir)
    (out / "features").mkdir(parents=True)
    (out / "fho_lta_taxonomy.json").write_text(json.dumps({"verbs": VERBS[:nv], "nouns": NOUNS[:nn_]}), encoding="utf-8")
    n = int(params["num_clips"])
    splits: dict[str, list[dict[str, Any]]] = {"train": [], "val": []}
    for c in range(n):
        split = "val" if c >= n - max(2, n // 4) else "train"
        video_uid, clip_uid = f"demo-video-{c:04d}", f"demo-clip-{c:04d}"
        recipe = recipes[c % len(recipes)]
        offset, t, parent_start = int(rng.integers(len(recipe))), 0.5, float(rng.uniform(0, 5))
        acts = []
        for i in range(int(params["actions_per_clip"])):
            v, nn = recipe[(offset + i) % len(recipe)]
            if rng.random() < float(params["p_noise"]):
                v, nn = int(rng.integers(nv)), int(rng.integers(nn_))
            dur = float(rng.uniform(1.5, 3.0))
            acts.append((t, t + dur, v, nn))
            t += dur + float(rng.uniform(0.2, 0.8))
        steps = int(math.ceil((parent_start + t + 1.0) * fps))
        feats = np.repeat(bg, steps, axis=0) + rng.normal(scale=float(params["noise"]), size=(steps, dim)).astype(np.float32)
        for i, (s, e, v, nn) in enumerate(acts):
            a, b = int((parent_start + s) * fps), int((parent_start + e) * fps)
            feats[a:b] += pv[v] + pn[nn] - bg[0]
            splits[split].append({
                "clip_uid": clip_uid, "video_uid": video_uid, "clip_idx": c, "action_idx": i,
                "clip_parent_start_sec": parent_start, "clip_parent_end_sec": parent_start + t,
                "action_clip_start_sec": s, "action_clip_end_sec": e,
                "action_clip_start_frame": int(s * 30), "action_clip_end_frame": int(e * 30),
                "verb": VERBS[v], "noun": NOUNS[nn], "verb_label": v, "noun_label": nn})
        np.save(out / "features" / f"{video_uid}.npy", feats.astype(np.float32))
    for split, clips in splits.items():
        (out / f"fho_lta_{split}.json").write_text(json.dumps({"version": "demo", "split": split, "clips": clips}), encoding="utf-8")


__all__ = ["DEFAULTS", "demo_params", "generate"]

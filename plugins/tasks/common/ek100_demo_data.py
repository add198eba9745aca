"""Deterministic EPIC-KITCHENS-100 demo data in the real RULSTM + official layout.

Written tree (same names, columns and headers as the benchmark):

    rulstm_ek100/actions.csv                 id,verb,noun,action
    rulstm_ek100/{training,validation}.csv   no header, 30 fps frames
    rulstm_ek100/{training,validation}_videos.csv
    official/EPIC_100_{verb,noun}_classes.csv, EPIC_100_tail_{verbs,nouns}.csv,
    official/EPIC_100_unseen_participant_ids_validation.csv, EPIC_100_video_info.csv
    features/<video_id>.npy                  [T, Df] float32, `fps` steps per second

Planted signal (issue 11: the answer at a step needs context the step does not hold).
Every action class is a (verb, noun) pair and, by default, every noun goes with every verb
(10 verbs x 4 nouns = 40 actions), so neither the verb nor the noun alone names the action.
Inside a segment only the first `cue_steps` feature steps show the **verb** (its prototype
plus Gaussian noise, as a hand motion would); every later step of the segment shows only the
**noun** (the object being handled: its prototype plus noise); a step between segments is the
background prototype plus noise. So at most steps of a segment the action -- and the verb --
is defined by what came before: the verb seen at the segment's start plus the object now.
A context-free per-step classifier sees the noun and must guess among `num_verbs` actions;
an online model that remembers the cue gets it. During the cue steps the noun is not yet
visible to anyone (only the grammar below hints at it).

Action order follows a grammar: the next action is `successor[current]` with probability
`p_follow` (else uniform; `successor` is a random cycle over the actions), and gaps
between segments last 0.25-0.75 s. The last step observed 1 s before a segment starts lies in
the previous segment's noun phase, so anticipation needs the previous action, hence the verb
cue seen about a second or more earlier: the last step alone names only the previous noun.
Participant `P04` appears only in validation (the "unseen" split); the verb of the last
action class and the nouns of the last two are "tail" classes.
"""
from __future__ import annotations

import csv
import math
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from .demo_params import demo_params as fill_params
from .ek100 import RULSTM_FPS

DEFAULTS: dict[str, Any] = {
    "num_videos": 16, "seed": 0, "fps": 4.0, "feature_dim": 32, "num_verbs": 10, "num_nouns": 4,
    "num_actions": 40, "segments_per_video": 14, "noise": 1.5, "p_follow": 0.9, "cue_steps": 2,
}
VERBS = ["take", "put", "open", "close", "wash", "cut", "pour", "turn-on", "stir", "mix"]
NOUNS = ["knife", "tap", "plate", "onion", "pan", "cupboard", "bowl", "spoon", "lid", "water", "pot", "fridge"]
VERSION = 3


def demo_params(demo: dict[str, Any] | None, feature_dim: int | None) -> dict[str, Any]:
    """Fill defaults; `feature_dim` (the encoder's `in_dim`) sets `Df` unless `demo` does."""
    params = fill_params(DEFAULTS, demo, feature_dim, {"num_verbs": len(VERBS), "num_nouns": len(NOUNS)})
    params["num_actions"] = min(int(params["num_actions"]), params["num_verbs"] * params["num_nouns"])
    return params


def ensure_tree(demo: dict[str, Any] | None, feature_dim: int | None) -> tuple[Path, dict[str, Any]]:
    """The demo tree of `demo`'s parameters (generated once, then cached; shared by the OAD and
    anticipation tasks, whose `demo.py` names it) -> `(root, params)`."""
    from videollm_plugins.demo import ensure_demo_data

    params = demo_params(demo, feature_dim)
    return ensure_demo_data("ek100", partial(generate, params=params), params, version=VERSION), params


def _write_csv(path: Path, rows: list[list[Any]], header: list[str] | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        if header:
            w.writerow(header)
        w.writerows(rows)


def generate(out_dir: Path, params: dict[str, Any]) -> None:
    """Write the demo tree for `params` (see `DEFAULTS`) into `out_dir`."""
    rng = np.random.default_rng(int(params["seed"]))
    nv, nn_, na = int(params["num_verbs"]), int(params["num_nouns"]), int(params["num_actions"])
    fps, dim = float(params["fps"]), int(params["feature_dim"])
    grid = [(v, n) for v in range(nv) for n in range(nn_)]
    picks = sorted(rng.choice(len(grid), size=na, replace=False).tolist())
    actions = [grid[i] for i in picks]
    successor = np.roll(rng.permutation(na), 1)  # a random cycle over the actions
    # rows: background, verbs, nouns
    protos = rng.normal(size=(1 + nv + nn_, dim)).astype(np.float32) * 1.5
    rul, off = Path(out_dir) / "rulstm_ek100", Path(out_dir) / "official"
    _write_csv(rul / "actions.csv", [[i, v, n, f"{VERBS[v]} {NOUNS[n]}"] for i, (v, n) in enumerate(actions)], ["id", "verb", "noun", "action"])
    _write_csv(off / "EPIC_100_verb_classes.csv", [[i, VERBS[i], 1, "demo"] for i in range(nv)], ["id", "key", "instances", "category"])
    _write_csv(off / "EPIC_100_noun_classes.csv", [[i, NOUNS[i], 1, "demo"] for i in range(nn_)], ["id", "key", "instances", "category"])
    _write_csv(off / "EPIC_100_tail_verbs.csv", [[actions[-1][0]]], ["verb"])  # classes that occur, so every split is non-empty
    _write_csv(off / "EPIC_100_tail_nouns.csv", sorted({(n,) for _, n in actions[-2:]}), ["noun"])
    _write_csv(off / "EPIC_100_unseen_participant_ids_validation.csv", [["P04"]], ["participant_id"])
    num_videos = int(params["num_videos"])
    num_val = max(2, num_videos // 4)
    splits: dict[str, list[str]] = {"training": [], "validation": []}
    rows: dict[str, list[list[Any]]] = {"training": [], "validation": []}
    info = []
    feats_dir = Path(out_dir) / "features"
    feats_dir.mkdir(parents=True, exist_ok=True)
    for k in range(num_videos):
        split = "validation" if k >= num_videos - num_val else "training"
        participant = "P04" if (split == "validation" and k == num_videos - 1) else f"P0{1 + k % 3}"
        vid = f"{participant}_{10 + k:02d}"
        splits[split].append(vid)
        t, a = 0.5 + float(rng.uniform(0, 1)), int(rng.integers(na))
        segs = []
        for i in range(int(params["segments_per_video"])):
            dur = float(rng.uniform(1.5, 3.0))
            segs.append((t, t + dur, a))
            t += dur + float(rng.uniform(0.25, 0.75))
            a = int(successor[a]) if rng.random() < float(params["p_follow"]) else int(rng.integers(na))
        duration = t + 1.0
        num_steps = int(math.ceil(duration * fps))
        proto = np.zeros(num_steps, dtype=np.int64)  # which prototype each step shows (0: background)
        for i, (s, e, a) in enumerate(segs):
            start_f, end_f = max(1, int(math.floor(s * RULSTM_FPS))), int(math.floor(e * RULSTM_FPS))
            v, n = actions[a]
            rows[split].append([f"{vid}_{i}", vid, start_f, end_f, v, n, a])
            first, last = int(start_f / RULSTM_FPS * fps), int(end_f / RULSTM_FPS * fps) + 1
            proto[first:last] = 1 + nv + n  # the object...
            proto[first : min(last, first + int(params["cue_steps"]))] = 1 + v  # ...after the verb cue
        feats = protos[proto] + rng.normal(scale=float(params["noise"]), size=(num_steps, dim)).astype(np.float32)
        np.save(feats_dir / f"{vid}.npy", feats.astype(np.float32))
        info.append([vid, f"{duration:.6f}", 59.94005994005994, "1920x1080"])
    for split in ("training", "validation"):
        _write_csv(rul / f"{split}.csv", rows[split])
        _write_csv(rul / f"{split}_videos.csv", [[v] for v in splits[split]])
    _write_csv(off / "EPIC_100_video_info.csv", info, ["video_id", "duration", "fps", "resolution"])


__all__ = ["DEFAULTS", "VERSION", "demo_params", "ensure_tree", "generate"]

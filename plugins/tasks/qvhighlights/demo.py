"""Deterministic QVHighlights demo data in the official layout.

Writes `highlight_{train,val}_release.jsonl` (the official fields: `qid, query,
duration, vid, relevant_windows [[st, ed]], relevant_clip_ids, saliency_scores [[a1, a2,
a3]]`, 2-second clips) and `features/<vid>.npy` (`[num_clips, Df]` float32, one
feature per 2-s clip).

Signal: each topic has a feature prototype; a video shows its queried topic during 1-2
relevant windows and `distractors` other topics (one window each) elsewhere. A clip of
any planted window has the feature `background + (a / 4 + 0.25) * prototype + noise`,
`a` the mean of three annotator-like scores (the real saliency on relevant clips, drawn
the same way on distractor clips), so windows and saliency are learnable and a relevant
window looks exactly like a distractor one: only the query tells them apart. A model that
ignores the query picks a relevant window with probability `n_rel / (n_rel + distractors)`
at best.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from ..common.demo_windows import plant_windows

TOPICS = ("a man cooks food in the kitchen", "a woman walks her dog in the park", "people dance at a party",
          "a girl rides a bike on the street", "a chef cuts vegetables", "kids play soccer on the field")
#: every word of the demo queries, for a config's word-level tokenizer.
VOCABULARY = tuple(sorted({w for t in TOPICS for w in t.split()}))
CLIP_S = 2.0
#: bumped when the files written for the same parameters change (distractors look like relevant windows since 2).
VERSION = 2

DEFAULTS: dict[str, Any] = {
    "num_videos": 48,  # queries (one per video); the first quarter is val
    "seed": 0,
    "feature_dim": 32,
    "num_topics": 6,
    "distractors": 2,
    "duration": [40, 60],  # seconds, even numbers
    "window_seconds": [6.0, 14.0],
    "noise": 0.5,
}


def generate(out: Path, params: dict[str, Any]) -> None:
    """Write `features/`, `highlight_train_release.jsonl` and `highlight_val_release.jsonl`."""
    rng = np.random.default_rng(int(params["seed"]))
    topics = TOPICS[: int(params["num_topics"])]
    dim = int(params["feature_dim"])
    protos = rng.normal(size=(len(topics) + 1, dim))
    protos *= 3.0 / np.linalg.norm(protos, axis=1, keepdims=True)
    (out / "features").mkdir(parents=True)
    rows: dict[str, list[dict[str, Any]]] = {"train": [], "val": []}
    n_val = max(1, int(params["num_videos"]) // 4)
    for v in range(int(params["num_videos"])):
        duration = int(2 * rng.integers(params["duration"][0] // 2, params["duration"][1] // 2 + 1))
        num_clips = int(duration / CLIP_S)
        shown = rng.choice(len(topics), size=1 + int(params["distractors"]), replace=False)
        n_rel = int(rng.integers(1, 3))
        # windows on the 2-s clip grid; the first n_rel are relevant, the rest show distractors
        wins = [[2 * round(s / 2), 2 * round(e / 2)] for s, e in plant_windows(rng, float(duration), n_rel + len(shown) - 1, params["window_seconds"])]
        wins = [[s, max(e, s + 2)] for s, e in wins]
        order = rng.permutation(len(wins))
        relevant = [wins[i] for i in sorted(order[:n_rel])]
        feats = np.tile(protos[-1], (num_clips, 1))
        clip_ids, scores = [], []
        planted = [(i, shown[0]) for i in sorted(order[:n_rel])]  # relevant first, in time order (sorted clip ids)
        planted += [(i, shown[1 + j % (len(shown) - 1)]) for j, i in enumerate(order[n_rel:])]
        for k, (i, topic) in enumerate(planted):
            s, e = wins[i]
            for c in range(int(s // 2), int(e // 2)):
                sal = np.clip(rng.integers(1, 5) + rng.integers(-1, 2, size=3), 0, 4)
                feats[c] = protos[-1] + (sal.mean() / 4.0 + 0.25) * protos[topic]
                if k < n_rel:
                    clip_ids.append(c)
                    scores.append([int(x) for x in sal])
        feats += float(params["noise"]) * rng.normal(size=feats.shape)
        vid = f"{'-' if v % 7 == 3 else ''}demo{v:05d}_{60.0 * v:.1f}_{60.0 * v + duration:.1f}"  # real ids may start with "-"
        np.save(out / "features" / f"{vid}.npy", feats.astype(np.float32))
        rows["val" if v < n_val else "train"].append({
            "qid": 10000 + v, "query": topics[shown[0]], "duration": duration, "vid": vid,
            "relevant_clip_ids": clip_ids, "saliency_scores": scores, "relevant_windows": relevant,
        })
    for split, items in rows.items():
        with open(out / f"highlight_{split}_release.jsonl", "w", encoding="utf-8") as f:
            for r in items:
                f.write(json.dumps(r) + "\n")

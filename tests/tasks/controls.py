"""Controls for the end-to-end tests (issue 11): what the pipeline must beat to show that the
LLM reasons over the sequence.

* :func:`fit_step_baseline` -- a context-free per-step classifier (logistic regression or a
  one-hidden-layer MLP) on the raw feature steps: no LLM, no temporal context.
* :func:`shuffle_features` -- a copy of a demo tree whose feature steps are permuted inside
  each video (same real layout), so the temporal order is destroyed while every step keeps
  its content; :func:`label_runs` helps a task rewrite its per-step labels to move with them.
* :func:`shuffled_ek100` -- that copy for the EPIC-KITCHENS-100 RULSTM tree, with the
  per-step labels moved with their features (OAD) or the segments kept (anticipation);
  :func:`ek100_overrides` points an example's data at it.
* :func:`train_example` -- train an example config through the Runner into ``tmp_path``;
  :func:`evaluate_entries` scores a control's head-style entries with the task metric;
  :func:`assert_beats_controls` prints the three numbers and checks the margin.

A plain module (not a conftest): e2e tests import it as ``from tasks.controls import ...``
or, from inside ``tests/tasks``, ``from controls import ...``.
"""
from __future__ import annotations

import csv
import json
import math
import os
import shutil
import zlib
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from torch import nn

from videollm_core.config import load_config
from videollm_core.engine.runner import Runner

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
IGNORE = -100


def train_example(name: str, tmp_path: Path, monkeypatch, **overrides: Any) -> tuple[dict, Path, Runner]:
    """Train ``examples/<name>.yaml`` with ``overrides`` (``--cfg-options`` keys) in ``tmp_path``.

    The demo cache goes to ``tmp_path/cache`` unless ``VIDEOLLM_CACHE`` is set by the caller
    (``monkeypatch.setenv`` before this call). Returns the final metrics, the work dir and the
    runner (its ``pipeline`` stays usable for extra evaluations)."""
    if "VIDEOLLM_CACHE" not in os.environ:
        monkeypatch.setenv("VIDEOLLM_CACHE", str(tmp_path / "cache"))
    work = tmp_path / overrides.pop("work_name", "work")
    cfg = load_config(EXAMPLES / f"{name}.yaml", {"work_dir": str(work), "train.log_every": 1000, **overrides})
    runner = Runner(cfg)
    metrics = runner.train()
    lines = [json.loads(line) for line in (work / "metrics.jsonl").read_text().splitlines() if line.strip()]
    assert lines, "metrics.jsonl is empty"
    return metrics, work, runner


def fit_step_baseline(train_x: list[np.ndarray], train_y: list[np.ndarray], *, num_classes: int, epochs: int = 300,
                      hidden: int = 0, seed: int = 0, lr: float = 1e-2, weight_decay: float = 1e-4
                      ) -> Callable[[np.ndarray], np.ndarray]:
    """Fit a context-free classifier of single feature steps; returns ``predict(x [T, Df]) -> [T, C]`` probabilities.

    Every step of every video is one independent sample (labels ``-100`` are left out);
    features are standardized with the training mean and deviation; full-batch Adam for
    ``epochs`` epochs from ``torch.manual_seed(seed)`` (deterministic). ``hidden == 0`` is a
    logistic regression, ``hidden > 0`` one hidden ReLU layer of that width. Labels ``[T, Z]``
    (``Z`` targets per step, e.g. the next ``Z`` actions) fit ``Z`` such classifiers at once
    (sharing the hidden layer if any); ``predict`` then returns ``[T, Z, C]``.
    """
    x = np.concatenate([np.asarray(a, dtype=np.float32).reshape(len(a), -1) for a in train_x])
    y = np.concatenate([np.asarray(b, dtype=np.int64).reshape(len(b), -1) for b in train_y])
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"{x.shape[0]} feature steps but {y.shape[0]} labels")
    multi = np.asarray(train_y[0]).ndim == 2
    keep = (y != IGNORE).any(1)
    x, y = x[keep], y[keep]
    mean, std = x.mean(0), x.std(0) + 1e-6
    torch.manual_seed(seed)
    dim, z = x.shape[1], y.shape[1]
    out = num_classes * z
    model = nn.Linear(dim, out) if hidden <= 0 else nn.Sequential(nn.Linear(dim, hidden), nn.ReLU(), nn.Linear(hidden, out))
    opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    xt, yt = torch.from_numpy((x - mean) / std), torch.from_numpy(y)
    for _ in range(epochs):
        opt.zero_grad()
        logits = model(xt).view(-1, z, num_classes)
        nn.functional.cross_entropy(logits.flatten(0, 1), yt.flatten(), ignore_index=IGNORE).backward()
        opt.step()
    model.eval()

    @torch.no_grad()
    def predict(steps: np.ndarray) -> np.ndarray:
        t = torch.from_numpy((np.asarray(steps, dtype=np.float32).reshape(len(steps), -1) - mean) / std)
        probs = model(t).view(len(steps), z, num_classes).softmax(-1).numpy()
        return probs if multi else probs[:, 0]

    return predict


def video_permutation(video_id: str, num_steps: int, seed: int = 0) -> np.ndarray:
    """The fixed permutation of ``num_steps`` steps used for ``video_id`` (depends on the id and ``seed`` only)."""
    return np.random.default_rng([seed, zlib.crc32(video_id.encode())]).permutation(num_steps)


def shuffle_features(src: Path, dst: Path, *, features: str = "features", seed: int = 0) -> dict[str, np.ndarray]:
    """Copy the tree ``src`` to ``dst`` and permute the steps of every ``dst/<features>/<video>.npy``.

    Returns ``{video: perm}``: step ``i`` of the shuffled file is step ``perm[i]`` of the
    original, so per-step labels move with ``labels[perm]``. Annotation files are copied
    unchanged; a task whose labels live per step rewrites them from the permutations.
    """
    src, dst = Path(src), Path(dst)
    shutil.copytree(src, dst)
    perms = {}
    for path in sorted((dst / features).glob("*.npy")):
        feats = np.load(path)
        perm = video_permutation(path.stem, feats.shape[0], seed)
        np.save(path, np.ascontiguousarray(feats[perm]))
        perms[path.stem] = perm
    return perms


def label_runs(labels: np.ndarray) -> list[tuple[int, int, int]]:
    """Maximal runs of equal labels: ``[(first, last, label)]``, ``last`` inclusive."""
    labels = np.asarray(labels)
    runs, first = [], 0
    for i in range(1, len(labels) + 1):
        if i == len(labels) or labels[i] != labels[first]:
            runs.append((first, i - 1, int(labels[first])))
            first = i
    return runs


def shuffled_ek100(root: Path, dst: Path, *, fps: float, move_labels: bool, seed: int = 0) -> dict[str, np.ndarray]:
    """:func:`shuffle_features` for an EK100 RULSTM tree (``rulstm_ek100/``, ``official/``, ``features/``).

    ``move_labels`` (OAD, per-step targets): both ``rulstm_ek100/{training,validation}.csv``
    are rewritten so that each step keeps its original (action, verb, noun) label: one row per
    run of equal labels in the permuted order, frames on the 30 fps grid that map back to
    exactly those steps. Without it (anticipation: one target per segment) the segments stay.
    """
    from videollm_plugins.tasks.common.ek100 import RULSTM_FPS, frame_labels, read_actions, read_segments

    perms = shuffle_features(root, dst, seed=seed)
    if not move_labels:
        return perms
    actions, _ = read_actions(dst / "rulstm_ek100" / "actions.csv")
    per_frame = RULSTM_FPS / fps
    for split in ("training", "validation"):
        path = dst / "rulstm_ek100" / f"{split}.csv"
        segments = read_segments(path)
        rows = []
        for vid in dict.fromkeys(s.video_id for s in segments):
            perm = perms[vid]
            action = frame_labels([s for s in segments if s.video_id == vid], len(perm), fps)["action"][perm]
            for first, last, label in label_runs(action):
                if label == 0:
                    continue
                verb, noun = (int(c) for c in actions[label - 1])
                start = max(1, math.ceil(first * per_frame))
                end = max(start, math.ceil(last * per_frame))
                rows.append([f"{vid}_{len(rows)}", vid, start, end, verb, noun, label - 1])
        with open(path, "w", encoding="utf-8", newline="") as f:
            csv.writer(f, lineterminator="\n").writerows(rows)
    return perms


def ek100_overrides(tree: Path) -> dict[str, str]:
    """``--cfg-options`` that point an example's ``data.train``/``data.val`` (EK100 datasets) at the
    RULSTM tree ``tree`` (e.g. a :func:`shuffled_ek100` copy); their ``demo`` then only sets ``fps``."""
    return {f"data.{key}.{arg}": str(path) for key, split in (("train", "training"), ("val", "validation"))
            for arg, path in (("annotations", tree / "rulstm_ek100" / f"{split}.csv"), ("features_dir", tree / "features"))}


def evaluate_entries(metric: Any, entries: list[dict[str, Any]], ground_truth: Any) -> dict[str, float]:
    """Score head-style prediction entries (e.g. a control's) with a task metric, as the runner does."""
    return metric.evaluate(metric.format_predictions(entries), ground_truth)


def assert_beats_controls(what: str, pipeline: float, baseline: float, shuffled: float, margin: float,
                          lower_is_better: bool = False) -> None:
    """Print the three numbers, then require the pipeline to beat both controls by ``margin``."""
    print(f"\n{what}{' (lower is better)' if lower_is_better else ''}: pipeline {pipeline:.3f}, context-free step "
          f"baseline {baseline:.3f}, shuffled-stream pipeline {shuffled:.3f} (margin {margin})")
    sign = -1.0 if lower_is_better else 1.0
    assert sign * (pipeline - baseline) >= margin, f"{what}: pipeline {pipeline} vs context-free baseline {baseline}"
    assert sign * (pipeline - shuffled) >= margin, f"{what}: pipeline {pipeline} vs shuffled stream {shuffled}"


__all__ = ["EXAMPLES", "assert_beats_controls", "ek100_overrides", "evaluate_entries", "fit_step_baseline", "label_runs",
           "shuffle_features", "shuffled_ek100", "train_example", "video_permutation"]


def unit_permutation(video_id: str, num_steps: int, unit: int, seed: int = 0) -> np.ndarray:
    """A step permutation that moves whole units of ``unit`` consecutive steps (a trailing
    partial unit stays last), so each unit keeps its exact content and only their order is
    destroyed: the shuffled control for a pipeline whose encoder pools ``unit`` steps."""
    full = num_steps // unit
    order = video_permutation(video_id, full, seed)
    return np.concatenate([(order[:, None] * unit + np.arange(unit)).reshape(-1), np.arange(full * unit, num_steps)])


def permutation_within(video_id: str, num_steps: int, bounds: list[int], seed: int = 0) -> np.ndarray:
    """A step permutation that shuffles the steps inside each block ``[bounds[i], bounds[i+1])``
    (``0`` and ``num_steps`` are added), leaving every step in its block: order is destroyed
    inside, e.g., each captioned window while what the window holds stays."""
    edges = sorted({0, num_steps, *(min(max(int(b), 0), num_steps) for b in bounds)})
    perm = np.arange(num_steps)
    for k, (a, b) in enumerate(zip(edges, edges[1:])):
        perm[a:b] = a + video_permutation(f"{video_id}:{k}", b - a, seed)
    return perm


def pool_units(steps: np.ndarray, unit: int) -> np.ndarray:
    """Mean of every ``unit`` consecutive steps ``[T, Df] -> [ceil(T / unit), Df]`` (a trailing
    partial unit over its real steps), as ``TemporalUnitEncoder(pooling="mean")`` pools them."""
    steps = np.asarray(steps, dtype=np.float32)
    return np.stack([steps[i: i + unit].mean(0) for i in range(0, len(steps), unit)])


__all__ += ["permutation_within", "pool_units", "unit_permutation"]


def predict_entries(pipeline: Any, dataset: Any, batch_size: int = 16) -> list[dict[str, Any]]:
    """Prediction entries of a (trained) pipeline on every sample of ``dataset``, in order (``eval()``
    mode, no gradients): what :func:`evaluate_entries` scores for a control that edits the dataset."""
    pipeline.eval()
    entries: list[dict[str, Any]] = []
    with torch.no_grad():
        for start in range(0, len(dataset), batch_size):
            batch = dataset.collate([dataset[i] for i in range(start, min(len(dataset), start + batch_size))])
            entries += pipeline.predict(pipeline(batch), batch)
    return entries


__all__ += ["predict_entries"]

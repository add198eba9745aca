"""Deterministic demo data in the dataset's real layout, with a learnable signal.

Each video is 2 or 3 labelled segments covering it; the features of a step are the
prototype of its segment's class plus Gaussian noise, so a model can learn the labels.
"""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from .formats import ANNOTATION_COLUMNS


def write_demo(out_dir: str | Path, *, num_videos: int = 24, num_classes: int = 3, steps: int = 24,
               feature_dim: int = 16, fps: float = 2.0, noise: float = 0.8, val_fraction: float = 0.25, seed: int = 0) -> None:
    """Write ``annotations.csv`` and ``features/<video_id>.npy`` (``[steps, feature_dim]``) into ``out_dir``.

    The last ``val_fraction`` of the videos form the ``val`` split, the others ``train``.
    """
    out = Path(out_dir)
    (out / "features").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    prototypes = rng.normal(size=(num_classes, feature_dim)).astype(np.float32)
    classes = [f"action{c}" for c in range(num_classes)]
    num_val = max(1, int(round(num_videos * val_fraction)))
    rows = []
    for i in range(num_videos):
        video_id = f"video_{i:03d}"
        split = "val" if i >= num_videos - num_val else "train"
        cuts = np.sort(rng.choice(np.arange(3, steps - 2), size=int(rng.integers(1, 3)), replace=False))
        bounds = [0, *cuts.tolist(), steps]
        labels = np.empty(steps, dtype=np.int64)
        previous = -1
        for a, b in zip(bounds[:-1], bounds[1:]):
            c = int(rng.choice([k for k in range(num_classes) if k != previous]))
            labels[a:b] = previous = c
            rows.append([video_id, split, f"{a / fps:.3f}", f"{b / fps:.3f}", classes[c]])
        features = prototypes[labels] + noise * rng.normal(size=(steps, feature_dim)).astype(np.float32)
        np.save(out / "features" / f"{video_id}.npy", features.astype(np.float32))
    with (out / "annotations.csv").open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(ANNOTATION_COLUMNS)
        writer.writerows(rows)

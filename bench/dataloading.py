"""Data loading against the training step: memory-mapped ``.npy`` features, 0 and 2 workers.

Writes ``--videos`` feature files (``[T, D]`` float32 each, the layout the task datasets
read) into a temporary directory, then reads random training windows (as long as the
config's training samples)  through ``np.load(mmap_mode="r")`` in a DataLoader with ``pad_collate``, and
compares the batches per second with the training step time of the pipeline of
``--config`` at the same batch size and feature dimension.

    python bench/dataloading.py [--videos 64 --length 2048 --dim 1024 --batch 8]

Prints one JSON line; the goal is ``load_ms_per_batch`` (2 workers) well under ``step_ms``.
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from videollm_core.base import pad_collate


class MmapWindows(Dataset):
    """Random windows of ``window`` steps from memory-mapped ``[T, D]`` feature files."""

    def __init__(self, files: list[Path], window: int, samples: int, seed: int = 0):
        self.files, self.window = files, window
        rng = np.random.default_rng(seed)
        self.index = [(int(rng.integers(len(files))), float(rng.random())) for _ in range(samples)]

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, i: int) -> dict:
        f, u = self.index[i]
        feats = np.load(self.files[f], mmap_mode="r")
        start = int(u * (feats.shape[0] - self.window))
        x = np.array(feats[start:start + self.window], dtype=np.float32)  # the copy reads from disk
        t = np.arange(start, start + self.window, dtype=np.float32)
        return {"features": x, "timestamps": np.stack([t, t + 1], 1) * 0.25, "meta": {"video_id": f"v{f}"}}


def load_ms(ds: Dataset, batch: int, workers: int) -> float:
    loader = DataLoader(ds, batch_size=batch, shuffle=False, num_workers=workers, collate_fn=pad_collate)
    t0, n = None, 0
    for i, _ in enumerate(loader):
        if i == 2:  # workers started
            t0, n = time.perf_counter(), 0
        n += 1
    return 1000 * (time.perf_counter() - t0) / max(1, n - 1)


def step_ms(cfg_path: str, batch: int, dim: int, steps: int = 12) -> tuple[float, int]:
    """Median training step (ms) of the config's pipeline on its own batches ``[batch, T, dim]``, and ``T``."""
    from videollm_core.config import load_config
    from videollm_core.validation import task_specs
    from videollm_core.pipeline import build_pipeline
    from videollm_core.types import VideoBatch

    cfg = load_config(cfg_path)
    cfg["model"]["encoder"]["in_dim"] = dim
    spec = task_specs(cfg)[0]
    from videollm_core.plugins import REGISTRIES

    dcfg = dict(spec.data["train"])
    if isinstance(dcfg.get("demo"), dict):  # demo data generated at the benchmark's feature dimension
        dcfg["demo"] = {**dcfg["demo"], "feature_dim": dim}
    ds = REGISTRIES.datasets.build(dcfg, default_args={"feature_dim": dim})
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    model = build_pipeline(cfg, head_args={spec.name: ds.head_args()}, device=device)
    real = ds.collate([ds[i % len(ds)] for i in range(batch)]).to(device)
    t = real.features.shape[1]
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    times = []
    for _ in range(steps):
        vb = VideoBatch(features=torch.randn(batch, t, dim, device=device), mask=real.mask, timestamps=real.timestamps,
                        queries=real.queries, targets=real.targets, meta=real.meta)
        loss = model.loss(model(vb, spec.name), vb, spec.name)["loss"]
        loss.backward()
        opt.step()
        opt.zero_grad()
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter())
    return float(1000 * np.median(np.diff(times[2:]))), int(t)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--config", default="examples/oad.yaml")
    p.add_argument("--videos", type=int, default=64)
    p.add_argument("--length", type=int, default=2048)
    p.add_argument("--dim", type=int, default=1024)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--samples", type=int, default=400)
    args = p.parse_args()
    step, window = step_ms(args.config, args.batch, args.dim)  # windows as long as the task's samples
    with tempfile.TemporaryDirectory() as tmp:
        rng = np.random.default_rng(0)
        files = []
        for v in range(args.videos):
            path = Path(tmp) / f"v{v:04d}.npy"
            np.save(path, rng.standard_normal((args.length, args.dim), dtype=np.float32))
            files.append(path)
        ds = MmapWindows(files, window, args.samples)
        result = {"feature_mb": round(args.videos * args.length * args.dim * 4 / 2 ** 20), "batch": args.batch,
                  "window": window, "dim": args.dim}
        for workers in (0, 2):
            ms = load_ms(ds, args.batch, workers)
            result[f"load_ms_per_batch_w{workers}"] = round(ms, 2)
            result[f"load_samples_per_s_w{workers}"] = round(1000 * args.batch / ms, 1)
    result["step_ms"] = round(step, 2)
    result["load_over_step_w2"] = round(result["load_ms_per_batch_w2"] / result["step_ms"], 3)
    print(json.dumps(result))


if __name__ == "__main__":
    main()

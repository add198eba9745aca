"""Test-only task for the runner tests: per-unit classification of prototype features.

A small, learnable problem with real role classes: features of unit ``t`` are
``prototype[label_t] + noise`` (seeded), the head classifies each unit from the LLM's
hidden state, the metric is per-unit accuracy (%). ``poison`` lists video indices
whose features are NaN (to drive the NaN/Inf handling).
"""
from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

import videollm_core
from videollm_core.base import Metric, TaskHead, VideoDataset
from videollm_core.errors import ConfigError


class ProtoDataset(VideoDataset):
    task = "proto"

    def __init__(self, feature_dim: int, num_videos: int = 16, length: int = 8, num_classes: int = 3, seed: int = 0,
                 poison: list[int] | None = None, on_error: str = "raise"):
        if num_videos < 1:
            raise ConfigError("num_videos must be >= 1", where="data.num_videos")
        protos = np.random.default_rng(1234).normal(size=(num_classes, feature_dim)).astype(np.float32)
        rng = np.random.default_rng(seed)
        self.num_classes = num_classes
        self.samples = []
        for i in range(num_videos):
            cut = int(rng.integers(1, length))
            a, b = rng.choice(num_classes, size=2, replace=False)
            labels = np.array([a] * cut + [b] * (length - cut), dtype=np.int64)
            feats = protos[labels] + 0.8 * rng.normal(size=(length, feature_dim)).astype(np.float32)
            if poison and i in poison:
                feats[:] = np.nan
            ts = np.stack([np.arange(length), np.arange(length) + 1.0], axis=1).astype(np.float32) * 0.5
            self.samples.append({"features": feats, "timestamps": ts, "targets": {"labels": labels},
                                 "meta": {"video_id": f"v{seed}_{i:03d}", "duration": length * 0.5}})

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, i: int) -> dict[str, Any]:
        return self.samples[i]

    def ground_truth(self) -> dict[str, list[int]]:
        return {s["meta"]["video_id"]: s["targets"]["labels"].tolist() for s in self.samples}

    def head_args(self) -> dict[str, Any]:
        return {"num_classes": self.num_classes}


class ProtoHead(TaskHead):
    task = "proto"

    def __init__(self, in_dim: int, num_classes: int = 3):
        super().__init__(in_dim)
        self.norm = nn.LayerNorm(in_dim)
        self.fc = nn.Linear(in_dim, num_classes)

    def forward(self, hidden, batch, stream) -> dict[str, Any]:
        """``hidden [B, N, H]`` -> ``logits [B, N, C]``."""
        return {"logits": self.fc(self.norm(hidden)), "mask": stream.visual.mask}

    def loss(self, outputs, batch) -> dict[str, torch.Tensor]:
        logits = outputs["logits"]
        labels = batch.targets["labels"][:, : logits.shape[1]]
        return {"loss": nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1), ignore_index=-100)}

    def predict(self, outputs, batch) -> list[dict[str, Any]]:
        pred = outputs["logits"].argmax(-1).cpu()
        mask = outputs["mask"].cpu()
        return [{"video_id": m["video_id"], "labels": pred[i][mask[i]].tolist()} for i, m in enumerate(batch.meta)]


class ProtoAccuracy(Metric):
    task = "proto"
    keys = ("acc", "loss_free")
    primary_key = "acc"
    higher_is_better = True

    def __init__(self, num_classes: int = 3):
        super().__init__()
        self.num_classes = num_classes

    def format_predictions(self, entries):
        return {e["video_id"]: e["labels"] for e in entries}

    def evaluate(self, predictions, ground_truth) -> dict[str, float]:
        hit = total = 0
        for vid, labels in ground_truth.items():
            pred = predictions.get(vid, [])
            hit += sum(int(p == g) for p, g in zip(pred, labels))
            total += len(labels)
        return {"acc": 100.0 * hit / max(1, total), "loss_free": float(len(predictions))}

    def plot(self, predictions, ground_truth, path, max_videos: int = 3) -> bool:
        from videollm_plugins.tasks.common.plots import plot_segment_timelines

        def segs(labels):
            out, start = [], 0
            for t in range(1, len(labels) + 1):
                if t == len(labels) or labels[t] != labels[start]:
                    out.append((start * 0.5, t * 0.5, f"c{labels[start]}"))
                    start = t
            return out

        vids = sorted(ground_truth)[:max_videos]
        plot_segment_timelines([{"video_id": v, "tracks": {"GT": segs(ground_truth[v]), "pred": segs(predictions.get(v, []))}}
                                for v in vids], path, title="proto: predictions vs ground truth")
        return True


@videollm_core.hookimpl
def videollm_register(registries) -> None:
    registries.datasets.register_module(name="ProtoDataset", module=ProtoDataset)
    registries.heads.register_module(name="ProtoHead", module=ProtoHead)
    registries.metrics.register_module(name="proto", module=ProtoAccuracy)


@videollm_core.hookimpl
def videollm_step_end(runner, step, logs) -> None:
    """Slow training down (``VIDEOLLM_TEST_STEP_SLEEP`` seconds per step) so a test can kill it mid-run."""
    import os
    import time

    delay = float(os.environ.get("VIDEOLLM_TEST_STEP_SLEEP", "0") or 0)
    if delay:
        time.sleep(delay)

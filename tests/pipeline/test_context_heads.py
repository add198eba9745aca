"""Every task head under ``model.context`` on a video far longer than its LLM's table: the batch
forward and the stream (pushes of many sizes) give the head the same inputs, per-unit heads the
same outputs, and caption heads the same captions (generated from the stream's own cache)."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from videollm_core import VideoBatch, build_pipeline, load_config

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "examples").glob("*.yaml"))
UNITS = 60  # units per video, with a 32-position table and a window of 24


def _pipeline(path: Path):
    cfg = load_config(path, {"model.llm.config.n_positions": 32, "model.context": {"window": 24, "sink": 4}})
    pipeline = build_pipeline(cfg).eval()
    torch.manual_seed(0)
    with torch.no_grad():  # untrained heads and translators: make every output depend on the input
        for p in pipeline.parameters():
            if p.requires_grad:
                p.normal_(0, 0.2)
    return pipeline


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_every_head_streams_like_the_batch_forward_past_the_table(path):
    pipeline = _pipeline(path)
    for task in pipeline.tasks:  # each task at its own encoder's width and unit size
        steps = UNITS * int(getattr(pipeline.encoder_for(task), "unit_size", 1))
        rest = steps - 28
        pushes = [5, 1, 1, 20, 1] + [100] * (rest // 100) + [rest % 100]
        feats = torch.randn(steps, pipeline.encoder_for(task).in_dim, generator=torch.Generator().manual_seed(1))
        start = torch.arange(steps, dtype=torch.float32)
        head = pipeline.heads[task]
        query = "where is the knife" if task in ("nlq", "qvhighlights") else None
        batch = VideoBatch(features=feats[None], mask=torch.ones(1, steps, dtype=torch.bool),
                           timestamps=torch.stack([start, start + 1], -1)[None], queries=[query] if query else None,
                           meta=[{"video_id": "v", "fps": 1.0, "first_step": 0, "duration": float(steps)}])
        seen: list = []
        handle = head.register_forward_pre_hook(lambda mod, args: seen.append(args[0].detach().clone()))
        with torch.no_grad():
            full = pipeline(batch, task)
        stream, parts, i = pipeline.stream(task=task, query=query), [], 0
        for n in pushes:
            parts.append(stream.push(feats[i : i + n]))
            i += n
        parts.append(stream.flush())
        handle.remove()
        parts = [p for p in parts if p is not None]
        assert stream.units == seen[0].shape[1] > 32
        assert (torch.cat(seen[1:], dim=1) - seen[0]).abs().max().item() < 1e-4, f"{path.stem}/{task}"
        if head.task == "oad":
            for key in head.classifiers:
                assert (torch.cat([p[key] for p in parts], 1) - full[key]).abs().max().item() < 1e-4, key
        if head.task == "anticipation":
            for key in ("verb", "noun", "action"):
                assert (parts[-1][key] - full[key]).abs().max().item() < 1e-4, key
        if head.task == "online_caption":
            assert parts[-1]["captions"] == full["captions"] and full["captions"][0]
        if head.task == "dense_caption":  # captions continue the bounded cache: as re-running the stream would
            with torch.no_grad():
                from_cache = head.predict(full, batch)
                full.pop("stream_cache")
                rerun = head.predict(full, batch)
            assert from_cache == rerun and from_cache[0]["events"]

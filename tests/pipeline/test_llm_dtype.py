"""An LLM loaded in another dtype than the rest of the pipeline (``model.llm.dtype: bfloat16``, as the paper
configs of OPT-2.7B, OPT-6.7B and LLaMA-7B load them) computes in its own dtype and answers in the
pipeline's: training, streaming and caption generation run without autocast (on a CPU)."""
from __future__ import annotations

from pathlib import Path

import torch

from videollm_core.config import load_config
from videollm_core.engine.runner import Runner
from videollm_core.pipeline import build_pipeline
from videollm_core.types import TokenSequence, VideoBatch, pack_segments

ROOT = Path(__file__).resolve().parents[2]


def test_packing_keeps_the_widest_dtype():
    text = TokenSequence(torch.ones(1, 2, 4, dtype=torch.bfloat16), torch.ones(1, 2, dtype=torch.bool), torch.zeros(1, 2, 2))
    units = TokenSequence(torch.full((1, 3, 4), 0.1234567), torch.ones(1, 3, dtype=torch.bool), torch.zeros(1, 3, 2))
    embeds, _, _ = pack_segments([text, units])
    assert embeds.dtype == torch.float32 and embeds[0, 2, 0].item() == units.embeds[0, 0, 0].item()  # no rounding to bf16


def test_a_bfloat16_llm_trains_and_streams_in_a_float32_pipeline(tmp_path, monkeypatch):
    monkeypatch.setenv("VIDEOLLM_CACHE", str(tmp_path / "cache"))
    cfg = load_config(ROOT / "examples" / "oad.yaml", {"model.llm.dtype": "bfloat16", "train.max_steps": 2,
                                                        "train.eval_every": 2, "train.warmup_steps": 1})
    runner = Runner(cfg, work_dir=tmp_path / "work")
    metrics = runner.train()
    assert {p.dtype for p in runner.pipeline.llm.parameters()} == {torch.bfloat16}
    assert {p.dtype for p in runner.pipeline.heads["oad"].parameters()} == {torch.float32}
    assert all(v == v for v in metrics.values())  # finite scores

    pipeline = build_pipeline(cfg).eval()
    feats = torch.randn(6, pipeline.encoder.in_dim, generator=torch.Generator().manual_seed(0))
    batch = VideoBatch(features=feats[None], mask=torch.ones(1, 6, dtype=torch.bool),
                       timestamps=torch.stack([torch.arange(6.0), torch.arange(6.0) + 1], -1)[None],
                       meta=[{"video_id": "v", "fps": 1.0, "first_step": 0, "duration": 6.0}])
    with torch.no_grad():
        full = pipeline(batch, "oad")
        stream = pipeline.stream(task="oad")
        parts = [stream.push(feats[:4]), stream.push(feats[4:]), stream.flush()]
    streamed = torch.cat([p["action"] for p in parts if p is not None], 1)
    assert full["action"].dtype == torch.float32
    assert (streamed - full["action"]).abs().max().item() < 0.1  # bf16 arithmetic: equal up to its rounding


def test_captions_from_a_bfloat16_llm(tmp_path, monkeypatch):
    monkeypatch.setenv("VIDEOLLM_CACHE", str(tmp_path / "cache"))
    cfg = load_config(ROOT / "examples" / "dense_caption.yaml", {"model.llm.dtype": "bfloat16", "train.max_steps": 1,
                                                                 "train.eval_every": 1, "train.warmup_steps": 0})
    metrics = Runner(cfg, work_dir=tmp_path / "work").train()
    assert "dense_caption/METEOR" in metrics or "dense_caption/CIDEr" in metrics

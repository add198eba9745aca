"""Streaming through the key/value cache equals the full forward (within 1e-4), for every
LLM family with Frozen, LoRA, PrefixTuning and PromptTuning, up to 512 units."""
from __future__ import annotations

import pytest
import torch

from videollm_core.pipeline import build_pipeline

from llm_zoo import pipeline_cfg


@pytest.mark.parametrize("tuner", ["Frozen", "LoRA", "PrefixTuning", "PromptTuning"])
def test_stream_equals_full_forward_512_units(family, tuner):
    torch.manual_seed(0)
    pipeline = build_pipeline(pipeline_cfg(family, tuner)).eval()
    if tuner in ("LoRA",):  # make the adapter non-trivial (LoRA B starts at zero)
        with torch.no_grad():
            for n, p in pipeline.llm.named_parameters():
                if "lora_B" in n:
                    p.normal_(0, 0.5)
    n_units = 512
    feats = torch.randn(n_units, 12, generator=torch.Generator().manual_seed(3))
    from videollm_core import VideoBatch

    start = torch.arange(n_units, dtype=torch.float32)
    batch = VideoBatch(features=feats[None], mask=torch.ones(1, n_units, dtype=torch.bool),
                       timestamps=torch.stack([start, start + 1], -1)[None], queries=["take the cup"])
    with torch.no_grad():
        full = pipeline(batch)["logits"][0]
    stream = pipeline.stream(batch_size=1, query="take the cup")
    outs, i = [], 0
    for chunk in [1, 1, 5, 64, 1, 200, 240]:  # 512 units in uneven pushes
        out = stream.push(feats[i : i + chunk])
        outs.append(out["logits"][0])
        i += chunk
    streamed = torch.cat(outs)
    assert streamed.shape == full.shape == (n_units, 5)
    assert (streamed - full).abs().max().item() < 1e-4
    assert stream.units == n_units


def test_stream_with_multi_token_units_and_unit_size():
    """QFormer makes k=2 tokens per unit (heads read the last); units of 3 steps complete
    only when their steps arrived."""
    torch.manual_seed(0)
    cfg = pipeline_cfg("gpt2", "PTuning",
                       encoder={"type": "TemporalUnitEncoder", "in_dim": 12, "unit_size": 3},
                       translator={"type": "QFormerTranslator", "num_queries": 2, "num_layers": 1, "num_heads": 2,
                                   "hidden_dim": 16})
    pipeline = build_pipeline(cfg).eval()
    from videollm_core import VideoBatch

    t = 30
    feats = torch.randn(t, 12, generator=torch.Generator().manual_seed(4))
    start = torch.arange(t, dtype=torch.float32)
    batch = VideoBatch(features=feats[None], mask=torch.ones(1, t, dtype=torch.bool),
                       timestamps=torch.stack([start, start + 1], -1)[None])
    with torch.no_grad():
        full = pipeline(batch)["logits"][0]
    stream = pipeline.stream()
    assert stream.push(feats[:2]) is None  # no complete unit yet
    outs = [stream.push(feats[2:7])["logits"][0], stream.push(feats[7:])["logits"][0]]
    assert [o.shape[0] for o in outs] == [2, 8]
    assert (torch.cat(outs) - full).abs().max().item() < 1e-4


def test_stream_batch_of_two_same_query_length():
    torch.manual_seed(0)
    pipeline = build_pipeline(pipeline_cfg("llama", "PrefixTuning")).eval()
    from videollm_core import VideoBatch

    feats = torch.randn(2, 20, 12, generator=torch.Generator().manual_seed(5))
    start = torch.arange(20, dtype=torch.float32)
    ts = torch.stack([start, start + 1], -1)[None].expand(2, 20, 2)
    queries = ["take the cup", "open the drawer"]
    batch = VideoBatch(features=feats, mask=torch.ones(2, 20, dtype=torch.bool), timestamps=ts, queries=queries)
    with torch.no_grad():
        full = pipeline(batch)["logits"]
    stream = pipeline.stream(batch_size=2, query=queries)
    got = torch.cat([stream.push(feats[:, :7])["logits"], stream.push(feats[:, 7:])["logits"]], 1)
    assert (got - full).abs().max().item() < 1e-4

"""``model.context: {window, sink}``: any length through a constant-size cache, batch forward equal
to streaming (unit by unit or many units per push) for every LLM family and tuner, positions
that never leave the model's table, and a clear error without a policy."""
from __future__ import annotations

import pytest
import torch

from videollm_core import VideoBatch
from videollm_core.errors import ConfigError
from videollm_core.pipeline import build_pipeline

from llm_zoo import FAMILIES, pipeline_cfg

WINDOW, SINK, TABLE = 192, 8, 256
#: 2,000 units in pushes of many sizes: one unit at a time at the start and across the first
#: eviction (the stream holds 6 text tokens and up to 3 virtual ones before the units).
PUSHES = [1] * 8 + [60] + [1] * 130 + [500, 1, 1, 300, 1000]


def _cfg(family: str, tuner: str = "Frozen", table: int = TABLE, context: dict | None = None) -> dict:
    cfg = pipeline_cfg(family, tuner)
    llm = cfg["model"]["llm"]["config"]
    if "n_positions" in llm:
        llm["n_positions"] = table
    elif "max_position_embeddings" in llm:
        llm["max_position_embeddings"] = table
    if context is not None:
        cfg["model"]["context"] = context
    return cfg


def _pipeline(cfg: dict):
    torch.manual_seed(0)
    pipeline = build_pipeline(cfg).eval()
    with torch.no_grad():  # LoRA's B starts at zero: make the adapter matter
        for name, p in pipeline.llm.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.5)
    return pipeline


def _video(n: int, query: str | None = "take the cup") -> tuple[torch.Tensor, VideoBatch]:
    feats = torch.randn(n, 12, generator=torch.Generator().manual_seed(3))
    start = torch.arange(n, dtype=torch.float32)
    return feats, VideoBatch(features=feats[None], mask=torch.ones(1, n, dtype=torch.bool),
                             timestamps=torch.stack([start, start + 1], -1)[None], queries=[query] if query else None)


def _streamed(pipeline, feats: torch.Tensor, pushes: list[int], query: str | None = "take the cup") -> tuple[torch.Tensor, object]:
    stream = pipeline.stream(query=query)
    outs, i = [], 0
    for n in pushes:
        outs.append(stream.push(feats[i : i + n])["logits"][0])
        i += n
    assert i == feats.shape[0] == stream.units
    return torch.cat(outs), stream


@pytest.mark.parametrize("tuner", ["Frozen", "LoRA", "PrefixTuning", "PromptTuning"])
def test_batch_forward_over_2000_units_equals_streaming(family, tuner):
    pipeline = _pipeline(_cfg(family, tuner, context={"window": WINDOW, "sink": SINK}))
    feats, batch = _video(sum(PUSHES))
    with torch.no_grad():
        full = pipeline(batch)["logits"][0]
    streamed, stream = _streamed(pipeline, feats, PUSHES)
    assert streamed.shape == full.shape == (2000, 5)
    assert (streamed - full).abs().max().item() < 1e-4
    kv = stream.cache.kv  # the window is full and bounded (compacted once past W - 1 + slack)
    assert WINDOW - 1 <= int(kv.length.max()) <= WINDOW - 1 + kv.slack


@pytest.mark.slow
@pytest.mark.parametrize("family,tuner", [("gpt2", "PrefixTuning"), ("llama", "PromptTuning"), ("t5-decoder", "LoRA")])
def test_unit_by_unit_streaming_over_2000_units_equals_batch(family, tuner):
    """One unit per push, one model per position scheme (absolute, rotary, T5 relative)."""
    pipeline = _pipeline(_cfg(family, tuner, context={"window": WINDOW, "sink": SINK}))
    feats, batch = _video(2000)
    with torch.no_grad():
        full = pipeline(batch)["logits"][0]
    streamed, _ = _streamed(pipeline, feats, [1] * 2000)
    assert (streamed - full).abs().max().item() < 1e-4


@pytest.mark.parametrize("family", ["gpt2", "llama"])
def test_streaming_20000_units_keeps_a_constant_cache(family):
    pipeline = _pipeline(_cfg(family, context={"window": WINDOW, "sink": SINK}))
    stream = pipeline.stream(query="take the cup")
    g = torch.Generator().manual_seed(5)
    sizes, pointers = set(), set()
    for n in [1] * 5 + [999] * 20:  # 19,985 units in big pushes (exact, tested above), then single units
        out = stream.push(torch.randn(n, 12, generator=g))
        assert out["logits"].shape == (1, n, 5) and bool(torch.isfinite(out["logits"]).all())
        kv = stream.cache.kv
        sizes.add((kv.nbytes, tuple(kv.keys[0].shape)))
        pointers.add(kv.keys[0].data_ptr())  # the pre-allocated buffer itself, never re-allocated
    for _ in range(15):
        stream.push(torch.randn(1, 12, generator=g))
        sizes.add((stream.cache.kv.nbytes, tuple(stream.cache.kv.keys[0].shape)))
    assert stream.units == 20000
    assert len(sizes) == 1 and len(pointers) == 1


def test_policy_changes_nothing_while_the_stream_fits(family):
    """Below the window the bounded cache computes exactly the plain forward pass."""
    feats, batch = _video(60)
    with torch.no_grad():
        plain = _pipeline(_cfg(family))(batch)["logits"]
        bounded = _pipeline(_cfg(family, context={"window": 128, "sink": 4}))(batch)["logits"]
    assert (plain - bounded).abs().max().item() < 1e-5


def test_padded_batch_equals_each_video_alone():
    """Right-padded videos of different lengths (and queries) under one policy: each as if alone."""
    pipeline = _pipeline(_cfg("llama", "PrefixTuning", context={"window": 40, "sink": 6}))
    feats = torch.randn(2, 150, 12, generator=torch.Generator().manual_seed(7))
    mask = torch.arange(150)[None] < torch.tensor([[150], [97]])
    start = torch.arange(150, dtype=torch.float32)
    ts = torch.stack([start, start + 1], -1)[None].expand(2, 150, 2)
    queries = ["take the cup", "open the drawer knife"]
    with torch.no_grad():
        both = pipeline(VideoBatch(features=feats, mask=mask, timestamps=ts, queries=queries))["logits"]
        for i, n in enumerate([150, 97]):
            alone = pipeline(VideoBatch(features=feats[i : i + 1, :n], mask=mask[i : i + 1, :n], timestamps=ts[i : i + 1, :n],
                                        queries=[queries[i]]))["logits"][0]
            assert (both[i, :n] - alone).abs().max().item() < 1e-4


@pytest.mark.parametrize("family", ["gpt2", "opt", "llama"])
def test_without_a_policy_a_stream_longer_than_the_table_is_a_clear_error(family):
    pipeline = _pipeline(_cfg(family, table=32))
    feats, batch = _video(40)
    with pytest.raises(ConfigError) as err, torch.no_grad():
        pipeline(batch)
    text = err.value.render()
    assert "46 positions" in text and "at most 32" in text and "model.context" in text  # 6 text tokens + 40 units
    stream = pipeline.stream(query="take the cup")
    stream.push(feats[:20])
    with pytest.raises(ConfigError, match="at most 32"):
        stream.push(feats[20:])


def test_positions_stay_inside_a_short_table_under_a_policy():
    """GPT-2 with a 24-position table runs 500 units (the unpatched model raises IndexError past 24)."""
    pipeline = _pipeline(_cfg("gpt2", table=24, context={"window": 24, "sink": 8}))
    feats, batch = _video(500)
    with torch.no_grad():
        full = pipeline(batch)["logits"][0]
    streamed, _ = _streamed(pipeline, feats, [7, 1, 1, 200, 291])
    assert (streamed - full).abs().max().item() < 1e-4


@pytest.mark.parametrize("context,match", [
    ({"window": 300, "sink": 8}, "longer than the 256 positions"),
    ({"window": 64, "sink": 2}, "smaller than the tuner's 3 virtual tokens"),
    ({"window": 8, "sink": 8}, r"model.context.sink: sink \(8\) must be smaller than window"),  # validation's one rule
    ({"window": 64}, "model.context: missing 'sink'"),
])
def test_bad_policies_are_config_errors(context, match):
    with pytest.raises(ConfigError, match=match):
        build_pipeline(_cfg("gpt2", "PromptTuning", context=context))


def test_gradient_checkpointing_is_refused_under_a_policy():
    cfg = _cfg("gpt2", context={"window": 64, "sink": 4})
    cfg["model"]["llm"]["gradient_checkpointing"] = True
    with pytest.raises(ConfigError, match="gradient_checkpointing"):
        build_pipeline(cfg)


def test_generation_continues_a_fork_of_the_bounded_cache():
    """Greedy text after a long bounded stream: forking leaves the stream's cache as it was."""
    pipeline = _pipeline(_cfg("opt", context={"window": 32, "sink": 4}))
    llm = pipeline.llm
    embeds = torch.randn(1, 100, 32, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        hidden, cache = llm(embeds, torch.ones(1, 100, dtype=torch.bool), use_cache=True)
        before = [t.clone() for t in cache.kv.keys]
        first = llm.generate(None, None, max_new_tokens=5, cache=cache.fork(), last_hidden=hidden[:, -1])
        again = llm.generate(None, None, max_new_tokens=5, cache=cache.fork(), last_hidden=hidden[:, -1])
    assert first == again
    assert all(torch.equal(a, b) for a, b in zip(before, cache.kv.keys))


def test_families_cover_every_position_scheme():
    from videollm_plugins.llms.context import position_scheme

    kinds = {position_scheme(_pipeline(_cfg(f)).llm.backbone)[0] for f in FAMILIES}
    assert kinds == {"absolute", "rotary", "relative"}

"""Semantic translators: shapes, per-unit expansion, streaming, gradients, errors, registry build."""
from __future__ import annotations

import pytest
import torch

from videollm_core import ConfigError, DataError, REGISTRIES, TokenSequence
from videollm_plugins.translators.projection import LinearTranslator, MLPTranslator
from videollm_plugins.translators.qformer import QFormerTranslator


def units(b: int = 2, n: int = 5, d: int = 8, lengths: tuple[int, ...] = (5, 3), seed: int = 0) -> TokenSequence:
    g = torch.Generator().manual_seed(seed)
    mask = torch.arange(n)[None, :] < torch.tensor(lengths)[:, None]
    start = torch.arange(n, dtype=torch.float32)[None, :, None].expand(b, n, 1)
    spans = torch.cat([start, start + 1.0], -1) * mask[..., None]
    return TokenSequence(embeds=torch.randn(b, n, d, generator=g), mask=mask, spans=spans)


TRANSLATORS = [
    ("LinearTranslator", {}),
    ("MLPTranslator", {"hidden_dim": 16, "num_layers": 3, "activation": "silu"}),
    ("QFormerTranslator", {"num_queries": 3, "num_layers": 2, "num_heads": 2, "hidden_dim": 16}),
    ("QFormerTranslator", {"num_queries": 2, "num_layers": 1, "num_heads": 4, "hidden_dim": 16, "window": 3}),
]


def build(name: str, args: dict, in_dim: int = 8, out_dim: int = 12):
    torch.manual_seed(0)
    return REGISTRIES.translators.build({"type": name, **args}, where="model.translator",
                                        default_args={"in_dim": in_dim, "out_dim": out_dim})


@pytest.mark.parametrize("name,args", TRANSLATORS)
def test_shapes_mask_spans_repeated_per_unit(name, args):
    tr = build(name, args)
    k = tr.tokens_per_unit
    tokens = units()
    out = tr(tokens)
    assert out.embeds.shape == (2, 5 * k, 12)
    assert torch.equal(out.mask, tokens.mask.repeat_interleave(k, 1))
    assert torch.equal(out.spans[:, ::k], tokens.spans)
    assert torch.equal(out.spans[:, k - 1::k], tokens.spans)


@pytest.mark.parametrize("name,args", TRANSLATORS)
def test_units_depend_only_on_themselves_and_the_past(name, args):
    tr = build(name, args)
    k = tr.tokens_per_unit
    tokens = units()
    changed = TokenSequence(tokens.embeds.clone(), tokens.mask, tokens.spans)
    changed.embeds[:, 3] += 1.0  # alter unit 3: units 0..2 must not move
    a, b = tr(tokens).embeds, tr(changed).embeds
    assert torch.allclose(a[:, : 3 * k], b[:, : 3 * k], atol=1e-6)
    assert not torch.allclose(a[:, 3 * k: 4 * k], b[:, 3 * k: 4 * k])


@pytest.mark.parametrize("name,args", TRANSLATORS)
@pytest.mark.parametrize("chunks", [[1, 1, 1, 1, 1], [2, 3], [5]])
def test_stream_equals_forward(name, args, chunks):
    tr = build(name, args).eval()
    tokens = units(b=1, lengths=(5,))
    full = tr(tokens)
    stream, outs, pos = tr.open_stream(), [], 0
    for c in chunks:
        part = TokenSequence(tokens.embeds[:, pos:pos + c], tokens.mask[:, pos:pos + c], tokens.spans[:, pos:pos + c])
        outs.append(stream.push(part))
        pos += c
    got = torch.cat([o.embeds for o in outs], 1)
    assert got.shape == full.embeds.shape
    assert torch.allclose(got, full.embeds, atol=1e-6)
    assert torch.equal(torch.cat([o.spans for o in outs], 1), full.spans)


@pytest.mark.parametrize("name,args", TRANSLATORS)
def test_every_parameter_gets_a_gradient(name, args):
    tr = build(name, args)
    tokens = units()
    out = tr(tokens)
    (out.embeds[out.mask] ** 2).mean().backward()
    missing = [n for n, p in tr.named_parameters() if p.grad is None or p.grad.abs().sum() == 0]
    assert missing == []


@pytest.mark.parametrize("name,args", TRANSLATORS)
def test_zero_units(name, args):
    tr = build(name, args)
    out = tr(TokenSequence(torch.zeros(2, 0, 8), torch.zeros(2, 0, dtype=torch.bool), torch.zeros(2, 0, 2)))
    assert out.embeds.shape == (2, 0, 12)


def test_padded_units_do_not_produce_nan():
    tr = build("QFormerTranslator", {"num_queries": 2, "num_heads": 2, "hidden_dim": 8, "window": 2})
    tokens = units(lengths=(5, 0))
    assert torch.isfinite(tr(tokens).embeds).all()


def test_qformer_window_uses_previous_units():
    tr = build("QFormerTranslator", {"num_queries": 2, "num_heads": 2, "hidden_dim": 8, "window": 2})
    tokens = units()
    changed = TokenSequence(tokens.embeds.clone(), tokens.mask, tokens.spans)
    changed.embeds[:, 1] += 1.0
    a, b = tr(tokens).embeds, tr(changed).embeds
    assert not torch.allclose(a[:, 4:6], b[:, 4:6])  # unit 2 sees unit 1
    assert torch.allclose(a[:, 6:], b[:, 6:], atol=1e-6)  # unit 3 does not


def test_linear_is_a_linear_map():
    tr = build("LinearTranslator", {})
    tokens = units()
    expected = tokens.embeds @ tr.proj.weight.T + tr.proj.bias
    assert torch.allclose(tr(tokens).embeds, expected, atol=1e-6)


def test_mlp_layer_count_and_one_layer_is_linear():
    assert sum(isinstance(m, torch.nn.Linear) for m in MLPTranslator(8, 12, num_layers=3).modules()) == 3
    assert sum(isinstance(m, torch.nn.Linear) for m in MLPTranslator(8, 12, num_layers=1).modules()) == 1


def test_wrong_input_dim_names_both_numbers():
    with pytest.raises(DataError, match=r"token dim 8 .*in_dim 16"):
        LinearTranslator(16, 12)(units())


def test_bad_arguments():
    with pytest.raises(ConfigError, match="activation"):
        MLPTranslator(8, 12, activation="swish")
    with pytest.raises(ConfigError, match="num_heads"):
        QFormerTranslator(8, 12, hidden_dim=10, num_heads=4)
    with pytest.raises(ConfigError, match="num_queries"):
        QFormerTranslator(8, 12, num_queries=0)
    with pytest.raises(ConfigError, match="unknown argument 'depth'"):
        build("MLPTranslator", {"depth": 3})


# -- the Q-Former sees the steps inside each unit ---------------------------------------
def step_units(seed: int = 0, unit_size: int = 4, t: int = 18):
    """Per-step features unitized by the real encoder: units with their ``steps``."""
    from videollm_core import VideoBatch
    from videollm_plugins.encoders.unitization import TemporalUnitEncoder

    g = torch.Generator().manual_seed(seed)
    feats = torch.randn(2, t, 8, generator=g)
    mask = torch.arange(t)[None, :] < torch.tensor([t, t - 7])[:, None]
    start = torch.arange(t, dtype=torch.float32)[None, :, None].expand(2, t, 1)
    batch = VideoBatch(feats, mask, torch.cat([start, start + 1.0], -1))
    return TemporalUnitEncoder(8, unit_size=unit_size), batch


@pytest.mark.parametrize("window", [1, 3])
def test_qformer_attends_to_the_steps_not_their_mean(window):
    tr = build("QFormerTranslator", {"num_queries": 2, "num_heads": 2, "hidden_dim": 16, "window": window})
    enc, batch = step_units()
    units = enc(batch)
    assert units.steps.shape == (2, 5, 4, 8) and units.step_mask[1].sum() == 11
    swapped = batch.features.clone()
    swapped[:, 4:8] = batch.features[:, 4:8].flip(1) + torch.tensor([1.0, -1.0, 0.5, -0.5])[None, :, None]  # unit 1
    from videollm_core import VideoBatch

    changed = enc(VideoBatch(swapped, batch.mask, batch.timestamps))
    assert torch.allclose(changed.embeds, units.embeds, atol=1e-6)  # the pooled units are the same
    a, b = tr(units).embeds, tr(changed).embeds
    k = tr.tokens_per_unit
    assert not torch.allclose(a[:, k:2 * k], b[:, k:2 * k], atol=1e-4)  # unit 1 translates differently
    assert torch.allclose(a[:, :k], b[:, :k], atol=1e-6)  # unit 0 does not move
    if window == 1:
        assert torch.allclose(a[:, 2 * k:], b[:, 2 * k:], atol=1e-6)


def test_qformer_default_every_parameter_gets_a_gradient_with_steps():
    tr = build("QFormerTranslator", {})
    enc, batch = step_units(unit_size=1)  # one step per unit: the null key/value keeps attention query-dependent
    out = tr(enc(batch))
    (out.embeds[out.mask] ** 2).mean().backward()
    missing = [n for n, p in tr.named_parameters() if p.grad is None or p.grad.abs().sum() == 0]
    assert missing == []


@pytest.mark.parametrize("window", [1, 2])
@pytest.mark.parametrize("chunks", [[1] * 18, [5, 6, 7], [18]])
def test_qformer_stream_with_steps_equals_forward(window, chunks):
    tr = build("QFormerTranslator", {"num_queries": 3, "num_heads": 2, "hidden_dim": 16, "window": window}).eval()
    enc, batch = step_units()
    video = batch.features[:1]
    times = batch.timestamps[0]
    from videollm_core import VideoBatch

    full = tr(enc(VideoBatch(video, torch.ones(1, 18, dtype=torch.bool), times[None])))
    units, trs, outs, pos = enc.open_stream(), tr.open_stream(), [], 0
    for c in chunks:
        got = units.push(video[0, pos:pos + c], times[pos:pos + c])
        pos += c
        if got is not None:
            outs.append(trs.push(got))
    tail = units.flush()  # 18 steps = 4 full units + a partial one of 2 steps
    outs.append(trs.push(tail))
    streamed = torch.cat([o.embeds for o in outs], 1)
    assert streamed.shape == full.embeds.shape
    assert torch.allclose(streamed, full.embeds, atol=1e-5)

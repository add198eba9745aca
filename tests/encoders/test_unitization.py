"""TemporalUnitEncoder: units, spans, masks, partial units, overlap, streaming, errors."""
from __future__ import annotations

import pytest
import torch

from videollm_core import ConfigError, DataError, REGISTRIES, TokenSequence, VideoBatch
from videollm_plugins.encoders.unitization import TemporalUnitEncoder


def make_batch(lengths: list[int], dim: int = 4, step: float = 0.5, seed: int = 0) -> VideoBatch:
    """Right-padded random features; step i of every video covers [i*step, (i+1)*step) s."""
    g = torch.Generator().manual_seed(seed)
    t = max(lengths)
    feats = torch.randn(len(lengths), t, dim, generator=g)
    mask = torch.arange(t)[None, :] < torch.tensor(lengths)[:, None]
    starts = torch.arange(t, dtype=torch.float32) * step
    ts = torch.stack([starts, starts + step], -1).expand(len(lengths), t, 2).clone()
    feats[~mask] = 0.0
    ts[~mask] = 0.0
    return VideoBatch(features=feats, mask=mask, timestamps=ts, meta=[{"video_id": str(i)} for i in range(len(lengths))])


def stream_all(enc: TemporalUnitEncoder, feats: torch.Tensor, ts: torch.Tensor, chunks: list[int]) -> TokenSequence:
    """Push ``feats [T, D]`` in chunks, then flush; concatenate what came out."""
    stream, outs, pos = enc.open_stream(), [], 0
    for c in chunks:
        out = stream.push(feats[pos:pos + c], ts[pos:pos + c])
        pos += c
        if out is not None:
            outs.append(out)
    assert pos == feats.shape[0]
    tail = stream.flush()
    if tail is not None:
        outs.append(tail)
    return TokenSequence(
        embeds=torch.cat([o.embeds for o in outs], 1),
        mask=torch.cat([o.mask for o in outs], 1),
        spans=torch.cat([o.spans for o in outs], 1),
    )


def test_unit_size_one_is_identity_with_spans():
    batch = make_batch([5, 3])
    out = TemporalUnitEncoder(in_dim=4)(batch)
    assert out.embeds.shape == (2, 5, 4)
    assert torch.equal(out.mask, batch.mask)
    assert torch.equal(out.embeds, batch.features)
    assert torch.equal(out.spans, batch.timestamps)


def test_mean_units_partial_tail_and_padding():
    batch = make_batch([7, 4])
    out = TemporalUnitEncoder(in_dim=4, unit_size=3)(batch)
    # video 0: units [0,1,2] [3,4,5] [6]; video 1: [0,1,2] [3] + one padded unit
    assert out.embeds.shape == (2, 3, 4)
    assert out.mask.tolist() == [[True, True, True], [True, True, False]]
    f = batch.features
    assert torch.allclose(out.embeds[0, 1], f[0, 3:6].mean(0))
    assert torch.allclose(out.embeds[0, 2], f[0, 6])  # partial unit: its one real step
    assert torch.allclose(out.embeds[1, 1], f[1, 3])
    assert torch.equal(out.embeds[1, 2], torch.zeros(4))
    assert out.spans[0].tolist() == [[0.0, 1.5], [1.5, 3.0], [3.0, 3.5]]
    assert out.spans[1].tolist() == [[0.0, 1.5], [1.5, 2.0], [0.0, 0.0]]


def test_drop_partial_keeps_only_full_units():
    batch = make_batch([7, 4])
    out = TemporalUnitEncoder(in_dim=4, unit_size=3, drop_partial=True)(batch)
    assert out.mask.tolist() == [[True, True], [True, False]]
    assert out.spans[0].tolist() == [[0.0, 1.5], [1.5, 3.0]]


def test_max_pooling_ignores_padding():
    batch = make_batch([5])
    batch.features[0, 4] = -100.0  # the real step of the partial unit is very negative
    out = TemporalUnitEncoder(in_dim=4, unit_size=2, pooling="max")(batch)
    assert torch.equal(out.embeds[0, 0], batch.features[0, :2].amax(0))
    assert torch.equal(out.embeds[0, 2], torch.full((4,), -100.0))  # padding (zeros) is not taken


def test_overlapping_units():
    batch = make_batch([7])
    out = TemporalUnitEncoder(in_dim=4, unit_size=4, stride=2)(batch)
    # starts 0, 2, 4, 6 -> ceil(7 / 2) = 4 units, the last two partial
    assert out.embeds.shape[1] == 4
    f = batch.features[0]
    assert torch.allclose(out.embeds[0, 1], f[2:6].mean(0))
    assert torch.allclose(out.embeds[0, 2], f[4:7].mean(0))
    assert out.spans[0].tolist() == [[0.0, 2.0], [1.0, 3.0], [2.0, 3.5], [3.0, 3.5]]


def test_stride_larger_than_unit_skips_steps():
    batch = make_batch([7])
    out = TemporalUnitEncoder(in_dim=4, unit_size=2, stride=3)(batch)
    f = batch.features[0]
    assert out.spans[0].tolist() == [[0.0, 1.0], [1.5, 2.5], [3.0, 3.5]]
    assert torch.allclose(out.embeds[0, 1], f[3:5].mean(0))


@pytest.mark.parametrize("pooling", ["mean", "max", "attention"])
@pytest.mark.parametrize("unit_size,stride,drop", [(1, None, False), (3, None, False), (4, 2, False), (2, 3, False), (3, 2, True)])
@pytest.mark.parametrize("chunks", [[1] * 11, [5, 6], [11], [2, 0, 4, 5]])
def test_stream_equals_forward(pooling, unit_size, stride, drop, chunks):
    torch.manual_seed(0)
    enc = TemporalUnitEncoder(in_dim=4, unit_size=unit_size, stride=stride, pooling=pooling, out_dim=6, drop_partial=drop)
    if enc.attention is not None:
        torch.nn.init.normal_(enc.attention.score.weight)  # not the mean-pooling start
    batch = make_batch([11])
    full = enc(batch)
    got = stream_all(enc, batch.features[0], batch.timestamps[0], chunks)
    n = int(full.mask.sum())
    assert got.embeds.shape == (1, n, 6)
    assert got.mask.all()
    assert torch.allclose(got.embeds, full.embeds[:, :n], atol=1e-6)
    assert torch.allclose(got.spans, full.spans[:, :n], atol=1e-6)


def test_stream_push_returns_only_complete_units():
    enc = TemporalUnitEncoder(in_dim=4, unit_size=3)
    batch = make_batch([7])
    stream = enc.open_stream()
    assert stream.push(batch.features[0, :2], batch.timestamps[0, :2]) is None
    out = stream.push(batch.features[0, 2:7], batch.timestamps[0, 2:7])
    assert out.embeds.shape == (1, 2, 4)
    tail = stream.flush()
    assert tail.spans.tolist() == [[[3.0, 3.5]]]
    assert stream.flush() is None


def test_attention_pooling_trains_and_differs_from_mean():
    torch.manual_seed(0)
    batch = make_batch([6, 4])
    enc = TemporalUnitEncoder(in_dim=4, unit_size=3, pooling="attention")
    mean = TemporalUnitEncoder(in_dim=4, unit_size=3)(batch)
    out = enc(batch)
    assert torch.allclose(out.embeds, mean.embeds, atol=1e-6)  # zero-initialised scores = mean
    (out.embeds[out.mask] ** 3).sum().backward()
    assert enc.attention.score.weight.grad.abs().sum() > 0
    with torch.no_grad():
        enc.attention.score.weight.fill_(1.0)
    assert not torch.allclose(enc(batch).embeds[0, 0], mean.embeds[0, 0])


def test_mean_and_max_have_no_parameters_unless_projected():
    assert sum(p.numel() for p in TemporalUnitEncoder(in_dim=4, unit_size=2).parameters()) == 0
    assert sum(p.numel() for p in TemporalUnitEncoder(in_dim=4, unit_size=2, out_dim=4).parameters()) == 0
    assert sum(p.numel() for p in TemporalUnitEncoder(in_dim=4, out_dim=8).parameters()) == 4 * 8 + 8


def test_wrong_feature_dim_names_both_numbers():
    enc = TemporalUnitEncoder(in_dim=8)
    with pytest.raises(DataError, match=r"feature dim 4 .*in_dim 8"):
        enc(make_batch([3], dim=4))
    with pytest.raises(DataError, match=r"feature dim 4 .*in_dim 8"):
        enc.open_stream().push(torch.zeros(2, 4), torch.zeros(2, 2))
    with pytest.raises(DataError, match="timestamps"):
        enc.open_stream().push(torch.zeros(2, 8), torch.zeros(3, 2))


def test_bad_arguments_raise_config_errors():
    with pytest.raises(ConfigError, match="unit_size"):
        TemporalUnitEncoder(in_dim=4, unit_size=0)
    with pytest.raises(ConfigError, match="pooling"):
        TemporalUnitEncoder(in_dim=4, pooling="median")
    with pytest.raises(ConfigError, match="pooling"):
        REGISTRIES.encoders.build({"type": "TemporalUnitEncoder", "in_dim": 4, "pooling": "median"}, where="model.encoder")


def test_empty_batch_gives_zero_units():
    batch = VideoBatch(features=torch.zeros(2, 0, 4), mask=torch.zeros(2, 0, dtype=torch.bool), timestamps=torch.zeros(2, 0, 2))
    out = TemporalUnitEncoder(in_dim=4, unit_size=2)(batch)
    assert out.embeds.shape == (2, 0, 4)

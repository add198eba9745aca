"""Unit tests of videollm-example-plugin's components (no LLM involved)."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from videollm_core import DataError, StreamInputs, TokenSequence, pad_collate
from videollm_example_plugin.dataset import ExampleDataset
from videollm_example_plugin.demo import write_demo
from videollm_example_plugin.encoder import ExampleEncoder
from videollm_example_plugin.head import ExampleHead, unit_labels
from videollm_example_plugin.metric import ExampleAccuracy
from videollm_example_plugin.translator import ExampleTranslator


@pytest.fixture
def data_root(tmp_path):
    write_demo(tmp_path, num_videos=8, steps=12, feature_dim=6, fps=2.0, seed=3)
    return tmp_path


def test_dataset_reads_the_layout(data_root):
    train = ExampleDataset(str(data_root), split="train", fps=2.0, feature_dim=6)
    val = ExampleDataset(str(data_root), split="val", fps=2.0, feature_dim=6)
    assert len(train) == 6 and len(val) == 2
    assert train.class_names() == val.class_names() == ["action0", "action1", "action2"]
    sample = train[0]
    assert sample["features"].shape == (12, 6)
    np.testing.assert_allclose(sample["timestamps"][1], [0.5, 1.0])
    assert (sample["targets"]["labels"] >= 0).all()  # demo segments cover every step
    assert train.head_args() == {"num_classes": 3}
    assert set(val.ground_truth()) == set(val.video_ids)


def test_dataset_errors_raise_or_skip(data_root):
    np.save(data_root / "features" / "video_000.npy", np.full((12, 6), np.nan, dtype=np.float32))
    with pytest.raises(DataError, match="NaN"):
        ExampleDataset(str(data_root), split="train", feature_dim=6)
    with pytest.raises(DataError, match=r"expected \[T, 7\]"):
        ExampleDataset(str(data_root), split="val", feature_dim=7)
    skipping = ExampleDataset(str(data_root), split="train", feature_dim=6, on_error="skip")
    assert len(skipping) == 5 and len(skipping.skipped) == 1 and "video_000.npy: features hold NaN" in skipping.skipped[0]
    with (data_root / "annotations.csv").open("a") as f:
        f.write("video_001,train,5,2,action0\n")
    with pytest.raises(DataError, match="start > end") as info:
        ExampleDataset(str(data_root), split="train", feature_dim=6)
    assert info.value.where.endswith(":" + str(len((data_root / "annotations.csv").read_text().splitlines())))


def _batch(t: int = 5, dim: int = 4):
    feats = torch.randn(t, dim)
    ts = torch.stack([torch.arange(t), torch.arange(t) + 1.0], 1) * 0.5
    return pad_collate([{"features": feats, "timestamps": ts, "targets": {"labels": torch.tensor([0, 0, 1, 1, 1][:t])}, "meta": {"video_id": "a"}},
                        {"features": feats[:3], "timestamps": ts[:3], "targets": {"labels": torch.tensor([2, 2, 2])}, "meta": {"video_id": "b"}}])


def test_encoder_units_spans_and_causality():
    torch.manual_seed(0)
    enc = ExampleEncoder(in_dim=4, out_dim=8, kernel_size=3, unit_size=2)
    batch = _batch()
    tokens = enc(batch)
    assert tokens.embeds.shape == (2, 3, 8)
    assert tokens.mask.tolist() == [[True, True, True], [True, True, False]]
    # unit 2 of video a is partial (step 4 only); unit 1 of video b is partial (step 2 only)
    assert tokens.spans[0].tolist() == [[0.0, 1.0], [1.0, 2.0], [2.0, 2.5]]
    assert tokens.spans[1].tolist() == [[0.0, 1.0], [1.0, 1.5], [0.0, 0.0]]
    changed = dataclasses.replace(batch, features=batch.features.clone())
    changed.features[0, 4] += 10.0  # the future must not change earlier units
    assert torch.allclose(enc(changed).embeds[0, :2], tokens.embeds[0, :2])


def test_translator_is_gated_linear():
    tr = ExampleTranslator(in_dim=8, out_dim=5)
    seq = TokenSequence(torch.randn(2, 3, 8), torch.ones(2, 3, dtype=torch.bool), torch.zeros(2, 3, 2))
    out = tr(seq).embeds
    expected = tr.value(seq.embeds) * torch.sigmoid(tr.gate(seq.embeds))
    assert out.shape == (2, 3, 5) and torch.allclose(out, expected)


def test_unit_labels_take_the_nearest_step():
    batch = _batch()
    spans = torch.tensor([[[0.0, 1.0], [1.0, 2.0], [2.0, 2.5]], [[0.0, 1.0], [1.0, 1.5], [0.0, 0.0]]])
    mask = torch.tensor([[True, True, True], [True, True, False]])
    # unit centres 0.5, 1.5, 2.25 s; step centres 0.25, 0.75, ... -> first nearest step wins
    assert unit_labels(batch.targets["labels"], batch.timestamps, batch.mask, spans, mask).tolist() == [[0, 1, 1], [2, 2, -100]]


def test_head_learns_and_predicts_segments():
    torch.manual_seed(0)
    batch = _batch()
    spans = torch.tensor([[[0.0, 1.0], [1.0, 2.0], [2.0, 2.5]], [[0.0, 1.0], [1.0, 1.5], [0.0, 0.0]]])
    mask = torch.tensor([[True, True, True], [True, True, False]])
    stream = StreamInputs(visual=TokenSequence(torch.zeros(2, 3, 4), mask, spans), embeds=torch.zeros(2, 3, 4),
                          mask=mask, visual_positions=torch.arange(3).expand(2, 3))
    head = ExampleHead(in_dim=16, num_classes=3)
    hidden = torch.randn(2, 3, 16)
    opt = torch.optim.Adam(head.parameters(), lr=0.05)
    first = head.loss(head(hidden, batch, stream), batch)["loss"].item()
    for _ in range(50):
        opt.zero_grad()
        loss = head.loss(head(hidden, batch, stream), batch)["loss"]
        loss.backward()
        opt.step()
    assert loss.item() < 0.1 * first
    entries = head.predict(head(hidden, batch, stream), batch)
    assert entries == [{"video_id": "a", "segments": [[0.0, 1.0, 0], [1.0, 2.5, 1]]}, {"video_id": "b", "segments": [[0.0, 1.5, 2]]}]


def test_metric_hand_computed_and_files(tmp_path):
    metric = ExampleAccuracy(classes=["x", "y"])
    gt = {"a": [(0.0, 2.0, "x"), (2.0, 4.0, "y")], "b": [(0.0, 4.0, "x")]}
    pred = metric.format_predictions([{"video_id": "a", "segments": [[0.0, 3.0, 0], [3.0, 4.0, 1]]}])
    # a: x covers 2 s of 2, y covers 1 s of 2; b: nothing predicted -> 3 of 8 s
    assert metric.evaluate(pred, gt) == {"accuracy": pytest.approx(100 * 3 / 8)}
    path = tmp_path / "pred.csv"
    metric.save_predictions(pred, path)
    assert metric.load_predictions(path) == pred
    with pytest.raises(DataError, match="overlap"):
        metric.evaluate({"a": [(0.0, 3.0, "x"), (2.0, 4.0, "y")]}, gt)
    assert metric.evaluate({}, {}) == {"accuracy": 0.0}

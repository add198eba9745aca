"""The paper's next-token branch of the online action detection head (``next_token: true``): its
targets are the labels of the next unit of the same sample, it trains through the Runner on the
EK100 demo, streaming gives the full forward's numbers for every output, and the default head
(``next_token: false``) is the same head as before, parameter for parameter."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from controls import EXAMPLES, train_example
from videollm_core import VideoBatch, build_pipeline, load_config
from videollm_core.types import StreamInputs, TokenSequence
from videollm_plugins.tasks.common.units import IGNORE_INDEX as IGN
from videollm_plugins.tasks.oad.dataset import EK100OADDataset
from videollm_plugins.tasks.oad.head import LABEL_KEYS, OnlineActionDetectionHead, next_unit_targets

NEXT_ON = {"model.head.next_token": True}
DEMO = {"num_videos": 16, "seed": 0, "feature_dim": 32}


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """One demo cache for the module (the example's datasets size the head)."""
    return tmp_path_factory.mktemp("cache")


def _hand_batch() -> tuple[VideoBatch, StreamInputs]:
    """Two samples, one unit per 0.25 s step: 5 real steps, and 3 real steps (one unlabelled) + 2 padded."""
    mask = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]], dtype=torch.bool)
    start = torch.arange(5, dtype=torch.float32) * 0.25
    ts = torch.stack([start, start + 0.25], -1).expand(2, 5, 2) * mask[..., None]
    action = torch.tensor([[1, 2, 0, 3, 4], [2, IGN, 1, IGN, IGN]])
    targets = {"action": action, "verb": action.clamp(max=2), "noun": torch.where(action >= 0, action % 2, action)}
    batch = VideoBatch(torch.zeros(2, 5, 3), mask, ts, targets=targets, meta=[{"video_id": "a"}, {"video_id": "b"}])
    vis = TokenSequence(torch.zeros(2, 5, 8), mask, ts)
    return batch, StreamInputs(vis, vis.embeds, mask, torch.zeros(2, 5, dtype=torch.long))


def test_next_branch_targets_are_the_next_unit_of_the_same_sample():
    batch, stream = _hand_batch()
    # the shift by itself: none past a sample's last real unit, none into padding, unlabelled stays unlabelled
    assert next_unit_targets(batch.targets["action"], batch.mask).tolist() == [[2, 0, 3, 4, IGN], [IGN, 1, IGN, IGN, IGN]]
    torch.manual_seed(0)
    head = OnlineActionDetectionHead(8, 5, 3, 2, next_token=True, next_token_weight=0.5)
    out = head(torch.randn(2, 5, 8), batch, stream)
    parts = head.loss(out, batch)
    assert set(parts) == {"loss", *(f"loss_{k}" for k in LABEL_KEYS), *(f"loss_next_{k}" for k in LABEL_KEYS)}
    for key in LABEL_KEYS:
        per_unit = head.unit_targets(key, batch, out)
        expected = torch.cat([per_unit[:, 1:], torch.full((2, 1), IGN)], 1)
        expected[1, 2:] = IGN  # sample b's last real unit (2) and its padding have no next unit
        ce = nn.functional.cross_entropy(out[f"next_{key}"].flatten(0, 1), expected.flatten(), ignore_index=IGN)
        assert torch.equal(parts[f"loss_next_{key}"], ce), key
    current = sum(parts[f"loss_{k}"] for k in LABEL_KEYS) / 3
    following = sum(parts[f"loss_next_{k}"] for k in LABEL_KEYS) / 3
    assert torch.allclose(parts["loss"], current + 0.5 * following)
    parts["loss"].backward()  # both branches train
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in head.parameters())


def test_default_head_is_unchanged_and_the_current_branch_does_not_move():
    batch, stream = _hand_batch()
    hidden = torch.randn(2, 5, 8)
    torch.manual_seed(0)
    head = OnlineActionDetectionHead(8, 5, 3, 2)
    torch.manual_seed(0)
    reference = {k: nn.Linear(8, n) for k, n in zip(LABEL_KEYS, (5, 3, 2))}  # what the head always built, in this order
    assert [n for n, _ in head.named_parameters()] == [f"classifiers.{k}.{w}" for k in LABEL_KEYS for w in ("weight", "bias")]
    assert list(head.state_dict()) == [n for n, _ in head.named_parameters()]
    assert sum(p.numel() for p in head.parameters()) == 9 * (5 + 3 + 2)
    out = head(hidden, batch, stream)
    assert set(out) == {*LABEL_KEYS, "spans", "unit_mask"}
    for key, linear in reference.items():
        assert torch.equal(out[key], linear(hidden)), key
    parts = head.loss(out, batch)
    assert list(parts) == [*(f"loss_{k}" for k in LABEL_KEYS), "loss"]
    assert torch.equal(parts["loss"], sum(parts[f"loss_{k}"] for k in LABEL_KEYS) / 3)
    # next_token adds its own classifiers after the current ones: same current scores, twice the parameters
    torch.manual_seed(0)
    both = OnlineActionDetectionHead(8, 5, 3, 2, next_token=True)
    out_both = both(hidden, batch, stream)
    assert all(torch.equal(out_both[k], out[k]) for k in LABEL_KEYS)
    assert sum(p.numel() for p in both.parameters()) == 2 * 9 * (5 + 3 + 2)
    # predict reads the current branch only: the same entries, the same keys
    for mine, theirs in zip(head.predict(out, batch), both.predict(out_both, batch)):
        assert mine.keys() == theirs.keys() and all(np.array_equal(mine[k], theirs[k]) for k in LABEL_KEYS)


def test_streaming_unit_by_unit_equals_the_full_forward_for_every_output(cache, monkeypatch):
    monkeypatch.setenv("VIDEOLLM_CACHE", str(cache))
    torch.manual_seed(0)
    pipeline = build_pipeline(load_config(EXAMPLES / "oad.yaml", NEXT_ON)).eval()
    head = pipeline.heads["oad"]
    assert head.next_token and set(head.next_classifiers) == set(LABEL_KEYS)
    steps, d = 10, pipeline.encoder.in_dim
    feats = torch.randn(steps, d, generator=torch.Generator().manual_seed(1))
    start = torch.arange(steps, dtype=torch.float32)
    batch = VideoBatch(feats[None], torch.ones(1, steps, dtype=torch.bool), torch.stack([start, start + 1], -1)[None],
                       meta=[{"video_id": "v", "fps": 1.0, "first_step": 0}])
    with torch.no_grad():
        full = pipeline(batch, "oad")
        stream = pipeline.stream(task="oad")
        parts = [stream.push(feats[i: i + 1]) for i in range(steps)] + [stream.flush()]
    parts = [p for p in parts if p]
    keys = [k for k, v in full.items() if isinstance(v, torch.Tensor) and v.is_floating_point() and k != "spans"]
    assert sorted(keys) == sorted([*LABEL_KEYS, *(f"next_{k}" for k in LABEL_KEYS)])
    for key in [*keys, "spans", "unit_mask"]:
        streamed = torch.cat([p[key] for p in parts], 1)
        assert streamed.shape == full[key].shape, key
        assert (streamed.float() - full[key].float()).abs().max().item() < 1e-4, key
    # the per-unit answers name the current classes and the forecast with the recorded names
    names = [f"action_{i}" for i in range(head.classifiers["action"].out_features - 1)]
    answers = head.stream_answer(parts[0], 0, 1, top=2, class_names=names)
    assert answers[0]["unit"] == 0 and {"action", "next_action", "verb", "next_noun"} <= set(answers[0])
    assert all(c in names + ["background"] for key in ("action", "next_action") for c, _ in answers[0][key])


def test_trains_on_the_ek100_demo_through_the_runner(cache, tmp_path, monkeypatch):
    monkeypatch.setenv("VIDEOLLM_CACHE", str(cache))
    val = EK100OADDataset(split="validation", window=16.0, demo=DEMO)
    batch = val.collate([val[i] for i in range(4)])

    def losses(pipeline) -> dict[str, float]:
        with torch.no_grad():
            return {k: float(v) for k, v in pipeline.loss(pipeline.eval()(batch, "oad"), batch, "oad").items()}

    torch.manual_seed(0)
    before = losses(build_pipeline(load_config(EXAMPLES / "oad.yaml", NEXT_ON)))
    metrics, _, runner = train_example("oad", tmp_path, monkeypatch, **NEXT_ON, **{"train.max_steps": 60, "train.eval_every": 60})
    after = losses(runner.pipeline)
    assert all(math.isfinite(metrics[f"oad/{k}"]) for k in ("mAP", "action/mean_top5_recall", "verb/mean_top5_recall"))
    assert {f"loss_next_{k}" for k in LABEL_KEYS} <= set(after) and all(math.isfinite(v) for v in after.values())
    assert after["loss_next_action"] < before["loss_next_action"] and after["loss_action"] < before["loss_action"], (before, after)

"""Runner parts without a pipeline: schedules, weight decay groups, data order, checkpoints."""
from __future__ import annotations

import math
import random

import numpy as np
import pytest
import torch
from torch import nn

from videollm_core.engine import checkpoint as ckpt
from videollm_core.errors import ConfigError
from videollm_core.engine.optim import build_optimizer, build_scheduler, param_groups
from videollm_core.engine.sampling import StepBatchSampler, consumed_batches, task_schedule
from videollm_core.sections import ContextConfig, TrainConfig, read_section


def _factors(name: str, warmup: int, total: int, steps) -> list[float]:
    """The learning-rate factor at each optimizer step of `steps` (lr 1.0)."""
    opt = torch.optim.AdamW([nn.Parameter(torch.zeros(2))], lr=1.0)
    sched, out = build_scheduler(opt, name, warmup, total), {}
    for s in range(max(steps) + 1):
        out[s] = opt.param_groups[0]["lr"]
        opt.step()
        sched.step()
    return [out[s] for s in steps]


def test_scheduler_shapes():
    """transformers.get_scheduler's schedules, warmup first (the module docstring's formulas)."""
    assert _factors("cosine", 2, 10, (0, 1, 2, 6, 10)) == pytest.approx([0.0, 0.5, 1.0, 0.5, 0.0])
    assert _factors("linear", 2, 10, (6, 10)) == pytest.approx([0.5, 0.0])
    assert _factors("constant", 2, 10, (1, 2, 9)) == pytest.approx([0.5, 1.0, 1.0])
    assert _factors("cosine", 0, 4, range(4)) == pytest.approx([0.5 * (1 + math.cos(math.pi * s / 4)) for s in range(4)])
    with pytest.raises(ConfigError) as e:
        build_scheduler(torch.optim.AdamW([nn.Parameter(torch.zeros(2))]), "step", 0, 10)
    assert e.value.where == "train.scheduler"


def test_no_weight_decay_on_norms_and_biases():
    model = nn.Sequential(nn.Linear(4, 4), nn.LayerNorm(4), nn.Linear(4, 2, bias=False))
    model[2].weight.requires_grad_(False)
    groups = {g["weight_decay"]: set(g["names"]) for g in param_groups(model, 0.1)}
    assert groups == {0.1: {"0.weight"}, 0.0: {"0.bias", "1.weight", "1.bias"}}
    opt = build_optimizer(model, 1e-3, 0.1)
    assert sum(len(g["params"]) for g in opt.param_groups) == 4  # the frozen weight is left out
    model.requires_grad_(False)
    with pytest.raises(ConfigError):
        build_optimizer(model, 1e-3, 0.1)


def test_settings_are_typed_with_defaults_and_errors_name_the_key():
    _, (problem,) = read_section(TrainConfig, {"on_nan": "ignore"}, "train")
    assert problem.where == "train.on_nan" and "one of stop, skip" in str(problem)
    s, problems = read_section(TrainConfig, {"scheduler": {"type": "linear"}, "clip_grad": None, "log_with": "none"}, "train")
    assert problems == [] and (s.scheduler, s.clip_grad, s.log_with, s.lr) == ("linear", None, [], 1e-3)
    _, problems = read_section(TrainConfig, {"lr": 0, "grad_acum": 2}, "train")
    assert [(p.where, p.hint) for p in problems] == [("train.grad_acum", "did you mean 'grad_accum'?"), ("train.lr", None)]
    context, problems = read_section(ContextConfig, {"window": 8, "sink": 8}, "model.context")  # one rule: sink < window
    assert [p.where for p in problems] == ["model.context.sink"]
    _, problems = read_section(ContextConfig, {"window": 1}, "model.context")
    assert [p.where for p in problems] == ["model.context", "model.context.window"]  # sink missing; window >= 2


def _take(sampler, n):
    it = iter(sampler)
    return [next(it) for _ in range(n)]


def test_sampler_is_resumable_and_shards_like_a_bigger_batch():
    full = _take(StepBatchSampler(10, 4, seed=3), 6)
    assert _take(StepBatchSampler(10, 4, seed=3, start=4), 2) == full[4:]
    epoch0 = [i for b in full[:2] for i in b]
    assert len(set(epoch0)) == 8  # no repeats inside an epoch (the incomplete last batch is dropped)
    r0 = _take(StepBatchSampler(10, 2, seed=3, rank=0, world_size=2), 6)
    r1 = _take(StepBatchSampler(10, 2, seed=3, rank=1, world_size=2), 6)
    assert [a + b for a, b in zip(r0, r1)] == full  # 2 processes x 2 == 1 process x 4
    tiny = _take(StepBatchSampler(3, 4, seed=0), 2)
    assert all(len(b) == 4 for b in tiny)  # a dataset smaller than a batch wraps around


def test_task_schedule_is_seeded_and_weighted():
    a = task_schedule([1.0, 3.0], 4000, seed=5)
    assert torch.equal(a, task_schedule([1.0, 3.0], 4000, seed=5))
    assert 0.72 < a.float().mean().item() < 0.78
    assert consumed_batches(a, 10, 2) == [int((a[:10] == 0).sum()), int((a[:10] == 1).sum())]
    assert task_schedule([2.0], 5, seed=0).tolist() == [0] * 5


def test_rng_state_round_trip_with_weights_only(tmp_path):
    random.seed(1), np.random.seed(2), torch.manual_seed(3)
    ckpt.save_rng(tmp_path / "rng.pt")
    expected = (random.random(), np.random.rand(), torch.rand(1).item())
    random.seed(9), np.random.seed(9), torch.manual_seed(9)
    ckpt.load_rng(tmp_path / "rng.pt")  # torch.load(weights_only=True) inside
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == expected


def test_checkpoint_listing_prune_and_partial(tmp_path):
    for step in (2, 4, 6, 8):
        d = tmp_path / ckpt.step_dir_name(step)
        d.mkdir()
        ckpt.write_json_atomic(d / ckpt.STATE_FILE, {"step": step})
    (tmp_path / ".tmp-step_00000010").mkdir()  # a save killed half-way
    (tmp_path / "step_00000012").mkdir()  # no state.json: never complete
    assert [s for s, _ in ckpt.list_checkpoints(tmp_path)] == [2, 4, 6, 8]
    assert ckpt.latest_checkpoint(tmp_path).name == "step_00000008"
    assert ckpt.prune(tmp_path, keep_last=2, keep={2}) == [4]
    assert [s for s, _ in ckpt.list_checkpoints(tmp_path)] == [2, 6, 8]
    assert [p.name for p in ckpt.remove_partial(tmp_path)] == [".tmp-step_00000010"]
    ckpt.write_json_atomic(tmp_path / ckpt.BEST_FILE, {"step": 6})
    assert ckpt.best_checkpoint(tmp_path).name == "step_00000006"


def test_weights_round_trip(tmp_path):
    sd = {"a.weight": torch.randn(3, 2).t(), "b": torch.arange(4.0)}  # a non-contiguous view too
    ckpt.save_weights(sd, tmp_path / "w.safetensors")
    back = ckpt.load_weights(tmp_path / "w.safetensors")
    assert set(back) == set(sd) and all(torch.equal(back[k], sd[k]) for k in sd)

"""Feature steps <-> visual units: the mapping every task head uses."""
from __future__ import annotations

import pytest
import torch

from videollm_plugins.tasks.common.units import (
    gather_units, last_real_unit, last_unit_before, step_to_unit, steps_to_units, units_to_steps,
)


def grid(t: int, step: float = 0.25) -> torch.Tensor:
    i = torch.arange(t, dtype=torch.float32)
    return torch.stack([i * step, (i + 1) * step], -1).unsqueeze(0)  # [1, T, 2]


def test_units_of_two_steps_last_and_majority():
    ts = grid(6)  # steps of 0.25 s
    spans = torch.tensor([[[0.0, 0.5], [0.5, 1.0], [1.0, 1.5]]])
    umask = torch.ones(1, 3, dtype=torch.bool)
    assert step_to_unit(ts, spans, umask).tolist() == [[0, 0, 1, 1, 2, 2]]
    labels = torch.tensor([[1, 2, 3, 3, -100, 4]])
    assert steps_to_units(labels, ts, spans, umask).tolist() == [[2, 3, 4]]  # label of each unit's last step
    assert steps_to_units(labels, ts, spans, umask, reduce="majority").tolist() == [[1, 3, 4]]  # tie 1-2 -> lowest id


def test_padding_and_uncovered_steps():
    ts = grid(5)
    spans = torch.tensor([[[0.0, 0.5], [0.5, 1.0], [0.0, 0.0]]])  # third unit is padding; step 4 is a dropped partial unit
    umask = torch.tensor([[True, True, False]])
    smask = torch.tensor([[True, True, True, True, True]])
    assert step_to_unit(ts, spans, umask, smask).tolist() == [[0, 0, 1, 1, -1]]
    out = steps_to_units(torch.tensor([[5, 6, 7, 8, 9]]), ts, spans, umask, smask)
    assert out.tolist() == [[6, 8, -100]]
    back = units_to_steps(torch.tensor([[[1.0], [2.0], [3.0]]]), ts, spans, umask, smask, fill=-1.0)
    assert back[..., 0].tolist() == [[1.0, 1.0, 2.0, 2.0, -1.0]]


def test_float_targets_and_bad_reduce():
    ts, spans, umask = grid(2), torch.tensor([[[0.0, 0.5]]]), torch.ones(1, 1, dtype=torch.bool)
    soft = torch.tensor([[[1.0, 0.0], [0.2, 0.8]]])
    assert torch.equal(steps_to_units(soft, ts, spans, umask), soft[:, 1:])
    with pytest.raises(ValueError):
        steps_to_units(torch.tensor([[1, 2]]), ts, spans, umask, reduce="mean")


def test_last_unit_before_is_causal():
    spans = torch.tensor([[[0.0, 1.0], [1.0, 2.0], [2.0, 3.0]]])
    umask = torch.tensor([[True, True, False]])
    times = torch.tensor([[0.5, 1.0, 2.9, 10.0]])
    # 0.5 s: nothing complete; 1.0 s: unit 0 ended exactly then (>= counts); padded unit 2 never counts
    assert last_unit_before(times, spans, umask).tolist() == [[-1, 0, 1, 1]]


def test_gather_and_last_real():
    hidden = torch.arange(2 * 3 * 2, dtype=torch.float32).view(2, 3, 2)
    mask = torch.tensor([[True, True, False], [True, True, True]])
    last = last_real_unit(mask)
    assert last.tolist() == [1, 2]
    assert gather_units(hidden, last).tolist() == [[2.0, 3.0], [10.0, 11.0]]
    assert gather_units(hidden, torch.tensor([[0, 2], [1, -1]])).shape == (2, 2, 2)

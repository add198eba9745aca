"""Map per-feature-step and per-second targets onto visual units, and back.

The encoder turns `T` feature steps (`timestamps [B, T, 2]` seconds) into `N`
visual units (`spans [B, N, 2]` seconds, `unit_mask [B, N]`). Datasets state their
targets on feature steps (per-frame labels) or in seconds (segment boundaries,
observation times); heads read one hidden state per unit. These helpers are the only
place that converts between the two grids:

* `step_to_unit` -- for every feature step, the unit that contains its centre.
* `steps_to_units` -- per-step targets `[B, T, ...]` -> per-unit `[B, N, ...]`
  (value of the unit's last step: the frame the online model must label when the
  unit arrives, or the majority label).
* `units_to_steps` -- per-unit outputs `[B, N, ...]` -> per-step `[B, T, ...]`.
* `last_unit_before` -- for times in seconds `[B, K]`, the last unit that has
  completely ended by then (what an online model has observed).
"""
from __future__ import annotations

import torch
from torch import Tensor

IGNORE_INDEX = -100
_EPS = 1e-6


def step_to_unit(timestamps: Tensor, spans: Tensor, unit_mask: Tensor, step_mask: Tensor | None = None) -> Tensor:
    """Index of the unit containing each feature step's centre.

    Args:
        timestamps: `[B, T, 2]` seconds, start/end of each feature step.
        spans: `[B, N, 2]` seconds, start/end of each unit.
        unit_mask: `[B, N]` bool, real units.
        step_mask: `[B, T]` bool, real steps (default: all).

    Returns:
        `[B, T]` long unit index, `-1` for padded steps or steps no unit covers
        (e.g. a trailing partial unit the encoder dropped).
    """
    centre = timestamps.float().mean(-1)  # [B, T]
    start, end = spans[..., 0].float(), spans[..., 1].float()  # [B, N]
    inside = (centre.unsqueeze(-1) >= start.unsqueeze(1) - _EPS) & (centre.unsqueeze(-1) < end.unsqueeze(1) + _EPS)
    inside &= unit_mask.bool().unsqueeze(1)
    found = inside.any(-1)
    # first containing unit (units do not overlap for TemporalUnitEncoder; if they do, the earliest wins)
    index = torch.where(found, inside.float().argmax(-1), torch.full_like(found, -1, dtype=torch.long))
    if step_mask is not None:
        index = torch.where(step_mask.bool(), index, torch.full_like(index, -1))
    return index.long()


def steps_to_units(
    targets: Tensor,
    timestamps: Tensor,
    spans: Tensor,
    unit_mask: Tensor,
    step_mask: Tensor | None = None,
    *,
    reduce: str = "last",
    ignore_index: int = IGNORE_INDEX,
) -> Tensor:
    """Per-step targets `[B, T, ...]` -> per-unit targets `[B, N, ...]`.

    Args:
        targets: `[B, T]` long class ids (`ignore_index` where unlabelled) or
            `[B, T, C]` float (multi-hot / soft targets).
        reduce: `"last"` takes the unit's last covered step (online: the label of the
            newest frame when the unit arrives); `"majority"` the most frequent
            class among its labelled steps (long targets only; ties -> lowest id).

    Returns:
        `[B, N, ...]` with `ignore_index` (long) or 0 (float) on units no step maps to.
    """
    b, t = targets.shape[:2]
    n = spans.shape[1]
    unit = step_to_unit(timestamps, spans, unit_mask, step_mask)  # [B, T]
    fill = ignore_index if not targets.is_floating_point() else 0
    out = targets.new_full((b, n) + tuple(targets.shape[2:]), fill)
    if reduce == "last":
        step_idx = torch.arange(t, device=targets.device).expand(b, t)
        last = torch.full((b, n + 1), -1, dtype=torch.long, device=targets.device)
        slot = torch.where(unit >= 0, unit, torch.full_like(unit, n))  # unmapped steps go to a spare slot
        last.scatter_reduce_(1, slot, step_idx, reduce="amax", include_self=True)
        last = last[:, :n]
        has = last >= 0
        gathered = torch.gather(targets, 1, last.clamp(min=0).view(b, n, *([1] * (targets.dim() - 2))).expand(b, n, *targets.shape[2:]))
        out = torch.where(has.view(b, n, *([1] * (targets.dim() - 2))), gathered, out)
        return out
    if reduce == "majority":
        if targets.is_floating_point() or targets.dim() != 2:
            raise ValueError("reduce='majority' needs [B, T] integer targets")
        valid = (unit >= 0) & (targets != ignore_index) & (targets >= 0)
        num_classes = int(targets[valid].max().item()) + 1 if valid.any() else 1
        counts = torch.zeros(b, n + 1, num_classes, dtype=torch.long, device=targets.device)
        slot = torch.where(valid, unit, torch.full_like(unit, n))
        cls = torch.where(valid, targets, torch.zeros_like(targets))
        counts.view(b, -1).scatter_add_(1, slot * num_classes + cls, valid.long())
        counts = counts[:, :n]
        best = counts.argmax(-1)  # first max -> lowest class id on ties
        return torch.where(counts.sum(-1) > 0, best, out)
    raise ValueError(f"unknown reduce {reduce!r}; use 'last' or 'majority'")


def units_to_steps(values: Tensor, timestamps: Tensor, spans: Tensor, unit_mask: Tensor, step_mask: Tensor | None = None, fill: float = 0.0) -> Tensor:
    """Per-unit outputs `[B, N, ...]` -> per-step `[B, T, ...]` (each step takes its unit's value).

    Steps no unit covers get `fill`.
    """
    b, n = values.shape[:2]
    unit = step_to_unit(timestamps, spans, unit_mask, step_mask)  # [B, T]
    t = unit.shape[1]
    idx = unit.clamp(min=0).view(b, t, *([1] * (values.dim() - 2))).expand(b, t, *values.shape[2:])
    out = torch.gather(values, 1, idx)
    keep = (unit >= 0).view(b, t, *([1] * (values.dim() - 2)))
    return torch.where(keep, out, torch.full_like(out, fill))


def last_unit_before(times: Tensor, spans: Tensor, unit_mask: Tensor) -> Tensor:
    """For times `[B, K]` seconds, the last unit whose end is `<= time` (`[B, K]` long, -1 if none).

    This is what a causal model has fully observed at that time (anticipation reads the
    hidden state of that unit).
    """
    end = spans[..., 1].float()  # [B, N]
    done = (end.unsqueeze(1) <= times.float().unsqueeze(-1) + _EPS) & unit_mask.bool().unsqueeze(1)  # [B, K, N]
    n = spans.shape[1]
    pos = torch.arange(n, device=spans.device).view(1, 1, n).expand_as(done)
    return torch.where(done, pos, torch.full_like(pos, -1)).amax(-1)


def last_real_unit(unit_mask: Tensor) -> Tensor:
    """`[B]` long index of the last real unit of each sequence (-1 when it has none)."""
    n = unit_mask.shape[1]
    pos = torch.arange(n, device=unit_mask.device).expand_as(unit_mask)
    return torch.where(unit_mask.bool(), pos, torch.full_like(pos, -1)).amax(-1)


def gather_units(hidden: Tensor, index: Tensor) -> Tensor:
    """`hidden [B, N, H]`, `index [B]` or `[B, K]` long -> `[B, H]` / `[B, K, H]` (index -1 reads unit 0)."""
    b = hidden.shape[0]
    idx = index.clamp(min=0)
    if idx.dim() == 1:
        return hidden[torch.arange(b, device=hidden.device), idx]
    return torch.gather(hidden, 1, idx.unsqueeze(-1).expand(*idx.shape, hidden.shape[-1]))


__all__ = ["IGNORE_INDEX", "step_to_unit", "steps_to_units", "units_to_steps", "last_unit_before", "last_real_unit", "gather_units"]

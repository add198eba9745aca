"""Event proposals from per-unit boundary heatmaps, actionness and sub-unit boundary offsets.

Five channels per real unit (``spans [N, 2]`` seconds, unit ``n`` covers
``[spans[n, 0], spans[n, 1]]``), see :data:`CHANNELS`:

* ``start`` / ``end`` -- is an event's start / end inside this unit (heatmaps, BCE);
* ``actionness`` -- does the unit's centre lie inside an event (BCE);
* ``start_offset`` / ``end_offset`` -- where inside the unit the boundary lies, as a
  fraction of the unit's length in ``[0, 1]`` (sigmoid, L1 on the boundary units only).
  Units pool several feature steps, so without offsets every boundary would be rounded
  to a unit edge (2 s for 2-step units of 1 s features).

Decoding (:func:`decode_proposals`): start and end candidates are peaks of their heatmaps
(local maxima at or above ``min_prob``, or above half of the video's maximum when nothing
reaches it). Each start peak ``i`` and end peak ``j >= i`` form the segment
``[t_start(i), t_end(j)]``, ``t(n) = spans[n, 0] + offset(n) * (spans[n, 1] - spans[n, 0])``,
scored as the probability that exactly one event runs from ``i`` to ``j``::

    p_start(i) * p_end(j) * mean actionness(i..j) * prod over units k = i+2 .. j-2 of
    (1 - p_start(k)) * (1 - p_end(k))

i.e. no other boundary inside it (a boundary the model cannot place between two
neighbouring units spreads over both, so the units next to ``i`` and ``j`` count as
theirs). A pair spanning another event's boundaries -- the "one segment to the end of
the video" failure of plain start x end pairing -- scores near zero. Segments scoring
below ``min_score`` are dropped, greedy NMS (:func:`..common.detection.nms`) removes
near-duplicates and at most ``max_events`` remain, best first.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from ..common.detection import nms

#: proposal channels, in order.
CHANNELS = ("start", "end", "actionness", "start_offset", "end_offset")


def unit_of_time(times: Tensor, spans: Tensor) -> Tensor:
    """``times [K]`` s, ``spans [N, 2]`` s (real units only) -> ``[K]`` index of the unit containing each time (clamped)."""
    ends = spans[:, 1].contiguous()
    return torch.searchsorted(ends, times.contiguous().to(ends.dtype), right=True).clamp(max=len(ends) - 1)


def proposal_targets(events: Tensor, spans: Tensor) -> Tensor:
    """``events [K, 2]`` s, ``spans [N, 2]`` s -> ``[N, 5]`` float targets in :data:`CHANNELS` order.

    Offsets are set on the units holding a boundary (the other units' offsets are unused);
    when two boundaries share a unit the later event's offset wins.
    """
    n = spans.shape[0]
    out = torch.zeros(n, len(CHANNELS), device=spans.device)
    if events.numel() == 0 or n == 0:
        return out
    events = events.to(spans.device, spans.dtype)
    length = (spans[:, 1] - spans[:, 0]).clamp(min=1e-6)
    for col, times in ((0, events[:, 0]), (1, (events[:, 1] - 1e-4).clamp(min=0))):
        units = unit_of_time(times, spans)
        out[units, col] = 1.0
        out[units, col + 3] = ((times - spans[units, 0]) / length[units]).clamp(0.0, 1.0).float()
    centre = spans.mean(-1)
    inside = (centre[:, None] >= events[None, :, 0]) & (centre[:, None] < events[None, :, 1])
    out[:, 2] = inside.any(-1).float()
    return out


def _peaks(p: np.ndarray, min_prob: float) -> list[int]:
    thr = min(min_prob, 0.5 * float(p.max())) if len(p) else min_prob
    return [i for i in range(len(p)) if p[i] >= thr and (i == 0 or p[i] >= p[i - 1]) and (i == len(p) - 1 or p[i] > p[i + 1])]


def boundary_times(probs: np.ndarray, spans: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``probs [N, 5]`` (offsets as probabilities), ``spans [N, 2]`` s -> start and end time ``[N]`` s of each unit."""
    length = spans[:, 1] - spans[:, 0]
    return spans[:, 0] + probs[:, 3] * length, spans[:, 0] + probs[:, 4] * length


def decode_proposals(
    probs: np.ndarray, spans: np.ndarray, *, max_events: int = 10, nms_tiou: float = 0.5, min_prob: float = 0.3,
    min_score: float = 0.0, max_units: int | None = None,
) -> list[tuple[float, float, float]]:
    """``probs [N, 5]`` (:data:`CHANNELS`, after the sigmoid), ``spans [N, 2]`` s -> ``[(start_s, end_s, score)]``, best first."""
    if len(probs) == 0:
        return []
    starts, ends = _peaks(probs[:, 0], min_prob), _peaks(probs[:, 1], min_prob)
    t_start, t_end = boundary_times(probs, spans)
    act = np.concatenate([[0.0], np.cumsum(probs[:, 2])])
    # log P(no boundary in unit k), cumulated: a segment pays for every other boundary inside it
    inner = np.log1p(-np.clip(probs[:, :2], 0.0, 1.0 - 1e-6)).sum(-1)
    inner_cum = np.concatenate([[0.0], np.cumsum(inner)])
    segs, scores = [], []
    for i in starts:
        for j in ends:
            if j < i or (max_units is not None and j - i + 1 > max_units):
                continue
            s, e = float(t_start[i]), float(t_end[j])
            if e <= s:
                continue
            between = inner_cum[j - 1] - inner_cum[i + 2] if j - 1 > i + 2 else 0.0  # units i+2 .. j-2
            score = probs[i, 0] * probs[j, 1] * (act[j + 1] - act[i]) / (j - i + 1) * np.exp(between)
            if score >= min_score:
                segs.append((s, e))
                scores.append(float(score))
    if not segs:  # nothing scores: the best start to the best end after it
        i = int(probs[:, 0].argmax())
        j = i + int(probs[i:, 1].argmax())
        return [(float(spans[i, 0]), float(spans[j, 1]), float(probs[i, 0] * probs[j, 1]))]
    keep = nms(np.array(segs), np.array(scores), iou_threshold=nms_tiou, max_keep=max_events)
    return [(segs[k][0], segs[k][1], scores[k]) for k in keep]

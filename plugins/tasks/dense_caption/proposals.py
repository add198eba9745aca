"""Event proposals from per-unit boundary and actionness scores (BSN-style).

Targets (training): for each real unit, ``start`` = 1 on the unit containing an event's
start, ``end`` = 1 on the unit containing its end, ``actionness`` = 1 when the unit's
centre lies inside an event. Decoding (inference): start and end candidates are the
units whose probability is a local maximum above ``min_prob`` (or above half of the
video's maximum); every start/end pair in order makes a segment
``[span_start(i), span_end(j)]`` scored ``p_start(i) * p_end(j) * mean actionness(i..j)``;
greedy NMS (:func:`..common.detection.nms`) keeps the best ``max_events``.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from ..common.detection import nms


def unit_of_time(times: Tensor, spans: Tensor) -> Tensor:
    """``times [K]`` s, ``spans [N, 2]`` s (real units only) -> ``[K]`` index of the unit containing each time (clamped)."""
    ends = spans[:, 1].contiguous()
    return torch.searchsorted(ends, times.contiguous().to(ends.dtype), right=True).clamp(max=len(ends) - 1)


def proposal_targets(events: Tensor, spans: Tensor) -> Tensor:
    """``events [K, 2]`` s, ``spans [N, 2]`` s -> ``[N, 3]`` float targets (start, end, actionness)."""
    n = spans.shape[0]
    out = torch.zeros(n, 3, device=spans.device)
    if events.numel() == 0 or n == 0:
        return out
    events = events.to(spans.device, spans.dtype)
    out[unit_of_time(events[:, 0], spans), 0] = 1.0
    out[unit_of_time((events[:, 1] - 1e-4).clamp(min=0), spans), 1] = 1.0
    centre = spans.mean(-1)
    inside = (centre[:, None] >= events[None, :, 0]) & (centre[:, None] < events[None, :, 1])
    out[:, 2] = inside.any(-1).float()
    return out


def _peaks(p: np.ndarray, min_prob: float) -> list[int]:
    thr = min(min_prob, 0.5 * float(p.max())) if len(p) else min_prob
    return [i for i in range(len(p)) if p[i] >= thr and (i == 0 or p[i] >= p[i - 1]) and (i == len(p) - 1 or p[i] >= p[i + 1])]


def decode_proposals(
    probs: np.ndarray, spans: np.ndarray, *, max_events: int = 10, nms_tiou: float = 0.5, min_prob: float = 0.3, max_units: int | None = None
) -> list[tuple[float, float, float]]:
    """``probs [N, 3]`` (start, end, actionness), ``spans [N, 2]`` s -> ``[(start_s, end_s, score)]``, best first."""
    if len(probs) == 0:
        return []
    starts, ends = _peaks(probs[:, 0], min_prob), _peaks(probs[:, 1], min_prob)
    act = np.concatenate([[0.0], np.cumsum(probs[:, 2])])
    segs, scores = [], []
    for i in starts:
        for j in ends:
            if j < i or (max_units is not None and j - i + 1 > max_units):
                continue
            segs.append((float(spans[i, 0]), float(spans[j, 1])))
            scores.append(float(probs[i, 0] * probs[j, 1] * (act[j + 1] - act[i]) / (j - i + 1)))
    if not segs:  # no ordered pair: the best start to the best end after it
        i = int(probs[:, 0].argmax())
        j = i + int(probs[i:, 1].argmax())
        return [(float(spans[i, 0]), float(spans[j, 1]), float(probs[i, 0] * probs[j, 1]))]
    keep = nms(np.array(segs), np.array(scores), iou_threshold=nms_tiou, max_keep=max_events)
    return [(segs[k][0], segs[k][1], scores[k]) for k in keep]

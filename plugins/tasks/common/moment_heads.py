"""The moment-localisation head NLQ and QVHighlights share: start / end / inside scores per
visual unit -> ranked windows (`MomentBoundaryHead`, with `window_targets` and
`rank_windows`; while streaming, `StreamWindows`).

The query's tokens come first in the LLM stream (`model.query_position: before`), so every
visual unit's hidden state has seen the query; with `after` (the paper's order for retrieval
tasks: the query appended after the visual memory) the query's tokens have seen the whole video
and the units have not seen the query, so the head must fuse the query's state (below). For
each unit `i` the head predicts three logits: the window starts in this unit, ends in it, or
covers it. Training: cross-entropy of the start (end) logits over
the video's units against the unit(s) holding a GT window's start (end) (a soft target
when there are several GT windows), plus binary cross-entropy of the inside logits against
the units whose centre lies in a GT window. Decoding: every pair `i <= j` scores
`log p_start(i) + log p_end(j) + inside_weight * mean_{i<=u<=j} log sigmoid(inside_u)`;
pairs are taken best first, skipping any with `tIoU > nms_iou` to one already taken, and
turned into seconds `[span_i.start, span_j.end]` clipped to the video.

Query fusion (`query_fusion=True`, the default): the scores of unit `i` are read from
`[h_i, h_i * W q]` where `q [B, H]` is the LLM's hidden state at the last text token
(task prompt + query) of the same stream -- the causal LM's summary of the query. The
visual hidden states may carry the query only weakly (a small or frozen LLM mixes it in
slowly), and without it several planted events of one clip are indistinguishable; the
product lets the head match a unit against the query directly. `q` is read from the
stream's hidden states (`StreamInputs.hidden`), else from a second LLM pass over the text
prefix only (`S_text` tokens; with causal attention it equals the stream's hidden state
there). With the query after the units (`StreamInputs.query_positions` set), `q` is the
state at the last query token, which has attended to the prompt, every unit and the query:
the units alone cannot know the query, so `query_fusion=False` is refused there. Under
`pipeline.stream()` heads see no text tokens: use `query_fusion=False` and
`query_position: before` there (a pipeline with `after` refuses to stream a query).

Task heads subclass `MomentBoundaryHead` and add `predict` (NLQ) or more outputs
(QVHighlights' saliency).
"""
from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from videollm_core.base import TaskHead
from videollm_core.errors import ConfigError
from videollm_core.types import StreamInputs, VideoBatch

from .answers import moment_row
from .detection import nms


def window_targets(spans: Tensor, mask: Tensor, windows: list[list[float]]) -> tuple[Tensor, Tensor, Tensor]:
    """Per-unit targets of one sample.

    Args:
        spans: `[N, 2]` unit spans (s); `mask` `[N]` real units.
        windows: GT windows `[[s, e], ...]` (s).

    Returns:
        `start [N]`, `end [N]` distributions (sum 1 when there is a window, else 0) and
        `inside [N]` 0/1.
    """
    n = spans.shape[0]
    start, end, inside = spans.new_zeros(n), spans.new_zeros(n), spans.new_zeros(n)
    centre = spans.mean(-1)

    def unit_of(t: float) -> int:
        covering = (spans[:, 0] <= t) & (t < spans[:, 1]) & mask
        if covering.any():
            return int(torch.nonzero(covering)[0])
        return int((centre - t).abs().masked_fill(~mask, float("inf")).argmin())

    for s, e in windows:
        i, j = unit_of(float(s)), unit_of(max(float(s), float(e) - 1e-6))
        start[i] += 1.0
        end[j] += 1.0
        inside[i : j + 1] = 1.0
        inside = torch.maximum(inside, ((centre >= s) & (centre <= e) & mask).float())
    if windows:
        start, end = start / start.sum(), end / end.sum()
    return start, end, inside * mask.float()


def rank_windows(
    start_logits: Tensor, end_logits: Tensor, inside_logits: Tensor, spans: Tensor, duration: float,
    num_windows: int = 5, max_units: int | None = None, inside_weight: float = 1.0, nms_iou: float = 0.5,
) -> list[tuple[float, float, float]]:
    """Best windows of one sample as `(start_s, end_s, log-score)`, best first.

    Args:
        start_logits, end_logits, inside_logits: `[N]` over the sample's real units.
        spans: `[N, 2]` seconds; `duration`: clip length (s) to clip windows to.
        max_units: longest window in units (None: any).
    """
    n = start_logits.shape[0]
    if n == 0:
        return []
    ls, le = F.log_softmax(start_logits.float(), -1), F.log_softmax(end_logits.float(), -1)
    lin = F.pad(torch.cumsum(F.logsigmoid(inside_logits.float()), 0), (1, 0))  # prefix sums [N+1]
    i = torch.arange(n).view(n, 1)
    j = torch.arange(n).view(1, n)
    length = (j - i + 1).clamp(min=1).float()
    score = ls.view(n, 1) + le.view(1, n) + inside_weight * (lin[j + 1] - lin[i]) / length
    valid = j >= i
    if max_units is not None:
        valid &= (j - i + 1) <= int(max_units)
    score = score.masked_fill(~valid, float("-inf"))
    flat = score.flatten()
    cand = torch.topk(flat, min(int(valid.sum()), max(num_windows * 20, 50))).indices
    si, ei = (cand // n).numpy(), (cand % n).numpy()
    sp = spans.float().cpu().numpy()
    segs = np.stack([sp[si, 0], sp[ei, 1]], -1).clip(0.0, duration)
    scores = flat[cand].numpy().astype(np.float64)
    keep = nms(segs, scores, nms_iou, num_windows)
    return [(float(segs[k, 0]), float(segs[k, 1]), float(scores[k])) for k in keep]


class StreamWindows:
    """`rank_windows` over a stream that grows push by push, at `O(N)` per new unit.

    The log-score of window `(i, j)` is `s_i + e_j + inside_weight * mean_{i..j} log sigmoid(inside_u)`
    (raw start / end logits `s`, `e`) less `logsumexp(s) + logsumexp(e)` over the units so far.
    The subtracted part is the same for every window, so arriving units never reorder the windows
    already seen: the best `size` candidates so far are the best of the previous ones and of the
    windows ending at the new units, and `best` equals `rank_windows` over every unit so
    far (`num_windows = count`, `duration` = the end of the newest unit).

    Args:
        size: candidates kept (`rank_windows` keeps `max(20 * num_windows, 50)`).
        max_units, inside_weight: as `rank_windows`.
    """

    def __init__(self, size: int, max_units: int | None = None, inside_weight: float = 1.0) -> None:
        self.size, self.max_units, self.inside_weight = int(size), max_units, float(inside_weight)
        self.start, self.end, self.spans = torch.zeros(0), torch.zeros(0), torch.zeros(0, 2)
        self.inside = torch.zeros(1)  # prefix sums of log sigmoid(inside) [N + 1]
        self.score, self.first, self.last = torch.zeros(0), torch.zeros(0, dtype=torch.long), torch.zeros(0, dtype=torch.long)

    def push(self, start: Tensor, end: Tensor, inside: Tensor, spans: Tensor) -> None:
        """A push's `start`, `end`, `inside` logits `[n]` and unit `spans [n, 2]` (s)."""
        n0 = len(self.start)
        self.start, self.end = torch.cat([self.start, start.float().cpu()]), torch.cat([self.end, end.float().cpu()])
        self.spans = torch.cat([self.spans, spans.float().cpu()])
        self.inside = torch.cat([self.inside, self.inside[-1] + torch.cumsum(F.logsigmoid(inside.float().cpu()), 0)])
        i, j = torch.arange(len(self.start)).view(-1, 1), torch.arange(n0, len(self.start)).view(1, -1)
        raw = self.start[i] + self.end[j] + self.inside_weight * (self.inside[j + 1] - self.inside[i]) / (j - i + 1).clamp(min=1).float()
        valid = j >= i
        if self.max_units is not None:
            valid &= (j - i + 1) <= int(self.max_units)
        i, j = torch.broadcast_tensors(i, j)
        score, first, last = torch.cat([self.score, raw[valid]]), torch.cat([self.first, i[valid]]), torch.cat([self.last, j[valid]])
        keep = torch.topk(score, min(self.size, len(score))).indices
        self.score, self.first, self.last = score[keep], first[keep], last[keep]

    def best(self, count: int, nms_iou: float = 0.5) -> list[tuple[float, float, float]]:
        """The best `count` windows so far as `(start_s, end_s, log-score)`, best first."""
        if len(self.score) == 0:
            return []
        sp = self.spans.numpy()
        segs = np.stack([sp[self.first.numpy(), 0], sp[self.last.numpy(), 1]], -1).clip(0.0, float(sp[:, 1].max()))
        scores = (self.score - torch.logsumexp(self.start, 0) - torch.logsumexp(self.end, 0)).numpy().astype(np.float64)
        keep = nms(segs, scores, nms_iou, count)
        return [(float(segs[k, 0]), float(segs[k, 1]), float(scores[k])) for k in keep]


def _state_at(hidden: Tensor, index: Tensor) -> Tensor:
    """`hidden [B, S, H]` at one position per sample, `index [B]` -> `[B, H]` (zeros where `index < 0`)."""
    state = hidden[torch.arange(hidden.shape[0], device=hidden.device), index.clamp(min=0)]
    return state * (index >= 0)[:, None].to(state.dtype)


class MomentBoundaryHead(TaskHead):
    """Boundary scoring head for natural-language grounding (no `predict`: the task heads add it).

    Args:
        in_dim: LLM hidden size (supplied).
        hidden_dim: width of the MLP.
        num_windows: ranked windows returned per query (R@5 needs 5).
        max_window_units: longest window considered, in units (None: the whole video).
        inside_weight: weight of the inside term in the window score and loss.
        nms_iou: windows overlapping a better one by more than this are skipped.
        query_fusion: also read the query's hidden state (see the module docstring);
            needs the head bound to the pipeline's LLM, and `model.query_position: after` needs it.
    """

    reads_query_after: ClassVar[bool] = True

    def __init__(self, in_dim: int, hidden_dim: int = 128, num_windows: int = 5, max_window_units: int | None = None,
                 inside_weight: float = 1.0, nms_iou: float = 0.5, query_fusion: bool = True) -> None:
        super().__init__(in_dim)
        self.query_fusion = bool(query_fusion)
        self.query_proj = nn.Linear(in_dim, in_dim) if self.query_fusion else None
        self.mlp = nn.Sequential(nn.Linear(self.feature_dim, hidden_dim), nn.GELU(), nn.Linear(hidden_dim, 3))
        self.num_windows, self.max_window_units = int(num_windows), max_window_units
        self.inside_weight, self.nms_iou = float(inside_weight), float(nms_iou)

    @property
    def feature_dim(self) -> int:
        """Width of the per-unit features the scoring MLPs read (`2H` with query fusion, else `H`)."""
        return 2 * self.in_dim if self.query_fusion else self.in_dim

    def query_state(self, stream: StreamInputs) -> Tensor:
        """`[B, H]`: the LLM's hidden state at each sample's last query token (zeros without a query).

        Query before the units (`stream.query_positions is None`): the stream packs
        `[prompt][query][visual]` per sample, so the text is the first `S_text = real tokens -
        k * real units` tokens and `q` is the state of its last token (the prompt's without a
        query; zeros without text). Query after the units (`[prompt][visual][query]`): the
        state at the last of `stream.query_positions [B, L]`. The states are read from
        `stream.hidden` (the pipeline's pass); without it the LLM runs again, over the text
        prefix alone (causal attention gives the same states as in the whole stream) or over
        the whole stream when the query comes last.
        """
        llm = self.llm
        if stream.query_positions is not None:
            hidden = stream.hidden if stream.hidden is not None else llm(stream.embeds, stream.mask)[0]
            return _state_at(hidden, stream.query_positions.max(1).values)  # [B], -1 without a query
        text_len = stream.mask.long().sum(1) - stream.tokens_per_unit * stream.visual.mask.long().sum(1)  # [B]
        b, longest = text_len.shape[0], int(text_len.max()) if text_len.numel() else 0
        if longest <= 0:
            return stream.embeds.new_zeros(b, llm.hidden_size)
        hidden = stream.hidden
        if hidden is None:
            mask = torch.arange(longest, device=text_len.device)[None, :] < text_len[:, None]
            hidden, _ = llm(stream.embeds[:, :longest], mask)
        return _state_at(hidden, text_len - 1)

    def unit_features(self, hidden: Tensor, stream: StreamInputs) -> Tensor:
        """`hidden [B, N, H]` -> `[B, N, feature_dim]`: `[h, h * W q]` with query fusion, else `h`."""
        if not self.query_fusion:
            if stream.query_positions is not None:
                raise ConfigError(f"{type(self).__name__} with query_fusion: false cannot see a query put after the units",
                                  where="head.query_fusion", hint="set query_fusion: true, or model.query_position: before")
            return hidden
        q = self.query_proj(self.query_state(stream).to(hidden.dtype))  # [B, H]
        return torch.cat([hidden, hidden * q[:, None, :]], dim=-1)

    def forward(self, hidden: Tensor, batch: VideoBatch, stream: StreamInputs) -> dict[str, Any]:
        """`hidden [B, N, H]` -> `start/end/inside` logits `[B, N]` (padded units at -inf for start/end),
        plus `features [B, N, feature_dim]` (what the logits were read from)."""
        features = self.unit_features(hidden, stream)
        logits = self.mlp(features)
        mask = stream.visual.mask
        neg = torch.finfo(logits.dtype).min
        return {
            "start": logits[..., 0].masked_fill(~mask, neg),
            "end": logits[..., 1].masked_fill(~mask, neg),
            "inside": logits[..., 2],
            "spans": stream.visual.spans,
            "mask": mask,
            "features": features,
        }

    def window_loss(self, outputs: dict[str, Any], windows: list[list[list[float]]]) -> dict[str, Tensor]:
        """Start/end cross-entropy + inside BCE for GT `windows` (one list per sample)."""
        spans, mask = outputs["spans"].float(), outputs["mask"]
        t = [window_targets(spans[b], mask[b], windows[b]) for b in range(spans.shape[0])]
        start_t, end_t, inside_t = (torch.stack(x) for x in zip(*t))
        has = start_t.sum(-1) > 0
        ce_s = -(start_t * F.log_softmax(outputs["start"].float(), -1)).sum(-1)[has].mean() if has.any() else spans.sum() * 0
        ce_e = -(end_t * F.log_softmax(outputs["end"].float(), -1)).sum(-1)[has].mean() if has.any() else spans.sum() * 0
        bce = F.binary_cross_entropy_with_logits(outputs["inside"].float()[mask], inside_t[mask])
        return {"loss": ce_s + ce_e + self.inside_weight * bce, "loss_start": ce_s.detach(), "loss_end": ce_e.detach(), "loss_inside": bce.detach()}

    def loss(self, outputs: dict[str, Any], batch: VideoBatch) -> dict[str, Tensor]:
        return self.window_loss(outputs, batch.targets["windows"])

    @torch.no_grad()
    def ranked_windows(self, outputs: dict[str, Any], batch: VideoBatch) -> list[list[tuple[float, float, float]]]:
        """Per sample, `[(start_s, end_s, log-score), ...]` best first."""
        out = []
        for b, meta in enumerate(batch.meta):
            m = outputs["mask"][b].cpu()
            spans = outputs["spans"][b].cpu()[m]
            duration = float(meta.get("duration") or spans[:, 1].max())
            out.append(rank_windows(outputs["start"][b].cpu()[m], outputs["end"][b].cpu()[m], outputs["inside"][b].cpu()[m],
                                    spans, duration, self.num_windows, self.max_window_units, self.inside_weight, self.nms_iou))
        return out

    @torch.no_grad()
    def stream_answer(self, outputs: dict[str, Any], first_unit: int, n_units: int, *, top: int = 3,
                      class_names: list[str] | None = None, state: dict[str, Any] | None = None,
                      final: bool = False) -> list[dict[str, Any]]:
        """The best `top` windows so far, at the newest unit: `{"unit", "moments": [[start_s, end_s,
        score], ...]}` best first, seconds from the stream's start, `score` the window's probability
        (`exp` of its `rank_windows` log-score over the units so far, kept in `state` by
        `StreamWindows`)."""
        if not n_units:
            return []
        state = {} if state is None else state
        windows = state.setdefault("windows", StreamWindows(max(20 * top, 50), self.max_window_units, self.inside_weight))
        windows.push(*(outputs[key][0, :n_units] for key in ("start", "end", "inside", "spans")))
        moments = [moment_row(s, e, math.exp(score)) for s, e, score in windows.best(top, self.nms_iou)]
        return [{"unit": first_unit + n_units - 1, "moments": moments}]


__all__ = ["MomentBoundaryHead", "StreamWindows", "rank_windows", "window_targets"]

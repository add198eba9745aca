"""`DenseCaptionHead`: localise events, then caption each through the LLM's LM head.

Design (VideoLLM's dense-prediction reading plus a text-generation reading):

1. **Proposals.** The LLM reads the video causally, so a unit's hidden state cannot know
   that the *next* unit is background, i.e. that an event ends here. The proposal branch
   is therefore a small temporal convolution over the hidden states `[B, N, H]` (two
   `Conv1d` of width `kernel_size`, centred, padding units zeroed): each unit also
   sees its neighbours, as ActionFormer's heads do. It predicts five channels per unit
   (`CHANNELS`): start / end heatmaps and actionness (binary
   cross-entropy, boundary positives weighted by `positive_weight`) and the position
   of a boundary inside its unit as a fraction of the unit (sigmoid, L1 on the boundary
   units, `offset_weight`), so boundaries are not rounded to unit edges.
   Decoding (`decode_proposals`) pairs start and end peaks, scores a
   pair by the probability that exactly one event runs between them (other boundaries
   inside it count against it), drops pairs under `min_score`, applies NMS at
   `nms_tiou` and keeps at most `max_events`.
2. **Event token.** An event `[s, e]` becomes one token in the LLM's input space: the
   mean hidden state of the units it covers, projected `H -> E` (`event_proj`, built at
   `bind` once the LLM's `E` is known).
3. **Captioning.** The LLM continues its own stream: `[prompt][query][visual units]`
   (`stream.embeds`, the exact input it just read) + `[event token]` + the caption,
   whose word embeddings each get the event token added (every word position sees
   which event it describes through the residual stream, so a small LLM learns it in a
   few hundred steps). Training is teacher forcing: the event token's position predicts
   the first word, each word the next, the last word EOS (cross-entropy of the LM head),
   one sequence per ground-truth event. Inference is greedy decoding through the LLM's
   key/value cache after `[stream][event token]`, all proposals of a batch at once,
   stopping at EOS.

At inference the captions continue the stream's own key/value cache (`stream.cache`,
forked and repeated once per event, so nothing already read is recomputed and a bounded
`model.context` keeps holding); teacher forcing re-runs the stream per event. The demo
(a few dozen short videos) trains well within a minute. Streaming: `DenseCaptionHead.stream_answer`.

**Event proposals** from per-unit boundary heatmaps, actionness and sub-unit boundary offsets.

Five channels per real unit (`spans [N, 2]` seconds, unit `n` covers
`[spans[n, 0], spans[n, 1]]`), see `CHANNELS`:

* `start` / `end` -- is an event's start / end inside this unit (heatmaps, BCE);
* `actionness` -- does the unit's centre lie inside an event (BCE);
* `start_offset` / `end_offset` -- where inside the unit the boundary lies, as a
  fraction of the unit's length in `[0, 1]` (sigmoid, L1 on the boundary units only).
  Units pool several feature steps, so without offsets every boundary would be rounded
  to a unit edge (2 s for 2-step units of 1 s features).

Decoding (`decode_proposals`): start and end candidates are peaks of their heatmaps
(local maxima at or above `min_prob`, or above half of the video's maximum when nothing
reaches it). Each start peak `i` and end peak `j >= i` form the segment
`[t_start(i), t_end(j)]`, `t(n) = spans[n, 0] + offset(n) * (spans[n, 1] - spans[n, 0])`,
scored as the probability that exactly one event runs from `i` to `j`:

    p_start(i) * p_end(j) * mean actionness(i..j) * prod over units k = i+2 .. j-2 of
    (1 - p_start(k)) * (1 - p_end(k))

i.e. no other boundary inside it (a boundary the model cannot place between two
neighbouring units spreads over both, so the units next to `i` and `j` count as
theirs). A pair spanning another event's boundaries -- the "one segment to the end of
the video" failure of plain start x end pairing -- scores near zero. Segments scoring
below `min_score` are dropped, greedy NMS (`common.detection.nms`) removes
near-duplicates and at most `max_events` remain, best first.
"""
from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from videollm_core.base import LLMAdapter, TaskHead
from videollm_core.errors import ConfigError
from videollm_core.types import StreamInputs, VideoBatch

from ..common.answers import conv_outputs, grow, moment_row
from ..common.detection import clip_segment, nms, tiou_matrix

#: proposal channels, in order.
CHANNELS = ("start", "end", "actionness", "start_offset", "end_offset")


def unit_of_time(times: Tensor, spans: Tensor) -> Tensor:
    """`times [K]` s, `spans [N, 2]` s (real units only) -> `[K]` index of the unit containing each time (clamped)."""
    ends = spans[:, 1].contiguous()
    return torch.searchsorted(ends, times.contiguous().to(ends.dtype), right=True).clamp(max=len(ends) - 1)


def proposal_targets(events: Tensor, spans: Tensor) -> Tensor:
    """`events [K, 2]` s, `spans [N, 2]` s -> `[N, 5]` float targets in `CHANNELS` order.

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
    """`probs [N, 5]` (offsets as probabilities), `spans [N, 2]` s -> start and end time `[N]` s of each unit."""
    length = spans[:, 1] - spans[:, 0]
    return spans[:, 0] + probs[:, 3] * length, spans[:, 0] + probs[:, 4] * length


def decode_proposals(
    probs: np.ndarray, spans: np.ndarray, *, max_events: int | None = 10, nms_tiou: float = 0.5, min_prob: float = 0.3,
    min_score: float = 0.0, max_units: int | None = None, fallback: bool = True,
) -> list[tuple[float, float, float]]:
    """`probs [N, 5]` (`CHANNELS`, after the sigmoid), `spans [N, 2]` s -> `[(start_s, end_s, score)]`, best first
    (`fallback`: when no pair scores, the best start to the best end after it; else nothing)."""
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
    if not segs and not fallback:
        return []
    if not segs:  # nothing scores: the best start to the best end after it
        i = int(probs[:, 0].argmax())
        j = i + int(probs[i:, 1].argmax())
        return [(float(spans[i, 0]), float(spans[j, 1]), float(probs[i, 0] * probs[j, 1]))]
    keep = nms(np.array(segs), np.array(scores), iou_threshold=nms_tiou, max_keep=max_events)
    return [(segs[k][0], segs[k][1], scores[k]) for k in keep]


def right_pad(seqs: list[Tensor]) -> tuple[Tensor, Tensor]:
    """`M` sequences `[L_m, E]` -> `embeds [M, max L_m, E]` (zeros after each) and `mask [M, max L_m]`."""
    length = max(s.shape[0] for s in seqs)
    embeds = seqs[0].new_zeros(len(seqs), length, seqs[0].shape[-1])
    mask = torch.zeros(len(seqs), length, dtype=torch.bool, device=embeds.device)
    for m, s in enumerate(seqs):
        embeds[m, : s.shape[0]] = s
        mask[m, : s.shape[0]] = True
    return embeds, mask


class DenseCaptionHead(TaskHead):
    """Event proposals + LM-head captions for dense video captioning.

    Args:
        in_dim: LLM hidden size `H` (supplied by the pipeline).
        max_events: proposals kept per video at inference.
        max_caption_tokens: generated tokens per caption.
        nms_tiou: NMS threshold on proposals.
        min_prob: boundary probability for a start/end peak.
        min_score: proposals scoring below it are dropped (when none reaches it, the most
            likely start and the most likely end after it still make one proposal).
        kernel_size: width (units) of the proposal branch's convolutions (odd).
        caption_weight: weight of the caption loss against the proposal loss.
        positive_weight: BCE weight of the start/end positives.
        offset_weight: weight of the boundary-offset L1 loss (fractions of a unit).
        max_train_events: ground-truth events captioned per video and step (the first ones).
        dropout: dropout on the hidden states.
    """

    task: ClassVar[str] = "dense_caption"

    @property
    def needs_cache(self) -> bool:
        """At inference the captions continue the stream's key/value cache (training re-runs the stream)."""
        return not self.training

    def __init__(
        self,
        in_dim: int,
        max_events: int = 10,
        max_caption_tokens: int = 16,
        nms_tiou: float = 0.5,
        min_prob: float = 0.3,
        min_score: float = 0.05,
        kernel_size: int = 3,
        caption_weight: float = 1.0,
        positive_weight: float = 4.0,
        offset_weight: float = 1.0,
        max_train_events: int = 8,
        dropout: float = 0.1,
    ):
        super().__init__(in_dim)
        if int(kernel_size) < 1 or int(kernel_size) % 2 == 0:
            raise ConfigError(f"kernel_size must be a positive odd number, got {kernel_size}", where="model.head.kernel_size",
                              hint="e.g. 3 (each unit sees one neighbour on each side)")
        if not 0.0 <= float(min_score) < 1.0:
            raise ConfigError(f"min_score must be in [0, 1), got {min_score}", where="model.head.min_score")
        k = int(kernel_size)
        self.dropout = nn.Dropout(dropout)
        self.proposal = nn.Sequential(
            nn.Conv1d(self.in_dim, self.in_dim, k, padding=k // 2), nn.GELU(), nn.Conv1d(self.in_dim, len(CHANNELS), k, padding=k // 2)
        )
        self.event_proj: nn.Linear | None = None
        self.max_events, self.max_caption_tokens = int(max_events), int(max_caption_tokens)
        self.nms_tiou, self.min_prob, self.min_score = float(nms_tiou), float(min_prob), float(min_score)
        self.caption_weight, self.positive_weight = float(caption_weight), float(positive_weight)
        self.offset_weight, self.max_train_events = float(offset_weight), int(max_train_events)

    def bind(self, llm: LLMAdapter) -> None:
        super().bind(llm)
        if self.event_proj is None:
            w = self.proposal[0].weight
            self.event_proj = nn.Linear(self.in_dim, int(llm.embed_dim)).to(device=w.device, dtype=w.dtype)

    # -- forward ------------------------------------------------------------------
    def forward(self, hidden: Tensor, batch: VideoBatch, stream: StreamInputs) -> dict[str, Any]:
        """`hidden [B, N, H]` -> `proposal_logits [B, N, 5]` (`CHANNELS`) and what captioning needs."""
        mask = stream.visual.mask
        x = self.dropout(hidden) * mask.unsqueeze(-1).to(hidden.dtype)  # padding units are zeros for the convolution
        return {
            "proposal_logits": self.proposal(x.transpose(1, 2)).transpose(1, 2),
            "hidden": hidden,
            "spans": stream.visual.spans,
            "unit_mask": mask,
            "stream_embeds": stream.embeds,
            "stream_mask": stream.mask,
            **({"stream_cache": stream.cache} if stream.cache is not None and not self.training else {}),
        }

    def _event_vectors(self, outputs: dict[str, Any], b: int, events: Tensor) -> Tensor:
        """Mean hidden state of the units of video `b` covered by each event `[M, 2]` s -> `[M, H]`."""
        real = outputs["unit_mask"][b]
        hidden, spans = outputs["hidden"][b][real], outputs["spans"][b][real].to(events.dtype)
        centre = spans.mean(-1)
        inside = (centre[None, :] >= events[:, :1]) & (centre[None, :] <= events[:, 1:])  # [M, N]
        nearest = (centre[None, :] - events.mean(-1, keepdim=True)).abs().argmin(-1)  # events shorter than a unit
        inside[torch.arange(len(events)), nearest] |= ~inside.any(-1)
        w = inside.to(hidden.dtype)
        return (w @ hidden) / w.sum(-1, keepdim=True)

    def _prefixes(self, outputs: dict[str, Any], video_index: list[int], event_vecs: Tensor) -> tuple[list[Tensor], Tensor]:
        """Per event: its video's stream `[L_b, E]` and the event token `[E]`."""
        lengths = outputs["stream_mask"].long().sum(1)
        tokens = self.event_proj(event_vecs)
        return [outputs["stream_embeds"][b, : int(lengths[b])] for b in video_index], tokens

    # -- training -------------------------------------------------------------------
    def loss(self, outputs: dict[str, Any], batch: VideoBatch) -> dict[str, Tensor]:
        """Proposal BCE + boundary-offset L1 + teacher-forced caption cross-entropy
        (`targets["events"]` `[K, 2]` s per video, `targets["captions"]` K strings)."""
        logits, mask = outputs["proposal_logits"], outputs["unit_mask"]
        targets = torch.zeros_like(logits)
        video_index, events, captions = [], [], []
        for b in range(logits.shape[0]):
            real = mask[b]
            ev = batch.targets["events"][b].to(logits.device).float().reshape(-1, 2)
            targets[b, real] = proposal_targets(ev, outputs["spans"][b][real].float()).to(logits.dtype)
            k = min(len(ev), self.max_train_events)
            video_index += [b] * k
            events.append(ev[:k])
            captions += list(batch.targets["captions"][b][:k])
        heat, heat_t = logits[..., :3], targets[..., :3]
        weight = torch.ones_like(heat_t)
        weight[..., :2] = 1.0 + (self.positive_weight - 1.0) * heat_t[..., :2]
        bce = F.binary_cross_entropy_with_logits(heat, heat_t, weight=weight, reduction="none")
        loss_prop = (bce * mask.unsqueeze(-1)).sum() / (mask.sum() * 3).clamp(min=1)
        boundary = (heat_t[..., :2] > 0) & mask.unsqueeze(-1)  # [B, N, 2]: offsets count on boundary units only
        l1 = (torch.sigmoid(logits[..., 3:]) - targets[..., 3:]).abs()
        loss_offset = (l1 * boundary).sum() / boundary.sum().clamp(min=1)
        out = {"loss_proposal": loss_prop, "loss_offset": loss_offset}
        total = loss_prop + self.offset_weight * loss_offset
        if captions:
            vecs = torch.cat([self._event_vectors(outputs, b, ev) for b, ev in enumerate(events) if len(ev)])
            out["loss_caption"] = self._caption_loss(outputs, video_index, vecs, captions)
            total = total + self.caption_weight * out["loss_caption"]
        out["loss"] = total
        return out

    def _caption_loss(self, outputs: dict[str, Any], video_index: list[int], vecs: Tensor, captions: list[str]) -> Tensor:
        llm = self.llm
        prefixes, tokens = self._prefixes(outputs, video_index, vecs)
        ids, id_mask = llm.tokenize(captions)
        eos = llm.eos_token_id
        seqs, targets, starts = [], [], []
        for m, (prefix, tok) in enumerate(zip(prefixes, tokens)):
            cap = ids[m][id_mask[m]]
            target = torch.cat([cap, cap.new_tensor([eos])]) if eos is not None else cap
            seqs.append(torch.cat([prefix, tok[None], llm.embed_text(cap[None])[0] + tok]))
            targets.append(target)
            starts.append(prefix.shape[0])  # the event token's position predicts the first word
        embeds, mask = right_pad(seqs)
        label = torch.full(mask.shape, -100, dtype=torch.long, device=embeds.device)
        for m, (t, p) in enumerate(zip(targets, starts)):
            label[m, p : p + len(t)] = t
        hidden, _ = llm(embeds, mask)
        where = label != -100
        return F.cross_entropy(llm.lm_logits(hidden[where]).float(), label[where])

    # -- inference --------------------------------------------------------------------
    @torch.no_grad()
    def predict(self, outputs: dict[str, Any], batch: VideoBatch) -> list[dict[str, Any]]:
        """One entry per video: `{"video_id", "events": [{"timestamp": [s, e], "sentence", "score"}]}` best first."""
        probs = torch.sigmoid(outputs["proposal_logits"].float())
        proposals, video_index, events = [], [], []
        for b, meta in enumerate(batch.meta):
            real = outputs["unit_mask"][b]
            spans = outputs["spans"][b][real].float()
            props = decode_proposals(probs[b][real].cpu().numpy(), spans.cpu().numpy(), max_events=self.max_events,
                                     nms_tiou=self.nms_tiou, min_prob=self.min_prob, min_score=self.min_score)
            duration = float(meta.get("duration") or spans[-1, 1])
            props = [clip_segment(s, e, duration) + (score,) for s, e, score in props]
            proposals.append(props)
            video_index += [b] * len(props)
            if props:
                events.append(spans.new_tensor([[s, e] for s, e, _ in props]))
        sentences: list[str] = []
        if video_index:
            vecs = torch.cat([self._event_vectors(outputs, b, ev) for b, ev in zip(sorted(set(video_index)), events)])
            sentences = self._generate(outputs, video_index, vecs)
        entries, k = [], 0
        for b, meta in enumerate(batch.meta):
            evs = []
            for s, e, score in proposals[b]:
                evs.append({"timestamp": [round(s, 2), round(e, 2)], "sentence": sentences[k], "score": score})
                k += 1
            entries.append({"video_id": meta["video_id"], "events": evs})
        return entries

    def _generate(self, outputs: dict[str, Any], video_index: list[int], vecs: Tensor) -> list[str]:
        """Greedy decoding (the LLM's one decoder) of `M` captions after `[stream][event token]`;
        each fed word gets the event token `[M, E]` added (`step_embeds`)."""
        tokens = self.event_proj(vecs)
        cache = outputs.get("stream_cache")
        if cache is not None:  # continue the stream's cache, one copy per event: nothing is recomputed
            cache = cache.fork().select(torch.tensor(video_index, device=tokens.device))
            embeds, mask = tokens[:, None], torch.ones(len(tokens), 1, dtype=torch.bool, device=tokens.device)
        else:
            prefixes, _ = self._prefixes(outputs, video_index, vecs)
            embeds, mask = right_pad([torch.cat([p, t[None]]) for p, t in zip(prefixes, tokens)])
        return self.llm.generate(embeds, mask, self.max_caption_tokens, cache=cache, step_embeds=tokens)

    @torch.no_grad()
    def stream_answer(self, outputs: dict[str, Any], first_unit: int, n_units: int, *, top: int = 3,
                      class_names: list[str] | None = None, state: dict[str, Any] | None = None,
                      final: bool = False) -> list[dict[str, Any]]:
        """The events as they settle, each answered once with its caption (continuing the stream's cache):
        `{"unit", "events": [{"segment": [start_s, end_s], "caption", "score"}, ...]}` at the newest unit.

        The hidden states so far stay in `state`, and the proposal logits the push changes are computed
        again (`conv_outputs`: the convolutions read neighbours a push lacks), so
        proposals are decoded as `predict` decodes the stream so far. An event is answered once its
        end peak can no longer change (it ends by unit `N - 2 - 2 * (kernel_size // 2)` of the `N` so
        far) unless it overlaps an answered one by more than `nms_tiou`, at most `max_events` per push;
        `final` answers the rest (and `predict`'s fallback event when none came). Seconds from the start.
        """
        state, reach = {} if state is None else state, 2 * self.proposal[0].padding[0]  # units a logit reads on each side
        if n_units:  # the hidden states and spans so far, the stream's cache, the proposal logits so far
            grow(state, "spans", outputs["spans"][0, :n_units].float())
            state["cache"], hidden = outputs.get("stream_cache"), grow(state, "hidden", outputs["hidden"][:1, :n_units], dim=1)
            state["logits"] = conv_outputs(self.proposal, hidden, state.get("logits"), reach)
        if "logits" not in state:
            return []
        spans, answered, n = state["spans"], state.setdefault("answered", []), state["spans"].shape[0]
        limit = float("inf") if final else float(spans[n - 2 - reach, 1]) if n - 2 - reach >= 0 else float("-inf")
        props = decode_proposals(torch.sigmoid(state["logits"][0].float()).cpu().numpy(), spans.cpu().numpy(),
                                 max_events=None, nms_tiou=self.nms_tiou, min_prob=self.min_prob,
                                 min_score=self.min_score, fallback=final and not answered)
        new = []
        for s, e, score in props:
            s, e = clip_segment(s, e, float(spans[-1, 1]))
            if e <= limit and len(new) < self.max_events and not (answered and tiou_matrix([[s, e]], answered).max() > self.nms_tiou):
                answered.append([s, e])
                new.append((s, e, score))
        if not new:  # nothing settled
            return []
        context = {"hidden": state["hidden"], "spans": spans[None], "stream_cache": state["cache"],
                   "unit_mask": torch.ones(1, n, dtype=torch.bool, device=spans.device)}
        captions = self._generate(context, [0] * len(new), self._event_vectors(context, 0, spans.new_tensor([e[:2] for e in new])))
        return [{"unit": first_unit + n_units - 1,
                 "events": [{"segment": r[:2], "caption": c, "score": r[2]} for r, c in zip((moment_row(*e) for e in new), captions)]}]

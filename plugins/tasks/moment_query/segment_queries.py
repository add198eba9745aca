"""`SegmentQueryHead`: the paper's moment-query design, segment queries with Hungarian matching.

VideoLLM (Chen et al. 2023) detects moments DETR-style: a fixed set of `Q` learnable segment
queries reads the LLM's unit states and each query answers one segment or "no object". This
module follows Moment-DETR (Lei et al. 2021, `jayleicn/moment_detr`: `HungarianMatcher` and
`SetCriterion`), written anew here:

- **Decoder**: the LLM's unit states `[B, N, H]` are projected to `hidden_dim` and given a
  sine encoding of their normalised time; `Q` query embeddings (plus the sine encoding of a
  learnable reference centre per query, spread over the video at init, as in anchor-DETRs)
  cross-attend to them through a `torch.nn.TransformerDecoder`.
- **Outputs per query**: logits over `C` classes + "no object" (index `C`) and a segment
  `(centre, width)` in `[0, 1]` of the video's real-unit extent (`sigmoid` of the
  reference's logit plus a predicted offset).
- **Matching** (`match_cost`, `hungarian_match`): per video, cost `= -cost_class *
  p(label) + cost_l1 * |cw - cw_gt|_1 - cost_iou * IoU` (generalised or plain tIoU) solved by
  `scipy.optimize.linear_sum_assignment`; unmatched queries are "no object".
- **Loss**: cross-entropy over every query (the no-object class weighted by
  `no_object_weight`) + L1 of `(centre, width)` + `1 - IoU` on matched pairs, the last two
  divided by the batch's number of GT segments; with `aux_loss` every decoder layer's
  predictions are matched and scored too.
- **Prediction**: every (query, class) pair scores `softmax(logits)[class]`; the best
  `max_detections` pairs, mapped to seconds and clipped to the video, form the same entries as
  `MomentQueryHead` (no NMS: the one-to-one matching teaches queries not to repeat).
"""
from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from scipy.optimize import linear_sum_assignment
from torch import Tensor, nn

from videollm_core.base import TaskHead
from videollm_core.errors import ConfigError
from videollm_core.streaming import class_label
from videollm_core.types import StreamInputs, VideoBatch

from ..common.answers import grow, moment_row


def cw_to_se(cw: Tensor) -> Tensor:
    """`[..., 2]` (centre, width) -> `[..., 2]` (start, end), same units."""
    return torch.stack([cw[..., 0] - cw[..., 1] / 2, cw[..., 0] + cw[..., 1] / 2], -1)


def segment_iou(a: Tensor, b: Tensor, generalized: bool = False) -> Tensor:
    """Temporal IoU of (start, end) segments `a`, `b` broadcastable `[..., 2]` -> `[...]`.

    `generalized`: `IoU - (hull - union) / hull` in `[-1, 1]` (gives a gradient to disjoint pairs).
    """
    inter = (torch.minimum(a[..., 1], b[..., 1]) - torch.maximum(a[..., 0], b[..., 0])).clamp(min=0)
    union = (a[..., 1] - a[..., 0]) + (b[..., 1] - b[..., 0]) - inter
    iou = inter / union.clamp(min=1e-6)
    if not generalized:
        return iou
    hull = (torch.maximum(a[..., 1], b[..., 1]) - torch.minimum(a[..., 0], b[..., 0])).clamp(min=1e-6)
    return iou - (hull - union) / hull


def match_cost(probs: Tensor, pred_cw: Tensor, labels: Tensor, gt_cw: Tensor, cost_class: float = 1.0,
               cost_l1: float = 5.0, cost_iou: float = 2.0, generalized: bool = True) -> Tensor:
    """Matching cost of one video's queries against its GT segments.

    Args:
        probs: `[Q, C+1]` softmax class probabilities; `pred_cw`: `[Q, 2]` normalised (centre, width).
        labels: `[G]` long GT class ids; `gt_cw`: `[G, 2]` normalised (centre, width).

    Returns:
        `[Q, G]` cost, lower is better.
    """
    iou = segment_iou(cw_to_se(pred_cw)[:, None], cw_to_se(gt_cw)[None], generalized)
    return -cost_class * probs[:, labels] + cost_l1 * torch.cdist(pred_cw, gt_cw, p=1) - cost_iou * iou


def hungarian_match(cost: Tensor) -> tuple[Tensor, Tensor]:
    """The one-to-one assignment of least total cost: `cost [Q, G]` -> `(query ids, GT ids)`
    long `[min(Q, G)]` each, GT ids ascending (empty when `G = 0`)."""
    if cost.shape[1] == 0 or cost.shape[0] == 0:
        empty = torch.zeros(0, dtype=torch.long)
        return empty, empty
    rows, cols = linear_sum_assignment(cost.detach().float().cpu().numpy())
    order = np.argsort(cols)
    return torch.as_tensor(rows[order], dtype=torch.long), torch.as_tensor(cols[order], dtype=torch.long)


def sine_encoding(t: Tensor, dim: int) -> Tensor:
    """`t [...]` in `[0, 1]` -> `[..., dim]` sine/cosine features (periods from 2 down to 1/128 of the video)."""
    half = dim // 2
    freq = math.pi * torch.exp(torch.arange(half, device=t.device, dtype=torch.float32) * (math.log(256.0) / max(half - 1, 1)))
    ang = t.float()[..., None] * freq
    out = torch.cat([ang.sin(), ang.cos()], -1)
    return F.pad(out, (0, dim - 2 * half))


def video_extent(spans: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
    """`spans [B, N, 2]` s, `mask [B, N]` -> start `[B]` and length `[B]` (s, > 0) of the real units."""
    start = spans[..., 0].float().masked_fill(~mask, float("inf")).amin(1)
    end = spans[..., 1].float().masked_fill(~mask, float("-inf")).amax(1)
    start = torch.where(mask.any(1), start, torch.zeros_like(start))
    return start, torch.where(mask.any(1), end - start, torch.ones_like(start)).clamp(min=1e-6)


class SegmentQueryHead(TaskHead):
    """DETR-style moment query: `Q` segment queries, a transformer decoder, Hungarian matching.

    Args:
        in_dim: LLM hidden size `H` (supplied); `num_classes`: `C` (supplied by the dataset).
        num_queries: `Q` segment queries (more than the most segments a video holds).
        hidden_dim, num_layers, num_heads, dropout: the decoder's width, depth, attention heads
            (dividing `hidden_dim`) and dropout; its feed-forward width is `2 * hidden_dim`.
        cost_class, cost_l1, cost_iou: matching cost weights (class probability, L1 of
            (centre, width), IoU).
        loss_class, loss_l1, loss_iou: loss weights (cross-entropy, L1, `1 - IoU`).
        no_object_weight: cross-entropy weight of the "no object" class (DETR's `eos_coef`).
        iou: `"giou"` (generalised tIoU) or `"tiou"`, in both the cost and the loss.
        aux_loss: also match and score every earlier decoder layer's predictions.
        max_detections: (query, class) pairs kept per video, best first.
    """

    task: ClassVar[str] = "moment_query"

    def __init__(self, in_dim: int, num_classes: int, num_queries: int = 20, hidden_dim: int = 128, num_layers: int = 2,
                 num_heads: int = 4, dropout: float = 0.1, cost_class: float = 1.0, cost_l1: float = 5.0, cost_iou: float = 2.0,
                 loss_class: float = 1.0, loss_l1: float = 5.0, loss_iou: float = 2.0, no_object_weight: float = 0.1,
                 iou: str = "giou", aux_loss: bool = True, max_detections: int = 100) -> None:
        super().__init__(in_dim)
        for arg, value in (("num_queries", num_queries), ("hidden_dim", hidden_dim), ("num_layers", num_layers),
                           ("num_heads", num_heads), ("max_detections", max_detections), ("num_classes", num_classes)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"must be a positive integer, got {value!r}", where=f"SegmentQueryHead.{arg}")
        if hidden_dim % num_heads:
            raise ConfigError(f"must divide hidden_dim ({hidden_dim}), got {num_heads}", where="SegmentQueryHead.num_heads")
        if iou not in ("giou", "tiou"):
            raise ConfigError(f"must be 'giou' or 'tiou', got {iou!r}", where="SegmentQueryHead.iou", hint="Moment-DETR uses giou")
        if not 0.0 <= dropout < 1.0:
            raise ConfigError(f"must be in [0, 1), got {dropout!r}", where="SegmentQueryHead.dropout")
        if not 0.0 < no_object_weight <= 1.0:
            raise ConfigError(f"must be in (0, 1], got {no_object_weight!r}", where="SegmentQueryHead.no_object_weight", hint="DETR uses 0.1")
        weights = {"cost_class": cost_class, "cost_l1": cost_l1, "cost_iou": cost_iou, "loss_class": loss_class, "loss_l1": loss_l1, "loss_iou": loss_iou}
        for arg, value in weights.items():
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise ConfigError(f"must be a number >= 0, got {value!r}", where=f"SegmentQueryHead.{arg}")
        if cost_class + cost_l1 + cost_iou <= 0:
            raise ConfigError("the matching costs cost_class, cost_l1 and cost_iou are all 0", where="SegmentQueryHead.cost_class",
                              hint="DETR matches on class 1, L1 5, gIoU 2")
        self.num_classes, self.num_queries, self.hidden_dim = int(num_classes), int(num_queries), int(hidden_dim)
        self.costs = (float(cost_class), float(cost_l1), float(cost_iou))
        self.weights = (float(loss_class), float(loss_l1), float(loss_iou))
        self.generalized, self.aux_loss, self.max_detections = iou == "giou", bool(aux_loss), int(max_detections)
        self.input_proj = nn.Sequential(nn.Linear(in_dim, hidden_dim), nn.LayerNorm(hidden_dim))
        self.query_embed = nn.Embedding(self.num_queries, hidden_dim)
        # reference (centre, width) logits: centres spread evenly over the video, widths 2 / Q (at most 0.5)
        centres = (torch.arange(self.num_queries, dtype=torch.float32) + 0.5) / self.num_queries
        widths = torch.full_like(centres, min(0.5, 2.0 / self.num_queries))
        self.reference = nn.Parameter(torch.logit(torch.stack([centres, widths], -1)))
        layer = nn.TransformerDecoderLayer(hidden_dim, num_heads, 2 * hidden_dim, dropout, batch_first=True, norm_first=False)
        self.decoder = nn.TransformerDecoder(layer, num_layers, norm=nn.LayerNorm(hidden_dim))
        self.class_embed = nn.Linear(hidden_dim, self.num_classes + 1)
        self.span_embed = nn.Sequential(nn.Linear(hidden_dim, hidden_dim), nn.ReLU(), nn.Linear(hidden_dim, 2))
        nn.init.zeros_(self.span_embed[-1].weight)
        nn.init.zeros_(self.span_embed[-1].bias)
        ce_weight = torch.ones(self.num_classes + 1)
        ce_weight[-1] = float(no_object_weight)
        self.register_buffer("ce_weight", ce_weight, persistent=False)

    def decode(self, hidden: Tensor, spans: Tensor, mask: Tensor) -> tuple[list[Tensor], list[Tensor]]:
        """Run the queries over units: `hidden [B, N, H]`, `spans [B, N, 2]` s, `mask [B, N]`
        -> per decoder layer (last last): logits `[B, Q, C+1]` and normalised (centre, width) `[B, Q, 2]`."""
        start, length = video_extent(spans, mask)
        t = ((spans.float().mean(-1) - start[:, None]) / length[:, None]).clamp(0, 1)
        memory = self.input_proj(hidden) + sine_encoding(t, self.hidden_dim).to(hidden.dtype)
        pad = ~mask
        pad[~mask.any(1), 0] = False  # a video without real units attends to its first (zero) unit: no NaN
        ref = self.reference.sigmoid()
        query = self.query_embed.weight + sine_encoding(ref[:, 0], self.hidden_dim) + sine_encoding(ref[:, 1], self.hidden_dim)
        x = query[None].expand(hidden.shape[0], -1, -1).to(memory.dtype)
        logits, cw = [], []
        for layer in self.decoder.layers:
            x = layer(x, memory, memory_key_padding_mask=pad)
            y = self.decoder.norm(x)
            logits.append(self.class_embed(y))
            cw.append((self.reference + self.span_embed(y)).sigmoid())
        return logits, cw

    def forward(self, hidden: Tensor, batch: VideoBatch, stream: StreamInputs) -> dict[str, Any]:
        """`hidden [B, N, H]` -> `logits [B, Q, C+1]`, `segments [B, Q, 2]` normalised (centre,
        width), `aux` (earlier layers' pairs), and `hidden`, `spans` (s), `mask` for streaming."""
        spans, mask = stream.visual.spans, stream.visual.mask
        logits, cw = self.decode(hidden, spans, mask)
        return {"logits": logits[-1], "segments": cw[-1], "aux": list(zip(logits[:-1], cw[:-1])),
                "hidden": hidden, "spans": spans, "mask": mask}

    def targets(self, spans: Tensor, mask: Tensor, batch: VideoBatch) -> list[tuple[Tensor, Tensor]]:
        """Per video: GT labels `[G]` long and normalised (centre, width) `[G, 2]` of the real-unit extent."""
        start, length = video_extent(spans, mask)
        out = []
        for b in range(spans.shape[0]):
            seg = torch.as_tensor(batch.targets["segments"][b], dtype=torch.float32, device=spans.device).reshape(-1, 2)
            se = (seg - start[b]) / length[b]
            cw = torch.stack([se.mean(-1), se[:, 1] - se[:, 0]], -1)
            out.append((torch.as_tensor(batch.targets["labels"][b], dtype=torch.long, device=spans.device).reshape(-1), cw))
        return out

    def set_loss(self, logits: Tensor, cw: Tensor, targets: list[tuple[Tensor, Tensor]]) -> tuple[Tensor, Tensor, Tensor]:
        """One layer's `(cross-entropy, L1, 1 - IoU)` after matching; `logits [B, Q, C+1]`, `cw [B, Q, 2]`."""
        cls_target = torch.full(logits.shape[:2], self.num_classes, dtype=torch.long, device=logits.device)
        pred, gt = [], []
        probs = logits.detach().float().softmax(-1)
        for b, (labels, gt_cw) in enumerate(targets):
            q, g = hungarian_match(match_cost(probs[b], cw[b].detach().float(), labels, gt_cw, *self.costs, self.generalized))
            cls_target[b, q.to(logits.device)] = labels[g]
            pred.append(cw[b, q.to(logits.device)])
            gt.append(gt_cw[g])
        ce = F.cross_entropy(logits.flatten(0, 1).float(), cls_target.flatten(), weight=self.ce_weight)
        pred, gt = torch.cat(pred), torch.cat(gt)
        num_gt = max(1, sum(len(t[0]) for t in targets))
        l1 = (pred.float() - gt).abs().sum() / num_gt
        iou = (1 - segment_iou(cw_to_se(pred.float()), cw_to_se(gt), self.generalized)).sum() / num_gt
        return ce, l1, iou

    def loss(self, outputs: dict[str, Any], batch: VideoBatch) -> dict[str, Tensor]:
        """Weighted set loss of the last layer (+ each earlier layer's with `aux_loss`)."""
        targets = self.targets(outputs["spans"], outputs["mask"], batch)
        layers = (outputs["aux"] if self.aux_loss else []) + [(outputs["logits"], outputs["segments"])]
        total, parts = 0.0, None
        for logits, cw in layers:
            parts = self.set_loss(logits, cw, targets)
            total = total + sum(w * p for w, p in zip(self.weights, parts))
        ce, l1, iou = parts
        return {"loss": total, "loss_cls": ce.detach(), "loss_l1": l1.detach(), "loss_iou": iou.detach()}

    def detections(self, logits: Tensor, cw: Tensor, start: float, length: float, duration: float,
                   max_detections: int) -> tuple[list[list[float]], list[int], list[float]]:
        """One video's detections, best first: `(segments [[s, e]] s, class ids, scores)`.

        Args:
            logits: `[Q, C+1]`; `cw`: `[Q, 2]` normalised (centre, width).
            start, length: the real units' extent (s) the segments are normalised to.
            duration: s, segments are clipped to `[0, duration]`.
        """
        probs = logits.detach().float().softmax(-1)[:, : self.num_classes].cpu().numpy()
        se = (cw_to_se(cw.detach().float()).cpu().numpy() * length + start).clip(0.0, duration)
        flat = probs.reshape(-1)
        order = np.argsort(-flat, kind="stable")[:max_detections]
        q, c = np.divmod(order, self.num_classes)
        return se[q].tolist(), c.tolist(), flat[order].astype(np.float64).tolist()

    @torch.no_grad()
    def predict(self, outputs: dict[str, Any], batch: VideoBatch) -> list[dict[str, Any]]:
        """One entry per video: `{"video_id", "segments": [[s, e]] (s), "labels": [id], "scores"}`."""
        spans, mask = outputs["spans"], outputs["mask"]
        start, length = video_extent(spans, mask)
        entries = []
        for b, meta in enumerate(batch.meta):
            end = float(spans[b][mask[b]][:, 1].max()) if mask[b].any() else 0.0
            duration = float(meta.get("duration") or end)
            segs, labs, scores = self.detections(outputs["logits"][b], outputs["segments"][b], float(start[b]), float(length[b]),
                                                 duration, self.max_detections)
            entries.append({"video_id": meta["video_id"], "segments": segs, "labels": labs, "scores": scores})
        return entries

    @torch.no_grad()
    def stream_answer(self, outputs: dict[str, Any], first_unit: int, n_units: int, *, top: int = 3,
                      class_names: list[str] | None = None, state: dict[str, Any] | None = None,
                      final: bool = False) -> list[dict[str, Any]]:
        """The best `top` detections so far, at the newest unit: `{"unit", "segments": [[start_s,
        end_s, class, score], ...]}` best first. The unit states seen so far are kept in `state`
        and the queries decode over all of them (seconds from the stream's start)."""
        if not n_units:
            return []
        state = {} if state is None else state
        hidden = grow(state, "hidden", outputs["hidden"][0, :n_units])
        spans = grow(state, "spans", outputs["spans"][0, :n_units])
        mask = torch.ones(1, hidden.shape[0], dtype=torch.bool, device=hidden.device)
        logits, cw = self.decode(hidden[None], spans[None], mask)
        start, length = video_extent(spans[None], mask)
        segs, labs, scores = self.detections(logits[-1][0], cw[-1][0], float(start[0]), float(length[0]),
                                             float(spans[:, 1].max()), top)
        rows = [moment_row(s, e, p, class_label(class_names, self.num_classes, c)) for (s, e), c, p in zip(segs, labs, scores)]
        return [{"unit": first_unit + n_units - 1, "segments": rows}]

"""`MomentQueryHead`: ActionFormer-style anchor-free temporal detection on visual units.

Every visual unit `i` (span `[a_i, b_i]` s, centre `c_i`, length `L_i`) predicts
class scores `[C]` (sigmoid) and distances to the action's start and end in units of
`L_i`. A segment covers a unit when it contains the unit's centre (a segment covering
no centre is given to the unit nearest to its middle); a unit covered by several takes
the shortest. Losses: sigmoid focal loss over all real units (normalised by the number
of positive units) + `1 - tIoU` of the regressed offsets on positive units.
Prediction: segment `[c_i - d_s L_i, c_i + d_e L_i]` clipped to the video, score =
class probability, then per-class soft-NMS (or NMS), at most `max_detections` per video.
While streaming, the newest unit answers the best detections so far (`MomentQueryHead.stream_answer`).
"""
from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from videollm_core.base import TaskHead
from videollm_core.streaming import class_label
from videollm_core.types import StreamInputs, VideoBatch

from ..common.answers import grow, moment_row
from ..common.detection import nms, soft_nms


def assign_units(spans: Tensor, mask: Tensor, segments: list[list[float]], labels: list[int], num_classes: int) -> tuple[Tensor, Tensor, Tensor]:
    """Per-unit targets of one video.

    Args:
        spans: `[N, 2]` unit spans (s); `mask` `[N]` real units.
        segments: GT `[[s, e], ...]` (s); `labels`: class ids.

    Returns:
        `cls [N, C]` 0/1, `reg [N, 2]` (distances to start/end in unit lengths),
        `pos [N]` bool.
    """
    n = spans.shape[0]
    cls = spans.new_zeros(n, num_classes)
    reg = spans.new_zeros(n, 2)
    pos = torch.zeros(n, dtype=torch.bool, device=spans.device)
    best_len = spans.new_full((n,), float("inf"))
    centre = spans.mean(-1)
    length = (spans[:, 1] - spans[:, 0]).clamp(min=1e-6)
    for (s, e), c in sorted(zip(segments, labels), key=lambda x: -(x[0][1] - x[0][0])):  # longest first, shortest wins
        inside = (centre >= s) & (centre <= e) & mask
        if not inside.any() and mask.any():
            inside = torch.zeros_like(mask)
            dist = (centre - (s + e) / 2).abs().masked_fill(~mask, float("inf"))
            inside[int(dist.argmin())] = True
        take = inside & ((e - s) <= best_len)
        cls[take] = 0
        cls[take, int(c)] = 1
        reg[take, 0] = (centre[take] - s) / length[take]
        reg[take, 1] = (e - centre[take]) / length[take]
        best_len[take] = e - s
        pos |= take
    return cls, reg, pos


def offset_iou_loss(pred: Tensor, target: Tensor) -> Tensor:
    """`1 - tIoU` of segments given as distances `[K, 2]` (left, right) from a shared centre."""
    inter = torch.minimum(pred[:, 0], target[:, 0]) + torch.minimum(pred[:, 1], target[:, 1])
    union = pred.sum(-1) + target.sum(-1) - inter
    return 1.0 - inter.clamp(min=0) / union.clamp(min=1e-6)


class MomentQueryHead(TaskHead):
    """Per-unit classification + boundary regression for temporal action detection.

    Args:
        in_dim: LLM hidden size `H` (supplied).
        num_classes: `C` (supplied by the dataset).
        hidden_dim: width of the two-layer MLP towers.
        focal_alpha, focal_gamma: sigmoid focal loss parameters.
        reg_weight: weight of the tIoU regression loss.
        score_threshold: minimum class probability of a candidate.
        nms: `"soft"` (gaussian soft-NMS, ActionFormer), `"hard"` (greedy NMS) or `"none"`.
        nms_iou: tIoU above which hard NMS suppresses; `nms_sigma`: soft-NMS gaussian sigma.
        max_detections: detections kept per video after NMS.
    """

    task: ClassVar[str] = "moment_query"

    def __init__(
        self,
        in_dim: int,
        num_classes: int,
        hidden_dim: int = 128,
        focal_alpha: float = 0.25,
        focal_gamma: float = 2.0,
        reg_weight: float = 1.0,
        score_threshold: float = 0.01,
        nms: str = "soft",
        nms_iou: float = 0.5,
        nms_sigma: float = 0.5,
        max_detections: int = 100,
    ) -> None:
        super().__init__(in_dim)
        if nms not in ("soft", "hard", "none"):
            from videollm_core.errors import ConfigError

            raise ConfigError(f"nms must be 'soft', 'hard' or 'none', got {nms!r}", where="model.head.nms", hint="ActionFormer uses soft")
        self.num_classes = int(num_classes)
        self.cls_tower = nn.Sequential(nn.Linear(in_dim, hidden_dim), nn.GELU(), nn.Linear(hidden_dim, self.num_classes))
        self.reg_tower = nn.Sequential(nn.Linear(in_dim, hidden_dim), nn.GELU(), nn.Linear(hidden_dim, 2))
        prior = 0.01  # RetinaNet/ActionFormer bias init: every class starts at probability 0.01
        nn.init.constant_(self.cls_tower[-1].bias, float(-np.log((1 - prior) / prior)))
        self.focal_alpha, self.focal_gamma, self.reg_weight = float(focal_alpha), float(focal_gamma), float(reg_weight)
        self.score_threshold, self.nms, self.nms_iou, self.nms_sigma = float(score_threshold), nms, float(nms_iou), float(nms_sigma)
        self.max_detections = int(max_detections)

    def forward(self, hidden: Tensor, batch: VideoBatch, stream: StreamInputs) -> dict[str, Any]:
        """`hidden [B, N, H]` -> `logits [B, N, C]`, `offsets [B, N, 2]` (>= 0, unit lengths), spans, mask."""
        return {
            "logits": self.cls_tower(hidden),
            "offsets": F.softplus(self.reg_tower(hidden)),
            "spans": stream.visual.spans,
            "mask": stream.visual.mask,
        }

    def loss(self, outputs: dict[str, Any], batch: VideoBatch) -> dict[str, Tensor]:
        logits, offsets, spans, mask = outputs["logits"], outputs["offsets"], outputs["spans"], outputs["mask"]
        cls_t, reg_t, pos = [], [], []
        for b in range(logits.shape[0]):
            c, r, p = assign_units(spans[b].float(), mask[b], batch.targets["segments"][b], batch.targets["labels"][b], self.num_classes)
            cls_t.append(c)
            reg_t.append(r)
            pos.append(p)
        cls_t, reg_t, pos = torch.stack(cls_t), torch.stack(reg_t), torch.stack(pos)
        num_pos = pos.sum().clamp(min=1).float()
        focal = _sigmoid_focal(logits[mask], cls_t[mask], self.focal_alpha, self.focal_gamma).sum() / num_pos
        reg = offset_iou_loss(offsets[pos], reg_t[pos]).sum() / num_pos if pos.any() else offsets.sum() * 0.0
        return {"loss": focal + self.reg_weight * reg, "loss_cls": focal.detach(), "loss_reg": reg.detach()}

    @torch.no_grad()
    def predict(self, outputs: dict[str, Any], batch: VideoBatch) -> list[dict[str, Any]]:
        """One entry per video: `{"video_id", "segments": [[s, e]] (s), "labels": [id], "scores"}`."""
        probs = torch.sigmoid(outputs["logits"]).float().cpu().numpy()
        offsets = outputs["offsets"].float().cpu().numpy()
        spans, mask = outputs["spans"].float().cpu().numpy(), outputs["mask"].cpu().numpy()
        entries = []
        for b, meta in enumerate(batch.meta):
            m = mask[b]
            duration = float(meta.get("duration") or spans[b, m, 1].max())
            segs, labs, scores = self.detections(probs[b, m], offsets[b, m], spans[b, m], duration, self.max_detections)
            entries.append({"video_id": meta["video_id"], "segments": segs, "labels": labs, "scores": scores})
        return entries

    def detections(self, probs: np.ndarray, offsets: np.ndarray, spans: np.ndarray, duration: float,
                   max_detections: int) -> tuple[list[list[float]], list[int], list[float]]:
        """One video's detections, best first: `(segments [[s, e]] s, class ids, scores)`.

        Args:
            probs: `[N, C]` class probabilities of the real units; `offsets` `[N, 2]` (unit lengths).
            spans: `[N, 2]` s; `duration`: s, segments are clipped to it.
            max_detections: kept per class after NMS and in all (the first of a longer list are the same).
        """
        centre, length = spans.mean(-1), spans[:, 1] - spans[:, 0]
        seg = np.stack([centre - offsets[:, 0] * length, centre + offsets[:, 1] * length], -1).clip(0.0, duration)
        segs, labs, scores = [], [], []
        for c in range(self.num_classes):
            keep = np.nonzero(probs[:, c] >= self.score_threshold)[0]
            if len(keep) == 0:
                continue
            s_c, p_c = seg[keep], probs[:, c][keep]
            if self.nms == "hard":
                idx = nms(s_c, p_c, self.nms_iou, max_detections)
                s_c, p_c = s_c[idx], p_c[idx]
            elif self.nms == "soft":
                idx, p_c = soft_nms(s_c, p_c, self.nms_sigma, min_score=self.score_threshold * 0.1, max_keep=max_detections)
                s_c = s_c[idx]
            segs.extend(s_c.tolist())
            labs.extend([c] * len(s_c))
            scores.extend(np.asarray(p_c, dtype=np.float64).tolist())
        order = np.argsort(-np.asarray(scores), kind="stable")[:max_detections]
        return [segs[i] for i in order], [labs[i] for i in order], [scores[i] for i in order]

    @torch.no_grad()
    def stream_answer(self, outputs: dict[str, Any], first_unit: int, n_units: int, *, top: int = 3,
                      class_names: list[str] | None = None, state: dict[str, Any] | None = None,
                      final: bool = False) -> list[dict[str, Any]]:
        """The best `top` detections so far, at the newest unit: `{"unit", "segments": [[start_s,
        end_s, class, score], ...]}` best first (`detections` over every unit so far, kept in
        `state`; seconds from the stream's start; the class named from `class_names`)."""
        if not n_units:
            return []
        state = {} if state is None else state
        probs = grow(state, "probs", torch.sigmoid(outputs["logits"][0, :n_units].float()).cpu())
        offsets = grow(state, "offsets", outputs["offsets"][0, :n_units].float().cpu())
        spans = grow(state, "spans", outputs["spans"][0, :n_units].float().cpu())
        segs, labs, scores = self.detections(probs.numpy(), offsets.numpy(), spans.numpy(), float(spans[:, 1].max()), top)
        rows = [moment_row(s, e, p, class_label(class_names, self.num_classes, c)) for (s, e), c, p in zip(segs, labs, scores)]
        return [{"unit": first_unit + n_units - 1, "segments": rows}]


def _sigmoid_focal(logits: Tensor, targets: Tensor, alpha: float, gamma: float) -> Tensor:
    """Element-wise sigmoid focal loss (Lin et al. 2017), `[K, C]`."""
    p = torch.sigmoid(logits)
    ce = F.binary_cross_entropy_with_logits(logits, targets, reduction="none")
    p_t = p * targets + (1 - p) * (1 - targets)
    loss = ce * (1 - p_t) ** gamma
    if alpha >= 0:
        loss = (alpha * targets + (1 - alpha) * (1 - targets)) * loss
    return loss

"""`MomentRetrievalHighlightHead`: moment retrieval windows + per-clip highlight saliency.

Moment retrieval is the boundary scoring shared with NLQ (`MomentBoundaryHead`:
start / end / inside logits per visual unit, several GT windows as a soft target);
highlight detection adds one saliency logit per unit, trained with binary cross-entropy
against the annotators' mean saliency / 4 (`targets["saliency"]` per feature step,
read at each unit's last step). Predictions follow the official jsonl:
`pred_relevant_windows = [[st, ed, score], ...]` (score = the window's probability
`exp(log-score)`, best first) and `pred_saliency_scores` = one score per feature step
(2-s clip), each clip taking its unit's saliency logit. While streaming, each unit answers its
saliency and the newest one the best windows so far (`MomentRetrievalHighlightHead.stream_answer`).
"""
from __future__ import annotations

from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from videollm_core.types import StreamInputs, VideoBatch

from ..common.moment_heads import MomentBoundaryHead
from ..common.units import steps_to_units, units_to_steps


class MomentRetrievalHighlightHead(MomentBoundaryHead):
    """QVHighlights head: ranked windows (MR) and clip saliency (HD).

    Args:
        in_dim, hidden_dim, max_window_units, inside_weight, nms_iou, query_fusion: as
            `MomentBoundaryHead` (with query fusion the saliency is read from the
            same query-conditioned unit features).
        num_windows: windows per query (the official mAP keeps the first 10).
        saliency_weight: weight of the saliency loss.
    """

    task: ClassVar[str] = "qvhighlights"

    def __init__(self, in_dim: int, hidden_dim: int = 128, num_windows: int = 10, max_window_units: int | None = None,
                 inside_weight: float = 1.0, nms_iou: float = 0.7, saliency_weight: float = 1.0, query_fusion: bool = True) -> None:
        super().__init__(in_dim, hidden_dim, num_windows, max_window_units, inside_weight, nms_iou, query_fusion)
        self.saliency = nn.Sequential(nn.Linear(self.feature_dim, hidden_dim), nn.GELU(), nn.Linear(hidden_dim, 1))
        self.saliency_weight = float(saliency_weight)

    def forward(self, hidden: Tensor, batch: VideoBatch, stream: StreamInputs) -> dict[str, Any]:
        """Adds `saliency [B, N]` logits to the boundary outputs."""
        out = super().forward(hidden, batch, stream)
        out["saliency"] = self.saliency(out["features"]).squeeze(-1)
        return out

    def loss(self, outputs: dict[str, Any], batch: VideoBatch) -> dict[str, Tensor]:
        losses = self.window_loss(outputs, batch.targets["windows"])
        target = steps_to_units(batch.targets["saliency"].float(), batch.timestamps, outputs["spans"], outputs["mask"], batch.mask)
        m = outputs["mask"]
        sal = F.binary_cross_entropy_with_logits(outputs["saliency"].float()[m], target[m].clamp(0, 1))
        losses["loss"] = losses["loss"] + self.saliency_weight * sal
        losses["loss_saliency"] = sal.detach()
        return losses

    @torch.no_grad()
    def predict(self, outputs: dict[str, Any], batch: VideoBatch) -> list[dict[str, Any]]:
        """One official row per query: `qid, query, vid, pred_relevant_windows, pred_saliency_scores`."""
        per_step = units_to_steps(outputs["saliency"].float(), batch.timestamps, outputs["spans"], outputs["mask"], batch.mask,
                                  fill=float("-inf"))
        entries = []
        for b, (meta, ranked) in enumerate(zip(batch.meta, self.ranked_windows(outputs, batch))):
            steps = per_step[b, batch.mask[b]].cpu()
            floor = steps[torch.isfinite(steps)].min() if torch.isfinite(steps).any() else torch.tensor(0.0)
            steps = torch.where(torch.isfinite(steps), steps, floor - 1.0)  # steps no unit covers rank last
            entries.append({
                "qid": meta["qid"], "query": meta.get("query", ""), "vid": meta["video_id"],
                "pred_relevant_windows": [[round(s, 4), round(e, 4), float(torch.tensor(score).exp())] for s, e, score in ranked],
                "pred_saliency_scores": [round(float(x), 4) for x in steps],
            })
        return entries

    @torch.no_grad()
    def stream_answer(self, outputs: dict[str, Any], first_unit: int, n_units: int, *, top: int = 3,
                      class_names: list[str] | None = None, state: dict[str, Any] | None = None,
                      final: bool = False) -> list[dict[str, Any]]:
        """`{"unit", "saliency"}` per new unit (the sigmoid of its saliency logit, in `[0, 1]`: the
        annotators' mean saliency / 4 it was trained on), the newest one also with the best `top`
        `moments` so far (`MomentBoundaryHead.stream_answer`)."""
        saliency = torch.sigmoid(outputs["saliency"][0, :n_units].float()).tolist() if n_units else []
        answers = [{"unit": first_unit + j, "saliency": round(p, 6)} for j, p in enumerate(saliency)]
        for answer in super().stream_answer(outputs, first_unit, n_units, top=top, state=state, final=final):
            answers[-1].update(answer)
        return answers

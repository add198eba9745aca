"""`ActionSegmentationHead`: a class per visual unit, brought back to frames.

Reads the LLM's hidden state of every unit after the whole video (dense prediction),
classifies it, and trains with cross-entropy on the unit's majority frame label plus
MS-TCN's smoothing loss (truncated MSE between the log-probabilities of consecutive
units, weight `smoothing`), which discourages over-segmentation. At inference every
ground-truth frame takes the class of the unit containing its centre (frames past the
last unit take the last unit's class), so predictions have the ground truth's length.
"""
from __future__ import annotations

from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from videollm_core.base import TaskHead
from videollm_core.types import StreamInputs, VideoBatch

from ..common.units import IGNORE_INDEX, steps_to_units


class ActionSegmentationHead(TaskHead):
    """Per-unit action classifier for temporal action segmentation.

    Args:
        in_dim: LLM hidden size `H` (supplied by the pipeline).
        num_classes: `C` (supplied by the dataset: 48 for Breakfast).
        dropout: dropout on the hidden states.
        smoothing: weight of the MS-TCN smoothing loss (0.15 in MS-TCN; 0 turns it off).
        smoothing_clamp: the truncation `tau^2` of that loss (16 in MS-TCN).
    """

    task: ClassVar[str] = "action_segmentation"

    def __init__(self, in_dim: int, num_classes: int, dropout: float = 0.1, smoothing: float = 0.15, smoothing_clamp: float = 16.0):
        super().__init__(in_dim)
        self.num_classes = int(num_classes)
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(self.in_dim, self.num_classes)
        self.smoothing = float(smoothing)
        self.smoothing_clamp = float(smoothing_clamp)

    def forward(self, hidden: Tensor, batch: VideoBatch, stream: StreamInputs) -> dict[str, Any]:
        """`hidden [B, N, H]` -> `logits [B, N, C]`, with the unit `spans [B, N, 2]` s and `unit_mask [B, N]`."""
        return {
            "logits": self.classifier(self.dropout(hidden)),
            "spans": stream.visual.spans,
            "unit_mask": stream.visual.mask,
        }

    def loss(self, outputs: dict[str, Any], batch: VideoBatch) -> dict[str, Tensor]:
        """Cross-entropy on per-unit majority labels (`targets["labels"] [B, T]`) + smoothing."""
        logits, mask = outputs["logits"], outputs["unit_mask"]
        targets = steps_to_units(batch.targets["labels"], batch.timestamps, outputs["spans"], mask, batch.mask, reduce="majority")
        targets = targets.masked_fill(~mask, IGNORE_INDEX)
        ce = F.cross_entropy(logits.flatten(0, 1), targets.flatten(), ignore_index=IGNORE_INDEX)
        out = {"loss_cls": ce}
        total = ce
        if self.smoothing > 0 and logits.shape[1] > 1:
            logp = F.log_softmax(logits, dim=-1)
            mse = F.mse_loss(logp[:, 1:], logp[:, :-1].detach(), reduction="none").clamp(0, self.smoothing_clamp)
            pair = (mask[:, 1:] & mask[:, :-1]).unsqueeze(-1).float()
            smooth = (mse * pair).sum() / (pair.sum() * self.num_classes).clamp(min=1)
            out["loss_smooth"] = smooth
            total = total + self.smoothing * smooth
        out["loss"] = total
        return out

    @torch.no_grad()
    def predict(self, outputs: dict[str, Any], batch: VideoBatch) -> list[dict[str, Any]]:
        """One entry per video: `{"video_id", "frame_labels": [class id per ground-truth frame]}`."""
        entries = []
        classes = outputs["logits"].argmax(-1)  # [B, N]
        for i, meta in enumerate(batch.meta):
            real = outputs["unit_mask"][i]
            unit_cls = classes[i][real].cpu()
            ends = outputs["spans"][i][real][:, 1].float().cpu()
            if len(ends) == 0:  # no unit at all: nothing to bring back to frames
                entries.append({"video_id": meta["video_id"], "frame_labels": []})
                continue
            fps = float(meta["fps"])
            num_frames = int(meta["num_frames"])
            centres = (torch.arange(num_frames, dtype=torch.float64) + 0.5) / fps
            unit = torch.searchsorted(ends.double(), centres, right=True).clamp(max=len(ends) - 1)
            entries.append({"video_id": meta["video_id"], "frame_labels": unit_cls[unit].tolist()})
        return entries

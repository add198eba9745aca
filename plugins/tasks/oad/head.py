"""``OnlineActionDetectionHead``: classify each unit from its own hidden state as it arrives.

The LLM is causal, so the hidden state of unit ``n`` (``hidden [B, N, H]``) has seen
units ``0..n`` only: a linear classifier on it is an online detector, and the same
numbers come out of the streaming API (``pipeline.stream()`` hands the head one new
unit at a time). Training targets are the per-step labels of the dataset mapped to
units (the label of the unit's last step: the newest frame when the unit arrives).
Predictions are per-step softmax scores (each step takes the scores of its unit).
"""
from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from videollm_core.base import TaskHead
from videollm_core.types import StreamInputs, VideoBatch

from ..common.units import IGNORE_INDEX, steps_to_units, units_to_steps

LABEL_KEYS = ("action", "verb", "noun")


class OnlineActionDetectionHead(TaskHead):
    """Per-unit classifiers for actions (and EK100 verbs/nouns); class 0 is background.

    Args:
        in_dim: LLM hidden size ``H`` (supplied).
        num_classes: action classes incl. background (supplied by the dataset).
        num_verbs, num_nouns: verb/noun classes incl. background (EK100; 0 = none).
        dropout: dropout before the classifiers.
    """

    task: ClassVar[str] = "oad"

    def __init__(self, in_dim: int, num_classes: int, num_verbs: int = 0, num_nouns: int = 0, dropout: float = 0.0) -> None:
        super().__init__(in_dim)
        self.dropout = nn.Dropout(dropout)
        self.classifiers = nn.ModuleDict({"action": nn.Linear(in_dim, int(num_classes))})
        if num_verbs:
            self.classifiers["verb"] = nn.Linear(in_dim, int(num_verbs))
        if num_nouns:
            self.classifiers["noun"] = nn.Linear(in_dim, int(num_nouns))

    def forward(self, hidden: Tensor, batch: VideoBatch, stream: StreamInputs) -> dict[str, Any]:
        """``hidden [B, N, H]`` -> ``{"action": [B, N, C], "verb"?, "noun"?}`` logits per unit, plus the unit layout."""
        h = self.dropout(hidden)
        out: dict[str, Any] = {k: clf(h) for k, clf in self.classifiers.items()}
        out["spans"], out["unit_mask"] = stream.visual.spans, stream.visual.mask
        return out

    def loss(self, outputs: dict[str, Any], batch: VideoBatch) -> dict[str, Tensor]:
        parts: dict[str, Tensor] = {}
        for key in self.classifiers:
            if key not in batch.targets:
                continue
            target = torch.as_tensor(batch.targets[key], device=outputs[key].device).long()
            per_unit = steps_to_units(target, batch.timestamps.to(target.device), outputs["spans"], outputs["unit_mask"], batch.mask.to(target.device))
            per_unit = torch.where(outputs["unit_mask"], per_unit, torch.full_like(per_unit, IGNORE_INDEX))
            logits = outputs[key]
            if (per_unit != IGNORE_INDEX).any():
                parts[f"loss_{key}"] = nn.functional.cross_entropy(logits.flatten(0, 1), per_unit.flatten(), ignore_index=IGNORE_INDEX)
            else:
                parts[f"loss_{key}"] = logits.sum() * 0.0
        parts["loss"] = sum(parts.values()) / max(1, len(parts))
        return parts

    @torch.no_grad()
    def predict(self, outputs: dict[str, Any], batch: VideoBatch) -> list[dict[str, Any]]:
        """One entry per window: ``{video_id, first_step, num_steps, fps, action [L, C], verb?, noun?}`` (softmax, per step)."""
        ts, mask = batch.timestamps.to(outputs["spans"].device), batch.mask.to(outputs["spans"].device)
        steps = {k: units_to_steps(outputs[k].float().softmax(-1), ts, outputs["spans"], outputs["unit_mask"], mask).cpu().numpy()
                 for k in self.classifiers}
        entries = []
        for i, meta in enumerate(batch.meta):
            n = int(batch.mask[i].sum())
            entry = {"video_id": meta["video_id"], "first_step": int(meta.get("first_step", 0)), "fps": float(meta.get("fps", 4.0)),
                     "num_steps": meta.get("num_steps")}  # lets the score writer store a video once it is complete
            entry.update({k: v[i, :n] for k, v in steps.items()})
            entries.append(entry)
        return entries

"""`ActionAnticipationHead`: verb / noun / action scores from the last observed unit.

The LLM reads the observed units causally; the hidden state of the last real unit
(`[B, H]`) summarises everything seen up to `tau_a` before the action, and three
linear classifiers turn it into verb `[B, V]`, noun `[B, Nn]` and action `[B, A]`
logits. Loss: mean of the three cross-entropies. Predictions: softmax scores.
"""
from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from videollm_core.base import TaskHead
from videollm_core.types import StreamInputs, VideoBatch

from ..common.units import gather_units, last_real_unit


class ActionAnticipationHead(TaskHead):
    """Linear verb/noun/action classifiers on the last observed unit's hidden state.

    Args:
        in_dim: LLM hidden size `H` (supplied).
        num_verbs, num_nouns, num_actions: class counts (supplied by the dataset).
        dropout: dropout on the hidden state before the classifiers.
    """

    task: ClassVar[str] = "anticipation"

    def __init__(self, in_dim: int, num_verbs: int, num_nouns: int, num_actions: int, dropout: float = 0.0) -> None:
        super().__init__(in_dim)
        self.dropout = nn.Dropout(dropout)
        self.verb = nn.Linear(in_dim, int(num_verbs))
        self.noun = nn.Linear(in_dim, int(num_nouns))
        self.action = nn.Linear(in_dim, int(num_actions))

    def forward(self, hidden: Tensor, batch: VideoBatch, stream: StreamInputs) -> dict[str, Any]:
        """`hidden [B, N, H]` -> logits `{"verb": [B, V], "noun": [B, Nn], "action": [B, A]}`."""
        h = self.dropout(gather_units(hidden, last_real_unit(stream.visual.mask)))
        return {"verb": self.verb(h), "noun": self.noun(h), "action": self.action(h)}

    def _observed(self, batch: VideoBatch, device: torch.device) -> Tensor:
        obs = batch.targets.get("observed")
        if obs is None:
            return torch.tensor([bool(m.get("observed", True)) for m in batch.meta], device=device)
        return torch.as_tensor(obs, device=device).bool().view(-1)

    def loss(self, outputs: dict[str, Any], batch: VideoBatch) -> dict[str, Tensor]:
        keep = self._observed(batch, outputs["verb"].device)
        parts = {}
        for key in ("verb", "noun", "action"):
            target = torch.as_tensor(batch.targets[key], device=outputs[key].device).long().view(-1)
            target = torch.where(keep, target, torch.full_like(target, -100))
            if (target != -100).any():
                parts[f"loss_{key}"] = nn.functional.cross_entropy(outputs[key], target, ignore_index=-100)
            else:
                parts[f"loss_{key}"] = outputs[key].sum() * 0.0
        parts["loss"] = (parts["loss_verb"] + parts["loss_noun"] + parts["loss_action"]) / 3.0
        return parts

    @torch.no_grad()
    def predict(self, outputs: dict[str, Any], batch: VideoBatch) -> list[dict[str, Any]]:
        """One entry per segment: `{narration_id, video_id, verb [V], noun [Nn], action [A]}` softmax scores."""
        keep = self._observed(batch, outputs["verb"].device).float().unsqueeze(-1)
        probs = {k: (outputs[k].float().softmax(-1) * keep).cpu().numpy() for k in ("verb", "noun", "action")}
        return [{"narration_id": m["narration_id"], "video_id": m["video_id"],
                 **{k: probs[k][i] for k in probs}} for i, m in enumerate(batch.meta)]

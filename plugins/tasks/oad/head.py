"""`OnlineActionDetectionHead`: classify each unit from its own hidden state as it arrives.

The LLM is causal, so the hidden state of unit `n` (`hidden [B, N, H]`) has seen
units `0..n` only: a linear classifier on it is an online detector, and the same
numbers come out of the streaming API (`pipeline.stream()` hands the head one new
unit at a time). Training targets are the per-step labels of the dataset mapped to
units (the label of the unit's last step: the newest frame when the unit arrives).
Predictions are per-step softmax scores (each step takes the scores of its unit).

The paper's OAD head has "two linear layers (current and next token)": with
`next_token=True` a second set of classifiers reads the same hidden state of unit `n`
and is trained on the labels of unit `n + 1` (`next_unit_targets`). It is an
auxiliary objective: the current-token classifiers still answer for unit `n` (`predict`
and the metric are unchanged), and the forecast for unit `n + 1` is returned under
`next_<key>` for anticipation-style use. Both read unit `n` only, so streaming still
equals the full forward.
"""
from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from videollm_core.base import TaskHead
from videollm_core.types import StreamInputs, VideoBatch

from ..common.units import IGNORE_INDEX, steps_to_units, units_to_steps

LABEL_KEYS = ("action", "verb", "noun")
#: prefix of the next-token branch's output keys and loss parts (`next_action`, `loss_next_action`).
NEXT = "next_"


def next_unit_targets(per_unit: Tensor, unit_mask: Tensor) -> Tensor:
    """Targets of the next-token branch: at unit `n`, the label of unit `n + 1` of the same sample.

    Args:
        per_unit: `[B, N]` long per-unit labels (`IGNORE_INDEX` where unlabelled).
        unit_mask: `[B, N]` bool, real units (padding after them).

    Returns:
        `[B, N]` long: `per_unit[:, n + 1]` where units `n` and `n + 1` are both real,
        `IGNORE_INDEX` elsewhere (the last real unit of each sample has no next unit).
    """
    mask = unit_mask.bool()
    pad = per_unit.new_full((per_unit.shape[0], 1), IGNORE_INDEX)
    shifted = torch.cat([per_unit[:, 1:], pad], dim=1)
    both = mask & torch.cat([mask[:, 1:], torch.zeros_like(mask[:, :1])], dim=1)
    return torch.where(both, shifted, torch.full_like(shifted, IGNORE_INDEX))


def _cross_entropy(logits: Tensor, target: Tensor) -> Tensor:
    """Mean cross-entropy of `logits [B, N, C]` on `target [B, N]` (a zero that keeps the graph if none is labelled)."""
    if (target != IGNORE_INDEX).any():
        return nn.functional.cross_entropy(logits.flatten(0, 1), target.flatten(), ignore_index=IGNORE_INDEX)
    return logits.sum() * 0.0


class OnlineActionDetectionHead(TaskHead):
    """Per-unit classifiers for actions (and EK100 verbs/nouns); class 0 is background.

    Args:
        in_dim: LLM hidden size `H` (supplied).
        num_classes: action classes incl. background (supplied by the dataset).
        num_verbs, num_nouns: verb/noun classes incl. background (EK100; 0 = none).
        dropout: dropout before the classifiers.
        next_token: add the paper's next-token branch: one more linear layer per label space
            on the hidden state of unit `n`, trained on the labels of unit `n + 1`.
        next_token_weight: weight of the next-token loss (the mean of its parts) added to the
            current-token loss (the mean of its parts).
    """

    task: ClassVar[str] = "oad"

    def __init__(self, in_dim: int, num_classes: int, num_verbs: int = 0, num_nouns: int = 0, dropout: float = 0.0,
                 next_token: bool = False, next_token_weight: float = 1.0) -> None:
        super().__init__(in_dim)
        self.dropout = nn.Dropout(dropout)
        sizes = {"action": int(num_classes), "verb": int(num_verbs or 0), "noun": int(num_nouns or 0)}
        self.classifiers = nn.ModuleDict({k: nn.Linear(in_dim, n) for k, n in sizes.items() if n})
        self.next_token, self.next_token_weight = bool(next_token), float(next_token_weight)
        # empty without next_token: no parameters, no state-dict entries
        self.next_classifiers = nn.ModuleDict({k: nn.Linear(in_dim, n) for k, n in sizes.items() if n and self.next_token})

    def forward(self, hidden: Tensor, batch: VideoBatch, stream: StreamInputs) -> dict[str, Any]:
        """Logits per unit, plus the unit layout.

        Args:
            hidden: `[B, N, H]` LLM hidden states at the visual units.

        Returns:
            `action [B, N, C]` (`verb [B, N, V]`, `noun [B, N, Nn]` for EK100): scores of unit
            `n`; with `next_token`, `next_action [B, N, C]` (`next_verb`, `next_noun`): the
            forecast of unit `n + 1` from unit `n`; `spans [B, N, 2]`, `unit_mask [B, N]`.
        """
        h = self.dropout(hidden)
        out: dict[str, Any] = {k: clf(h) for k, clf in self.classifiers.items()}
        out.update({NEXT + k: clf(h) for k, clf in self.next_classifiers.items()})
        out["spans"], out["unit_mask"] = stream.visual.spans, stream.visual.mask
        return out

    def unit_targets(self, key: str, batch: VideoBatch, outputs: dict[str, Any]) -> Tensor:
        """Per-step targets `batch.targets[key] [B, T]` -> per-unit `[B, N]` (`IGNORE_INDEX` off the units)."""
        target = torch.as_tensor(batch.targets[key], device=outputs[key].device).long()
        per_unit = steps_to_units(target, batch.timestamps.to(target.device), outputs["spans"], outputs["unit_mask"],
                                  batch.mask.to(target.device))
        return torch.where(outputs["unit_mask"], per_unit, torch.full_like(per_unit, IGNORE_INDEX))

    def loss(self, outputs: dict[str, Any], batch: VideoBatch) -> dict[str, Tensor]:
        """`loss_<key>` per label space, `loss_next_<key>` with `next_token`; `loss` = mean of the
        current parts + `next_token_weight` x mean of the next parts."""
        parts: dict[str, Tensor] = {}
        nexts: dict[str, Tensor] = {}
        for key in self.classifiers:
            if key not in batch.targets:
                continue
            per_unit = self.unit_targets(key, batch, outputs)
            parts[f"loss_{key}"] = _cross_entropy(outputs[key], per_unit)
            if key in self.next_classifiers:
                nexts[f"loss_{NEXT}{key}"] = _cross_entropy(outputs[NEXT + key], next_unit_targets(per_unit, outputs["unit_mask"]))
        total = sum(parts.values()) / max(1, len(parts))
        if nexts:
            total = total + self.next_token_weight * (sum(nexts.values()) / len(nexts))
        return {**parts, **nexts, "loss": total}

    @torch.no_grad()
    def predict(self, outputs: dict[str, Any], batch: VideoBatch) -> list[dict[str, Any]]:
        """One entry per window: `{video_id, first_step, num_steps, fps, action [L, C], verb?, noun?}` (softmax, per step).

        The current-token branch answers; the next-token forecasts are not scored by the OAD metric.
        """
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

    def stream_answer(self, outputs: dict[str, Any], first_unit: int, n_units: int, *, top: int = 3,
                      class_names: list[str] | None = None, state: dict[str, Any] | None = None,
                      final: bool = False) -> list[dict[str, Any]]:
        """The default answers per unit ([`TaskHead.stream_answer`][videollm_core.base.TaskHead.stream_answer]). With `next_token` the forecasts
        `next_<key>` are ranked apart and merged into each unit's answer, so the recorded class names
        still name `action` (and `next_action`) rather than fitting two outputs and naming neither."""
        args = dict(top=top, class_names=class_names, state=state, final=final)
        if not self.next_classifiers:
            return super().stream_answer(outputs, first_unit, n_units, **args)
        current = {k: v for k, v in outputs.items() if not k.startswith(NEXT)}
        forecast = {k: v for k, v in outputs.items() if k.startswith(NEXT) or k not in self.classifiers}
        answers = super().stream_answer(current, first_unit, n_units, **args)
        extra = {a["unit"]: a for a in super().stream_answer(forecast, first_unit, n_units, **args)}
        return [{**a, **extra.get(a["unit"], {})} for a in answers]

"""A task head: one class per visual unit, read from the LLM's hidden states."""
from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from videollm_core import ConfigError, StreamInputs, TaskHead, VideoBatch


def unit_labels(step_labels: Tensor, timestamps: Tensor, step_mask: Tensor, spans: Tensor, unit_mask: Tensor) -> Tensor:
    """Per-step labels to per-unit labels: each unit takes the label of the real step nearest its centre.

    Args:
        step_labels: ``[B, T]`` long (``-100`` = no label), timestamps ``[B, T, 2]`` s,
        step_mask: ``[B, T]`` bool; spans ``[B, N, 2]`` s and unit_mask ``[B, N]`` of the units.

    Returns:
        ``[B, N]`` long, ``-100`` on padded units.
    """
    step_centre = timestamps.mean(-1)  # [B, T]
    unit_centre = spans.mean(-1)  # [B, N]
    distance = (unit_centre.unsqueeze(-1) - step_centre.unsqueeze(1)).abs()
    nearest = distance.masked_fill(~step_mask.unsqueeze(1), float("inf")).argmin(-1)  # [B, N]
    return step_labels.gather(1, nearest).masked_fill(~unit_mask, -100)


class ExampleHead(TaskHead):
    """Classifies every visual unit from the LLM's hidden state (LayerNorm, dropout, linear).

    Args:
        in_dim: the LLM's hidden size ``H`` (supplied by the pipeline).
        num_classes: number of classes (supplied by the dataset's ``head_args``).
        dropout: dropout before the classifier.

    ``forward``: ``hidden [B, N, H]`` -> ``logits [B, N, C]`` (+ unit mask and spans s).
    ``loss``: cross-entropy against :func:`unit_labels` of ``batch.targets["labels"]``.
    ``predict``: per video, consecutive units of the same class merged into
    ``segments [[start s, end s, class index], ...]``.
    """

    task = "example"

    def __init__(self, in_dim: int, num_classes: int, dropout: float = 0.0):
        super().__init__(in_dim)
        if not isinstance(num_classes, int) or num_classes < 1:
            raise ConfigError(f"num_classes must be a positive integer, got {num_classes!r}", where="ExampleHead.num_classes")
        self.num_classes = num_classes
        self.classifier = nn.Sequential(nn.LayerNorm(in_dim), nn.Dropout(dropout), nn.Linear(in_dim, num_classes))

    def forward(self, hidden: Tensor, batch: VideoBatch, stream: StreamInputs) -> dict[str, Any]:
        return {"logits": self.classifier(hidden), "mask": stream.visual.mask, "spans": stream.visual.spans}

    def loss(self, outputs: dict[str, Any], batch: VideoBatch) -> dict[str, Tensor]:
        logits = outputs["logits"]
        labels = unit_labels(batch.targets["labels"], batch.timestamps, batch.mask, outputs["spans"], outputs["mask"])
        if not bool((labels != -100).any()):  # nothing labelled in this batch
            return {"loss": logits.sum() * 0.0}
        return {"loss": F.cross_entropy(logits.reshape(-1, self.num_classes), labels.reshape(-1), ignore_index=-100)}

    @torch.no_grad()
    def predict(self, outputs: dict[str, Any], batch: VideoBatch) -> list[dict[str, Any]]:
        classes = outputs["logits"].argmax(-1).cpu()
        mask, spans = outputs["mask"].cpu(), outputs["spans"].float().cpu()
        entries = []
        for i, meta in enumerate(batch.meta):
            segments: list[list[float]] = []
            for (start, end), c in zip(spans[i][mask[i]].tolist(), classes[i][mask[i]].tolist()):
                if segments and segments[-1][2] == c:
                    segments[-1][1] = end
                else:
                    segments.append([start, end, c])
            entries.append({"video_id": meta["video_id"], "segments": segments})
        return entries

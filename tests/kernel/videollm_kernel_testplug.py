"""A test plugin for the kernel tests: small, real components of every role.

Loaded through faked entry points (name ``kerneltest``) or ``PluginManager.register``.
"""
from __future__ import annotations

import json
from typing import Any, ClassVar

import torch
from torch import nn

import videollm_core
from videollm_core import Encoder, LLMAdapter, Metric, TaskHead, Translator, Tuner, VideoDataset


class TinyEncoder(Encoder):
    """Linear unit encoder: features [B, T, in_dim] -> tokens [B, T, out_dim]."""

    def __init__(self, in_dim: int, out_dim: int = 16):
        super().__init__()
        self.in_dim, self.out_dim = in_dim, out_dim
        self.proj = nn.Linear(in_dim, out_dim)

    def forward(self, batch):
        """One unit per feature step: ``[B, T, in_dim]`` -> ``[B, T, out_dim]``."""
        from videollm_core.types import TokenSequence

        return TokenSequence(self.proj(batch.features), batch.mask, batch.timestamps)


class TinyTranslator(Translator):
    """Two-layer MLP translator."""

    def __init__(self, in_dim: int, out_dim: int, hidden: int = 8):
        super().__init__(in_dim, out_dim)
        self.mlp = nn.Sequential(nn.Linear(in_dim, hidden), nn.GELU(), nn.Linear(hidden, out_dim))

    def forward(self, tokens):
        return tokens.with_embeds(self.mlp(tokens.embeds))


class TinyLLM(LLMAdapter):
    """A small embedding + linear stand-in decoder (frozen by TinyFreeze)."""

    def __init__(self, n_embd: int = 32, vocab_size: int = 50):
        super().__init__()
        self.embed_dim = self.hidden_size = n_embd
        self.vocab_size = vocab_size
        self.model = nn.Sequential(nn.Embedding(vocab_size, n_embd), nn.Linear(n_embd, n_embd))

    def tokenize(self, texts):
        """Words hashed into the vocabulary (id 0 is padding), right-padded."""
        ids = [[1 + sum(map(ord, w)) % (self.vocab_size - 1) for w in t.split()] for t in texts]
        width = max((len(i) for i in ids), default=0)
        out = torch.zeros(len(texts), width, dtype=torch.long)
        for row, i in enumerate(ids):
            out[row, : len(i)] = torch.tensor(i, dtype=torch.long)
        return out, out > 0

    def embed_text(self, ids):
        return self.model[0](ids)

    def forward(self, embeds, mask, cache=None, use_cache=False):
        """Position-wise: each token's state is a linear map of its embedding (no attention, no cache)."""
        return self.model[1](embeds), None

    def lm_logits(self, hidden):
        return hidden @ self.model[0].weight.T

    def generate(self, embeds, mask, max_new_tokens=20, num_beams=1, cache=None, last_hidden=None, step_embeds=None):
        """Greedy words from the last state: ids as text (``"t7 t3"``)."""
        ids = self.lm_logits(self.forward(embeds[:, -1:], None)[0]).argmax(-1)  # [B, 1]
        return [" ".join(f"t{int(i)}" for i in row[:max_new_tokens]) for row in ids]


class TinyFreeze(Tuner):
    """Freeze every LLM parameter."""

    def apply(self, llm: LLMAdapter) -> None:
        for p in llm.parameters():
            p.requires_grad_(False)


class TinyHead(TaskHead):
    """Linear classifier over units."""

    task: ClassVar[str] = "tiny"

    def __init__(self, in_dim: int, num_classes: int, dropout: float = 0.0):
        super().__init__(in_dim)
        self.fc = nn.Linear(in_dim, num_classes)

    def forward(self, hidden, batch, stream):
        return {"logits": self.fc(hidden).mean(1)}  # one label per video

    def loss(self, outputs, batch):
        loss = nn.functional.cross_entropy(outputs["logits"], torch.as_tensor(batch.targets["label"]))
        return {"loss": loss}

    def predict(self, outputs, batch):
        return [{"video_id": m.get("video_id"), "label": int(c)} for m, c in zip(batch.meta, outputs["logits"].argmax(-1))]


class TinyDataset(VideoDataset):
    """JSON list of {video_id, label}."""

    task: ClassVar[str] = "tiny"
    provides_head_args: ClassVar[tuple[str, ...]] = ("num_classes",)

    def __init__(self, ann_file: str, feature_dim: int, on_error: str = "raise", num_classes: int = 3):
        self.ann_file, self.feature_dim, self.num_classes = ann_file, feature_dim, num_classes

    def head_args(self) -> dict[str, Any]:
        return {"num_classes": self.num_classes}

    def ground_truth(self) -> dict[str, int]:
        with open(self.ann_file) as f:
            return {row["video_id"]: row["label"] for row in json.load(f)}


class TinyAccuracy(Metric):
    """Top-1 accuracy (percent) of {video_id: label} predictions against a {video_id: label} ground truth."""

    task: ClassVar[str] = "tiny"
    keys: ClassVar[tuple[str, ...]] = ("accuracy",)
    primary_key: ClassVar[str] = "accuracy"

    def __init__(self, tious: list[float] | None = None, ignore: list[str] | None = None):
        super().__init__()
        self.tious = list(tious or [])
        self.ignore = set(ignore or [])

    def load_ground_truth(self, path):
        with open(path) as f:
            return json.load(f)

    def evaluate(self, predictions: Any, ground_truth: Any) -> dict[str, float]:
        ids = [v for v in ground_truth if v not in self.ignore]
        correct = sum(predictions.get(v) == ground_truth[v] for v in ids)
        out = {"accuracy": 100.0 * correct / len(ids)}
        for t in self.tious:
            out[f"accuracy@{t}"] = out["accuracy"]
        return out


COMPONENTS = {
    "encoders": {"TinyEncoder": TinyEncoder},
    "translators": {"TinyTranslator": TinyTranslator},
    "llms": {"TinyLLM": TinyLLM},
    "tuners": {"TinyFreeze": TinyFreeze},
    "heads": {"TinyHead": TinyHead},
    "datasets": {"TinyDataset": TinyDataset},
    "metrics": {"tiny": TinyAccuracy},
}


@videollm_core.hookimpl
def videollm_register(registries):
    for role, comps in COMPONENTS.items():
        for name, cls in comps.items():
            registries[role].register_module(name=name, module=cls)

"""`LongTermAnticipationHead`: Z future (verb, noun) pairs, K candidate sequences.

The hidden state of the last observed unit and the mean over the observed units
(`[B, 2H]`) go through a shared MLP and
one linear layer per output that produces all Z positions at once: verb logits
`[B, Z, V]` and noun logits `[B, Z, Nn]`. Loss: mean cross-entropy over the Z
positions. Predictions: candidate 1 is the per-position argmax, candidates 2..K are
sampled from the per-position softmax (a seeded generator, so runs repeat), as the
Ego4D baseline samples its K sequences. While streaming, the newest unit answers candidate 1
(`LongTermAnticipationHead.stream_answer`).
"""
from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from videollm_core.base import TaskHead
from videollm_core.streaming import class_label, named_output
from videollm_core.types import StreamInputs, VideoBatch

from ..common.units import gather_units, last_real_unit


class LongTermAnticipationHead(TaskHead):
    """Parallel Z-step verb/noun decoder on the last observed unit.

    Args:
        in_dim: LLM hidden size `H` (supplied).
        num_verbs, num_nouns: taxonomy sizes (supplied). z: future actions (20).
        k: candidate sequences per sample (5). hidden: MLP width (default `in_dim`).
        temperature: softmax temperature of the sampled candidates. seed: their generator seed.
    """

    task: ClassVar[str] = "lta"

    def __init__(self, in_dim: int, num_verbs: int, num_nouns: int, z: int = 20, k: int = 5, hidden: int | None = None,
                 dropout: float = 0.0, temperature: float = 1.0, seed: int = 0) -> None:
        super().__init__(in_dim)
        width = int(hidden or in_dim)
        self.z, self.k, self.num_verbs, self.num_nouns = int(z), int(k), int(num_verbs), int(num_nouns)
        self.temperature, self.seed = float(temperature), int(seed)
        self.mlp = nn.Sequential(nn.Dropout(dropout), nn.Linear(2 * in_dim, width), nn.GELU())
        self.verb = nn.Linear(width, self.z * self.num_verbs)
        self.noun = nn.Linear(width, self.z * self.num_nouns)

    def forward(self, hidden: Tensor, batch: VideoBatch, stream: StreamInputs) -> dict[str, Any]:
        """`hidden [B, N, H]` -> `{"verb": [B, Z, V], "noun": [B, Z, Nn]}` logits, and the `hidden`
        states read (a streamed push holds its own units only: `stream_answer` averages them all)."""
        mask = stream.visual.mask.unsqueeze(-1).to(hidden.dtype)
        mean = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)
        return {**self.decode(gather_units(hidden, last_real_unit(stream.visual.mask)), mean), "hidden": hidden}

    def decode(self, last: Tensor, mean: Tensor) -> dict[str, Tensor]:
        """The last observed unit's and the mean hidden state `[B, H]` -> `verb [B, Z, V]`, `noun [B, Z, Nn]` logits."""
        h = self.mlp(torch.cat([last, mean], dim=-1))
        b = h.shape[0]
        return {"verb": self.verb(h).view(b, self.z, self.num_verbs), "noun": self.noun(h).view(b, self.z, self.num_nouns)}

    def loss(self, outputs: dict[str, Any], batch: VideoBatch) -> dict[str, Tensor]:
        parts = {}
        for key, target_key in (("verb", "verbs"), ("noun", "nouns")):
            target = torch.as_tensor(batch.targets[target_key], device=outputs[key].device).long()
            parts[f"loss_{key}"] = nn.functional.cross_entropy(outputs[key].flatten(0, 1), target.flatten(), ignore_index=-100)
        parts["loss"] = (parts["loss_verb"] + parts["loss_noun"]) / 2
        return parts

    def _candidates(self, logits: Tensor, generator: torch.Generator) -> Tensor:
        """`[B, Z, C]` logits -> `[B, K, Z]` ids: argmax first, then samples."""
        best = logits.argmax(-1).unsqueeze(1)
        if self.k == 1:
            return best
        probs = (logits.float() / self.temperature).softmax(-1)
        b, z, c = probs.shape
        samples = torch.multinomial(probs.reshape(b * z, c).cpu(), self.k - 1, replacement=True, generator=generator)
        return torch.cat([best.cpu(), samples.view(b, z, self.k - 1).permute(0, 2, 1)], dim=1)

    @torch.no_grad()
    def predict(self, outputs: dict[str, Any], batch: VideoBatch) -> list[dict[str, Any]]:
        """One entry per sample: `{key, verb [K][Z], noun [K][Z]}` (taxonomy ids)."""
        gen = torch.Generator().manual_seed(self.seed + sum(ord(ch) for m in batch.meta for ch in str(m.get("key", ""))))
        verbs, nouns = self._candidates(outputs["verb"], gen), self._candidates(outputs["noun"], gen)
        return [{"key": m["key"], "video_id": m.get("video_id"), "verb": verbs[i].tolist(), "noun": nouns[i].tolist()}
                for i, m in enumerate(batch.meta)]

    @torch.no_grad()
    def stream_answer(self, outputs: dict[str, Any], first_unit: int, n_units: int, *, top: int = 3,
                      class_names: list[str] | None = None, state: dict[str, Any] | None = None,
                      final: bool = False) -> list[dict[str, Any]]:
        """The Z future actions anticipated at the newest unit from every unit so far (the mean hidden
        state is kept in `state`, so the answer equals the batch forward over the stream): candidate 1
        of `predict`, `{"unit", "verb": [Z], "noun": [Z], "action": [[verb, noun] x Z]}`
        (taxonomy ids, or names where the recorded `class_names` fit one of the taxonomies)."""
        if not n_units:
            return []
        state = {} if state is None else state
        hidden = outputs["hidden"][:1, :n_units]
        state["sum"] = hidden.sum(1) + state.get("sum", 0.0)
        state["count"] = state.get("count", 0) + n_units
        logits = self.decode(hidden[:, -1], state["sum"] / state["count"])
        named = named_output({"verb": self.num_verbs, "noun": self.num_nouns}, class_names)
        seqs = {key: [class_label(class_names if key == named else None, logits[key].shape[-1], c) for c in logits[key][0].argmax(-1).tolist()]
                for key in ("verb", "noun")}
        return [{"unit": first_unit + n_units - 1, **seqs, "action": [list(pair) for pair in zip(seqs["verb"], seqs["noun"])]}]

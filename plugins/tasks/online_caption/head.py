"""`OnlineCaptionHead`: the LLM's own LM head, or a separate generative LM, narrates the current window.

Two designs, chosen by `decoder:`. Without it (below) the reasoning LLM writes the caption
itself. With `decoder: {type: HFCausalLM, ...}` (any registered LLM) the head follows the
paper: the reasoning LLM's state at the newest unit `[B, H]` is projected into
`prefix_tokens` embeddings `[B, P, E_dec]` of a separate generative LM, which is trained
(teacher forcing on the caption after the prefix) and generates from that prefix alone, so the
stream's cache is only read, never continued.

The reasoning LLM's own LM head:

Training (teacher forcing): the caption tokens continue the stream
`[prompt][query][visual units]` through the LLM's key/value cache
(`stream.cache`); the logits at the last visual token predict the first word, the
logits at caption token `j` predict token `j+1`, and the last one predicts EOS;
cross-entropy over those positions. Inference: greedy or beam search continuing a fork of
the stream's cache from its last token (`llm.generate(cache=..., last_hidden=...)`): in
batch mode nothing is recomputed, and while streaming the caption sees the history, so
streamed and batch captions are identical. Stopped at EOS or `max_new_tokens`.
"""
from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from videollm_core.base import TaskHead
from videollm_core.errors import ConfigError
from videollm_core.types import StreamInputs, VideoBatch

from ..common.units import gather_units, last_real_unit


class OnlineCaptionHead(TaskHead):
    """Caption generation through the LLM's LM head (no parameters of its own), or through a
    separate generative LM fed the LLM's state (`decoder`).

    Args:
        in_dim: LLM hidden size (supplied).
        max_new_tokens: longest generated caption, in tokens.
        num_beams: 1 = greedy search, more = beam search.
        decoder: the separate generative LM, a component config of the `llms` registry
            (e.g. `{type: HFCausalLM, pretrained: gpt2}`); `None`: the reasoning LLM writes.
        prefix_tokens: `P`, how many decoder embeddings the LLM's state is projected into.
        freeze_decoder: keep the decoder's weights fixed (only the projection trains).
    """

    task: ClassVar[str] = "online_caption"
    needs_cache: ClassVar[bool] = True

    def __init__(self, in_dim: int, max_new_tokens: int = 16, num_beams: int = 1, decoder: dict | None = None,
                 prefix_tokens: int = 1, freeze_decoder: bool = False) -> None:
        super().__init__(in_dim)
        if max_new_tokens < 1 or num_beams < 1:
            raise ConfigError(f"max_new_tokens ({max_new_tokens}) and num_beams ({num_beams}) must be >= 1", where="model.head")
        self.max_new_tokens, self.num_beams = int(max_new_tokens), int(num_beams)
        self.decoder: Any = None
        if decoder is not None:
            from videollm_core.base import building_registries
            from videollm_core.plugins import REGISTRIES

            if not isinstance(decoder, dict) or prefix_tokens < 1:
                raise ConfigError(f"decoder must be an LLM config {{type: ...}} and prefix_tokens >= 1, got {decoder!r}, {prefix_tokens}",
                                  where="model.head.decoder", hint="e.g. decoder: {type: HFCausalLM, pretrained: gpt2}")
            registries = building_registries() or REGISTRIES  # those this head is built from; built by hand: the process's
            self.decoder = registries.llms.build(dict(decoder), where="model.head.decoder")
            self.prefix_tokens = int(prefix_tokens)
            self.to_prefix = nn.Linear(in_dim, self.prefix_tokens * self.decoder.embed_dim)
            self.decoder.requires_grad_(not freeze_decoder)

    @property
    def writer(self) -> Any:
        """The LM that writes the captions: the separate decoder, else the reasoning LLM."""
        return self.decoder if self.decoder is not None else self.llm

    def _caption_targets(self, captions: list[str], device: torch.device) -> tuple[Tensor, Tensor, Tensor]:
        """-> `ids [B, L]`, `mask [B, L]` of the caption tokens and `targets [B, L+1]` (EOS after each, -100 after)."""
        llm = self.writer
        eos = llm.eos_token_id
        if eos is None:
            raise ConfigError("the caption LM's tokenizer has no EOS token: captions could never end",
                              where="model.head.decoder.tokenizer" if self.decoder is not None else "model.llm.tokenizer")
        ids, mask = llm.tokenize(list(captions))
        ids, mask = ids.to(device), mask.to(device).bool()
        b, length = ids.shape
        targets = torch.full((b, length + 1), -100, dtype=torch.long, device=device)
        targets[:, :length] = torch.where(mask, ids, torch.full_like(ids, -100))
        targets[torch.arange(b, device=device), mask.long().sum(1)] = eos
        return ids, mask, targets

    def forward(self, hidden: Tensor, batch: VideoBatch, stream: StreamInputs) -> dict[str, Any]:
        """Training: caption logits `[B, L+1, V]` (teacher forcing); eval: generated captions."""
        captions = batch.targets.get("caption")
        if self.decoder is not None:
            prefix = self.prefix(hidden, stream)
            if self.training and captions is not None:
                return self.decoder_teacher_forcing(prefix, list(captions))
            return {"captions": self.decoder.generate(prefix, self._prefix_mask(prefix), max_new_tokens=self.max_new_tokens,
                                                      num_beams=self.num_beams)}
        if self.training and captions is not None:
            return self.teacher_forcing(hidden, stream, list(captions))
        return {"captions": self.generate(stream)}

    # -- the separate generative LM ------------------------------------------------------------
    def prefix(self, hidden: Tensor, stream: StreamInputs) -> Tensor:
        """The LLM's state at each video's newest real unit `[B, H]` -> decoder prefix `[B, P, E_dec]`."""
        state = gather_units(hidden, last_real_unit(stream.visual.mask))
        return self.to_prefix(state.to(self.to_prefix.weight.dtype)).view(state.shape[0], self.prefix_tokens, -1)

    @staticmethod
    def _prefix_mask(prefix: Tensor) -> Tensor:
        return torch.ones(prefix.shape[:2], dtype=torch.bool, device=prefix.device)

    def decoder_teacher_forcing(self, prefix: Tensor, captions: list[str]) -> dict[str, Any]:
        """`[prefix][caption]` through the decoder -> `logits [B, L+1, V]` (the last prefix
        position predicts token 0, caption token `j` predicts `j+1`), `targets [B, L+1]`."""
        ids, mask, targets = self._caption_targets(captions, prefix.device)
        embeds = torch.cat([prefix.to(self.decoder.embed_text(ids).dtype), self.decoder.embed_text(ids)], dim=1)
        out, _ = self.decoder(embeds, torch.cat([self._prefix_mask(prefix), mask], dim=1), use_cache=False)
        return {"logits": self.decoder.lm_logits(out[:, self.prefix_tokens - 1 :]), "targets": targets}

    @torch.no_grad()
    def generate(self, stream: StreamInputs) -> list[str]:
        """Captions continuing the stream's key/value cache (a fork of it: the stream goes on
        untouched), from the hidden state of its last token, so a streamed caption sees the
        whole video so far (under `model.context`: its sinks and window) as the batch one
        does, and nothing already in the cache is recomputed."""
        llm = self.llm
        if stream.cache is None:  # a caller without needs_cache: run the stream again
            return llm.generate(stream.embeds, stream.mask, max_new_tokens=self.max_new_tokens, num_beams=self.num_beams)
        hidden = stream.hidden  # [B, S_new, H] of this call's tokens, right-padded
        last = hidden[torch.arange(hidden.shape[0], device=hidden.device), (stream.mask.long().sum(1) - 1).clamp(min=0)]
        return llm.generate(None, None, max_new_tokens=self.max_new_tokens, num_beams=self.num_beams,
                            cache=stream.cache.fork(), last_hidden=last)

    def teacher_forcing(self, hidden: Tensor, stream: StreamInputs, captions: list[str]) -> dict[str, Any]:
        """Continue the stream's cache with the caption tokens -> `logits [B, L+1, V]`, `targets [B, L+1]`."""
        llm = self.llm
        ids, mask, targets = self._caption_targets(captions, hidden.device)
        cache = stream.cache
        if cache is None:  # a caller without needs_cache: rebuild it from the stream
            _, cache = llm(stream.embeds, stream.mask, use_cache=True)
        first = llm.lm_logits(gather_units(hidden, last_real_unit(stream.visual.mask)).unsqueeze(1))  # predicts token 0
        cap_hidden, _ = llm(llm.embed_text(ids), mask, cache=cache, use_cache=False)
        logits = torch.cat([first, llm.lm_logits(cap_hidden)], dim=1)
        return {"logits": logits, "targets": targets}

    def loss(self, outputs: dict[str, Any], batch: VideoBatch) -> dict[str, Tensor]:
        if "logits" not in outputs:
            raise ConfigError("caption loss needs teacher forcing: call the head in training mode with targets['caption']",
                              where="OnlineCaptionHead.loss")
        logits, targets = outputs["logits"], outputs["targets"]
        loss = nn.functional.cross_entropy(logits.flatten(0, 1).float(), targets.flatten(), ignore_index=-100)
        return {"loss": loss, "loss_caption": loss.detach()}

    @torch.no_grad()
    def predict(self, outputs: dict[str, Any], batch: VideoBatch) -> list[dict[str, Any]]:
        """One entry per narration: `{narration_id, video_uid, timestamp_sec, caption}`."""
        captions = outputs.get("captions")
        if captions is None:
            raise ConfigError("no generated captions: predict runs on the head's outputs in eval mode", where="OnlineCaptionHead.predict")
        return [{"narration_id": m.get("narration_id"), "video_uid": m.get("video_id"), "timestamp_sec": m.get("timestamp_sec"),
                 "caption": c} for m, c in zip(batch.meta, captions)]

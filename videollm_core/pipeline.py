"""``VideoLLM``: modality encoder -> semantic translator -> token stream -> LLM -> task head(s).

The token stream of every sample is ``[task prompt][query text][visual tokens]``, packed
without gaps and right-padded to ``S`` tokens (query first, so causal attention lets every
visual token see it). Heads get the LLM's hidden states at the visual units ``[B, N, H]``
(the last token of each unit when the translator makes ``k`` tokens per unit), with a
tuner's virtual tokens already removed by the adapter.
"""
from __future__ import annotations

import contextlib
from typing import Any, Mapping

import torch
from torch import Tensor, nn

from .base import Encoder, LLMAdapter, TaskHead, TextEncoder, Translator, Tuner
from .errors import ConfigError, DataError
from .plugins import REGISTRIES
from .registry import Registries
from .types import StreamInputs, TokenSequence, VideoBatch, pack_segments


class VideoLLM(nn.Module):
    """The VideoLLM pipeline.

    Args:
        encoder: visual modality encoder (``VideoBatch`` -> unit tokens ``[B, N, Dv]``).
        translator: semantic translator (``[B, N, Dv]`` -> ``[B, N*k, E]``).
        llm: the LLM adapter (a tuner already applied).
        heads: task name -> head (``hidden [B, N, H]`` -> outputs).
        text_encoder: encodes task prompts and queries (``None``: no text in the stream).
        tuner: the tuning strategy that was applied to ``llm`` (kept for reference).
        prompts: task name -> task prompt (``""``/missing: none).
    """

    def __init__(self, encoder: Encoder, translator: Translator, llm: LLMAdapter, heads: Mapping[str, TaskHead], *,
                 text_encoder: TextEncoder | None = None, tuner: Tuner | None = None,
                 prompts: Mapping[str, str | None] | None = None):
        super().__init__()
        if translator.out_dim != llm.embed_dim:
            raise ConfigError(f"the translator makes {translator.out_dim}-d tokens but the LLM takes {llm.embed_dim}-d",
                              where="model.translator.out_dim", hint="leave out_dim out: the pipeline supplies it")
        self.encoder = encoder
        self.text_encoder = text_encoder
        self.translator = translator
        self.llm = llm
        self.tuner = tuner
        self.text_projection: nn.Module | None = None
        if text_encoder is not None:
            text_encoder.bind(llm)
            if text_encoder.out_dim != llm.embed_dim:
                self.text_projection = nn.Linear(text_encoder.out_dim, llm.embed_dim)
        self.heads = nn.ModuleDict(dict(heads))
        self.tasks: list[str] = list(self.heads)
        self.prompts: dict[str, str] = {t: (prompts or {}).get(t) or "" for t in self.tasks}
        for head in self.heads.values():
            head.bind(llm)
        #: the config it was built from and the head sizes it was given (:func:`build_pipeline`
        #: sets them; ``videollm_core.save_pretrained`` writes them), else None / {}.
        self.config: Mapping[str, Any] | None = None
        self.head_sizes: dict[str, dict[str, Any]] = {}

    # -- tasks ------------------------------------------------------------------
    def task_name(self, task: str | None) -> str:
        """``task``, or the only task when ``None``."""
        if task is None:
            if len(self.tasks) != 1:
                raise ConfigError(f"this pipeline serves tasks {self.tasks}: name one", where="task")
            return self.tasks[0]
        if task not in self.heads:
            raise ConfigError(f"unknown task {task!r}", where="task", hint=f"tasks of this pipeline: {', '.join(self.tasks)}")
        return task

    # -- the token stream -----------------------------------------------------------
    def encode_text(self, texts: list[str]) -> TokenSequence:
        """``B`` strings -> ``[B, L, E]`` tokens in the LLM's input space (empty string: no token)."""
        if self.text_encoder is None:
            raise ConfigError("the stream holds text (a task prompt or queries) but the model has no text encoder",
                              where="model.text_encoder", hint="add text_encoder: {type: LLMTextEncoder}")
        seq = self.text_encoder(texts)
        if self.text_projection is not None:
            seq = seq.with_embeds(self.text_projection(seq.embeds))
        return seq

    def text_segments(self, task: str, queries: list[str | None] | None, batch_size: int) -> list[TokenSequence]:
        """``[task prompt]`` and ``[query text]`` token sequences (only those present)."""
        out = []
        if self.prompts.get(task):
            out.append(self.encode_text([self.prompts[task]] * batch_size))
        if queries is not None and any(queries):
            if len(queries) != batch_size:
                raise DataError(f"{len(queries)} queries for {batch_size} videos", where="VideoBatch.queries")
            out.append(self.encode_text([q or "" for q in queries]))
        return out

    def translate(self, batch: VideoBatch) -> TokenSequence:
        """Unit tokens in the LLM's input space: ``[B, N*k, E]``."""
        tokens = self.translator(self.encoder(batch))
        if tokens.dim != self.llm.embed_dim:
            raise DataError(f"translated tokens are {tokens.dim}-d, the LLM takes {self.llm.embed_dim}-d",
                            where=type(self.translator).__name__)
        return tokens

    def encode(self, batch: VideoBatch, task: str | None = None) -> tuple[Tensor, StreamInputs]:
        """Run the stream through the LLM -> ``(hidden [B, N, H] at the units, StreamInputs)``.

        Padded units hold zeros in ``hidden`` and ``-1`` in ``visual_positions``.
        """
        task = self.task_name(task)
        tokens = self.translate(batch)
        b, k = tokens.embeds.shape[0], self.translator.tokens_per_unit
        embeds, mask, index = pack_segments(self.text_segments(task, batch.queries, b) + [tokens])
        hidden, cache = self.llm(embeds, mask, use_cache=self.heads[task].needs_cache)
        positions = index[-1][:, k - 1 :: k]  # [B, N], -1 on padded units
        visual = TokenSequence(tokens.embeds[:, k - 1 :: k], positions >= 0, tokens.spans[:, k - 1 :: k])
        picked = hidden.gather(1, positions.clamp(min=0)[..., None].expand(-1, -1, hidden.shape[-1]))
        picked = picked * visual.mask[..., None].to(picked.dtype)
        return picked, StreamInputs(visual=visual, embeds=embeds, mask=mask, visual_positions=positions, cache=cache,
                                    hidden=hidden, tokens_per_unit=k)

    # -- task API -------------------------------------------------------------------
    def forward(self, batch: VideoBatch, task: str | None = None) -> dict[str, Any]:
        """The task head's outputs for ``batch``."""
        task = self.task_name(task)
        hidden, stream = self.encode(batch, task)
        return self.heads[task](hidden, batch, stream)

    def loss(self, outputs: dict[str, Any], batch: VideoBatch, task: str | None = None) -> dict[str, Tensor]:
        return self.heads[self.task_name(task)].loss(outputs, batch)

    def predict(self, outputs: dict[str, Any], batch: VideoBatch, task: str | None = None) -> list[dict[str, Any]]:
        return self.heads[self.task_name(task)].predict(outputs, batch)

    def stream(self, batch_size: int = 1, task: str | None = None, query: str | list[str] | None = None,
               step_seconds: float = 1.0) -> Any:
        """An online stream: ``push(features [T, Df] or [B, T, Df])`` returns the head's outputs
        for the units completed so far, through the LLM's key/value cache (see
        :class:`~videollm_core.streaming.VideoStream`)."""
        from .streaming import VideoStream

        return VideoStream(self, batch_size=batch_size, task=task, query=query, step_seconds=step_seconds)

    # -- weights ------------------------------------------------------------------------
    def trainable_parameters(self) -> dict[str, nn.Parameter]:
        """``{name: parameter}`` of everything that trains (translator, heads, tuner's part of the LLM...)."""
        return {n: p for n, p in self.named_parameters() if p.requires_grad}

    def trainable_state_dict(self) -> dict[str, Tensor]:
        """Only the trainable weights (what a checkpoint needs on top of the pretrained LLM)."""
        return {n: p.detach() for n, p in self.trainable_parameters().items()}

    def load_trainable_state_dict(self, state_dict: Mapping[str, Tensor]) -> None:
        """Load weights saved by :meth:`trainable_state_dict`; the names must match exactly."""
        own = self.trainable_parameters()
        missing, unexpected = sorted(set(own) - set(state_dict)), sorted(set(state_dict) - set(own))
        if missing or unexpected:
            raise DataError(f"trainable weights do not match the pipeline: missing {missing[:5]}, unexpected {unexpected[:5]}"
                            f" ({len(missing)} missing, {len(unexpected)} unexpected)", where="checkpoint",
                            hint="load a checkpoint made with the same model config (tuner, heads, translator)")
        with torch.no_grad():
            for name, value in state_dict.items():
                if tuple(value.shape) != tuple(own[name].shape):
                    raise DataError(f"{name}: shape {list(value.shape)} in the checkpoint, {list(own[name].shape)} in the model",
                                    where="checkpoint")
                own[name].copy_(value)

    def components(self) -> dict[str, nn.Module]:
        """Named parts for the parameter table of a dry run."""
        parts: dict[str, nn.Module] = {"encoder": self.encoder}
        if self.text_encoder is not None:
            parts["text_encoder"] = self.text_encoder
        parts["translator"] = self.translator
        if self.text_projection is not None:
            parts["text_projection"] = self.text_projection
        parts["llm"] = self.llm
        parts.update({f"head.{t}": h for t, h in self.heads.items()})
        return parts


def _build(cfg: Mapping[str, Any], registries: Registries, head_args: Mapping[str, dict]) -> VideoLLM:
    from .validation import task_specs

    model = cfg.get("model")
    if not isinstance(model, Mapping):
        raise ConfigError("missing 'model' mapping", where="model")
    for key in ("encoder", "translator", "llm"):
        if not isinstance(model.get(key), Mapping):
            raise ConfigError(f"missing 'model.{key}' (a mapping with 'type')", where=f"model.{key}")
    llm = registries.llms.build(dict(model["llm"]), where="model.llm")
    tuner = registries.tuners.build(dict(model.get("tuner") or {"type": "Frozen"}), where="model.tuner")
    tuner.apply(llm)
    if model.get("context") is not None:  # after the tuner: its virtual tokens count as sinks
        llm.set_context(model["context"])
    encoder = registries.encoders.build(dict(model["encoder"]), where="model.encoder")
    translator = registries.translators.build(dict(model["translator"]), where="model.translator",
                                              default_args={"in_dim": encoder.out_dim, "out_dim": llm.embed_dim})
    text_cfg = model.get("text_encoder")
    if text_cfg is None and "LLMTextEncoder" in registries.encoders:
        text_cfg = {"type": "LLMTextEncoder"}
    text_encoder = registries.encoders.build(dict(text_cfg), where="model.text_encoder") if text_cfg else None
    heads, prompts = {}, {}
    for spec in task_specs(cfg):
        if not isinstance(spec.head, Mapping):
            raise ConfigError(f"task '{spec.name}' has no head", where=spec.path("head"), hint="add head: {type: ...}")
        heads[spec.name] = registries.heads.build(
            dict(spec.head), where=spec.path("head"),
            default_args={"in_dim": llm.hidden_size, **dict(head_args.get(spec.name, {}))})
        prompts[spec.name] = spec.prompt
    return VideoLLM(encoder, translator, llm, heads, text_encoder=text_encoder, tuner=tuner, prompts=prompts)


def build_pipeline(cfg: Mapping[str, Any], *, registries: Registries = REGISTRIES,
                   head_args: Mapping[str, dict] | None = None, device: Any = None) -> VideoLLM:
    """Build the :class:`VideoLLM` of a config (``model`` + task specs).

    Args:
        cfg: the loaded config (single- or multi-task form).
        registries: where component names are looked up.
        head_args: task name -> defaults for its head (a dataset's ``head_args()``); None:
            read from the config's datasets (:func:`~videollm_core.head_args.resolve_head_args`).
        device: move the pipeline there; ``"meta"`` builds it on the meta device
            (no memory, no download: known hub names use the shipped architectures).
    """
    if head_args is None:
        from .head_args import resolve_head_args

        head_args = resolve_head_args(cfg, registries)
    meta = device is not None and torch.device(device).type == "meta"
    with torch.device("meta") if meta else contextlib.nullcontext():
        pipeline = _build(cfg, registries, head_args)
    pipeline.config, pipeline.head_sizes = cfg, {t: dict(a) for t, a in head_args.items()}  # for save_pretrained
    if device is not None and not meta:
        pipeline.to(device)
    if registries is REGISTRIES:
        from .plugins import get_plugin_manager

        get_plugin_manager().hook.videollm_pipeline_built(pipeline=pipeline, config=cfg)
    return pipeline


__all__ = ["VideoLLM", "build_pipeline", "pack_segments"]

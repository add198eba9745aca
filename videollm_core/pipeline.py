"""`VideoLLM`: modality encoder -> semantic translator -> token stream -> LLM -> task head(s).

The token stream of every sample is `[task prompt][query text][visual tokens]`, packed
without gaps and right-padded to `S` tokens (query first, so causal attention lets every
visual token see it). With `model.query_position: after` it is `[task prompt][visual
tokens][query text]`, as the paper appends a retrieval task's query after the visual memory:
the query's tokens see the whole video, the units never see the query, and heads read the
query's states at `StreamInputs.query_positions`. Heads get the LLM's hidden states at the
visual units `[B, N, H]` (the last token of each unit when the translator makes `k` tokens
per unit), with a tuner's virtual tokens already removed by the adapter.

`VideoLLM` is a `huggingface_hub.ModelHubMixin`: `VideoLLM.from_pretrained(folder or
hub id)`, `pipeline.save_pretrained(folder)` and `pipeline.push_to_hub(repo_id)` work as in
transformers. The folder format lives in the engine (`videollm_core.engine.pretrained`:
atomic writes, safetensors, the model card), which the kernel never imports: the mixin's hooks
load it by name on first use, as `videollm_core.Runner` is loaded.
"""
from __future__ import annotations

import contextlib
import importlib
import os
from pathlib import Path
from typing import Any, Mapping, cast

import torch
from huggingface_hub import ModelHubMixin
from torch import Tensor, nn

from .base import Encoder, LLMAdapter, TaskHead, TextEncoder, Translator, Tuner
from .errors import ConfigError, DataError
from .plugins import REGISTRIES
from .registry import Registries
from .validation import RunConfig, validate_config
from .types import QUERY_POSITIONS, StreamInputs, TokenSequence, VideoBatch, pack_segments

#: the `library_name` of model cards and of the hub.
LIBRARY_NAME = "videollm-core"
#: the module that writes and reads model folders (engine layer: loaded by name, see above).
FOLDER_FORMAT = "videollm_core.engine.pretrained"


def _folder_format() -> Any:
    """`videollm_core.engine.pretrained`, imported on first use."""
    return importlib.import_module(FOLDER_FORMAT)


class VideoLLM(nn.Module, ModelHubMixin, library_name=LIBRARY_NAME, paper_url="https://arxiv.org/abs/2305.13292"):
    """The VideoLLM pipeline.

    Args:
        encoder: visual modality encoder (`VideoBatch` -> unit tokens `[B, N, Dv]`); `None`
            when every task has its own (`task_encoders`).
        translator: semantic translator (`[B, N, Dv]` -> `[B, N*k, E]`); `None` likewise.
        llm: the LLM adapter (a tuner already applied).
        heads: task name -> head (`hidden [B, N, H]` -> outputs).
        text_encoder: encodes task prompts and queries (`None`: no text in the stream).
        tuner: the tuning strategy that was applied to `llm` (kept for reference).
        prompts: task name -> task prompt (`""`/missing: none).
        query_position: `"before"` the visual tokens (default) or `"after"` them (`model.query_position`).
        task_encoders, task_translators: task name -> that task's own encoder and translator
            (`tasks[i].encoder` / `translator`: tasks whose features differ in width share the LLM).
        task_query_positions: task name -> its own query position (`tasks[i].query_position`).
    """

    def __init__(self, encoder: Encoder | None, translator: Translator | None, llm: LLMAdapter, heads: Mapping[str, TaskHead], *,
                 text_encoder: TextEncoder | None = None, tuner: Tuner | None = None,
                 prompts: Mapping[str, str | None] | None = None, query_position: str = "before",
                 task_encoders: Mapping[str, Encoder] | None = None, task_translators: Mapping[str, Translator] | None = None,
                 task_query_positions: Mapping[str, str] | None = None):
        super().__init__()
        for where, position in [("model.query_position", query_position), *(task_query_positions or {}).items()]:
            if position not in QUERY_POSITIONS:
                raise ConfigError(f"expected one of {', '.join(QUERY_POSITIONS)}, got {position!r}", where=where)
        self.query_position = query_position
        #: task -> where its query goes (the model's `query_position` unless the task sets its own).
        self.query_positions = {t: (task_query_positions or {}).get(t, query_position) for t in heads}
        #: (`nn.ModuleDict`s, typed as the mappings of components they are)
        self.task_encoders: Mapping[str, Encoder] = cast(Any, nn.ModuleDict(dict(task_encoders or {})))
        self.task_translators: Mapping[str, Translator] = cast(Any, nn.ModuleDict(dict(task_translators or {})))
        for task in heads:
            if (encoder is None and task not in self.task_encoders) or (translator is None and task not in self.task_translators):
                raise ConfigError(f"task '{task}' has no encoder or translator", where="model",
                                  hint="set model.encoder and model.translator, or the task's own")
        for where, tr in [("model.translator", translator), *((f"tasks.{t}.translator", tr) for t, tr in self.task_translators.items())]:
            if tr is not None and tr.out_dim != llm.embed_dim:
                raise ConfigError(f"the translator makes {tr.out_dim}-d tokens but the LLM takes {llm.embed_dim}-d",
                                  where=f"{where}.out_dim", hint="leave out_dim out: the pipeline supplies it")
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
        self.heads: Mapping[str, TaskHead] = cast(Any, nn.ModuleDict(dict(heads)))
        self.tasks: list[str] = list(self.heads)
        self.prompts: dict[str, str] = {t: (prompts or {}).get(t) or "" for t in self.tasks}
        for head in self.heads.values():
            head.bind(llm)
        #: the config it was built from and the head sizes it was given (`build_pipeline`
        #: sets them; `videollm_core.save_pretrained` writes them), else None / {}.
        self.config: Mapping[str, Any] | None = None
        self.head_sizes: dict[str, dict[str, Any]] = {}
        #: the `videollm.json` of the folder it was loaded from (`from_pretrained`), else {}.
        self.pretrained_info: dict[str, Any] = {}
        #: no `config.json` from the mixin (it would record `prompts`): the folder's config is `config.yaml`.
        self._hub_mixin_config = None

    # -- tasks ------------------------------------------------------------------
    def task_name(self, task: str | None) -> str:
        """`task`, or the only task when `None`."""
        if task is None:
            if len(self.tasks) != 1:
                raise ConfigError(f"this pipeline serves tasks {self.tasks}: name one", where="task")
            return self.tasks[0]
        if task not in self.heads:
            raise ConfigError(f"unknown task {task!r}", where="task", hint=f"tasks of this pipeline: {', '.join(self.tasks)}")
        return task

    # -- the token stream -----------------------------------------------------------
    def encode_text(self, texts: list[str]) -> TokenSequence:
        """`B` strings -> `[B, L, E]` tokens in the LLM's input space (empty string: no token)."""
        if self.text_encoder is None:
            raise ConfigError("the stream holds text (a task prompt or queries) but the model has no text encoder",
                              where="model.text_encoder", hint="add text_encoder: {type: LLMTextEncoder}")
        seq = self.text_encoder(texts)
        if self.text_projection is not None:
            seq = seq.with_embeds(self.text_projection(seq.embeds))
        return seq

    def text_segments(self, task: str, queries: list[str | None] | None, batch_size: int) -> list[TokenSequence]:
        """`[task prompt]` and `[query text]` token sequences (only those present)."""
        prompt = [self.encode_text([self.prompts[task]] * batch_size)] if self.prompts.get(task) else []
        return prompt + self.query_segment(queries, batch_size)

    def query_segment(self, queries: list[str | None] | None, batch_size: int) -> list[TokenSequence]:
        """`[query text]` tokens `[B, L, E]` as a one-item list; `[]` without queries."""
        if queries is None or not any(queries):
            return []
        if len(queries) != batch_size:
            raise DataError(f"{len(queries)} queries for {batch_size} videos", where="VideoBatch.queries")
        return [self.encode_text([q or "" for q in queries])]

    def encoder_for(self, task: str | None = None) -> Encoder:
        """The encoder of `task`: its own (`tasks[i].encoder`), else the shared one."""
        task = self.task_name(task)
        return self.task_encoders[task] if task in self.task_encoders else cast(Encoder, self.encoder)  # (__init__ checked)

    def translator_for(self, task: str | None = None) -> Translator:
        """The translator of `task`: its own, else the shared one."""
        task = self.task_name(task)
        return self.task_translators[task] if task in self.task_translators else cast(Translator, self.translator)

    def translate(self, batch: VideoBatch, task: str | None = None) -> TokenSequence:
        """Unit tokens of `task`'s features in the LLM's input space: `[B, N*k, E]`."""
        translator = self.translator_for(task)
        tokens = translator(self.encoder_for(task)(batch))
        if tokens.dim != self.llm.embed_dim:
            raise DataError(f"translated tokens are {tokens.dim}-d, the LLM takes {self.llm.embed_dim}-d",
                            where=type(translator).__name__)
        return tokens

    def encode(self, batch: VideoBatch, task: str | None = None) -> tuple[Tensor, StreamInputs]:
        """Run the stream through the LLM -> `(hidden [B, N, H] at the units, StreamInputs)`.

        The stream is `[prompt][query][units]`, or `[prompt][units][query]` with `query_position`
        `"after"` (then `StreamInputs.query_positions [B, L]` says where the query went).
        Padded units hold zeros in `hidden` and `-1` in `visual_positions`.
        """
        task = self.task_name(task)
        tokens = self.translate(batch, task)
        b, k = tokens.embeds.shape[0], self.translator_for(task).tokens_per_unit
        after = self.query_positions[task] == "after"
        query = self.query_segment(batch.queries, b) if after else []
        text = self.text_segments(task, None if after else batch.queries, b)
        embeds, mask, index = pack_segments(text + [tokens] + query)
        hidden, cache = self.llm(embeds, mask, use_cache=self.heads[task].needs_cache)
        positions = index[len(text)][:, k - 1 :: k]  # [B, N], -1 on padded units
        visual = TokenSequence(tokens.embeds[:, k - 1 :: k], positions >= 0, tokens.spans[:, k - 1 :: k])
        picked = hidden.gather(1, positions.clamp(min=0)[..., None].expand(-1, -1, hidden.shape[-1]))
        picked = picked * visual.mask[..., None].to(picked.dtype)
        return picked, StreamInputs(visual=visual, embeds=embeds, mask=mask, visual_positions=positions, cache=cache,
                                    hidden=hidden, tokens_per_unit=k, query_positions=index[-1] if query else None)

    # -- task API -------------------------------------------------------------------
    def forward(self, batch: VideoBatch, task: str | None = None) -> dict[str, Any]:
        """The task head's outputs for `batch`."""
        task = self.task_name(task)
        hidden, stream = self.encode(batch, task)
        return self.heads[task](hidden, batch, stream)

    def loss(self, outputs: dict[str, Any], batch: VideoBatch, task: str | None = None) -> dict[str, Tensor]:
        return self.heads[self.task_name(task)].loss(outputs, batch)

    def predict(self, outputs: dict[str, Any], batch: VideoBatch, task: str | None = None) -> list[dict[str, Any]]:
        return self.heads[self.task_name(task)].predict(outputs, batch)

    def stream(self, batch_size: int = 1, task: str | None = None, query: str | list[str] | None = None,
               step_seconds: float = 1.0) -> Any:
        """An online stream: `push(features [T, Df] or [B, T, Df])` returns the head's outputs
        for the units completed so far, through the LLM's key/value cache (see
        [`VideoStream`][videollm_core.streaming.VideoStream])."""
        from .streaming import VideoStream

        return VideoStream(self, batch_size=batch_size, task=task, query=query, step_seconds=step_seconds)

    # -- weights ------------------------------------------------------------------------
    def trainable_parameters(self) -> dict[str, nn.Parameter]:
        """`{name: parameter}` of everything that trains (translator, heads, tuner's part of the LLM...)."""
        return {n: p for n, p in self.named_parameters() if p.requires_grad}

    def trainable_state_dict(self) -> dict[str, Tensor]:
        """Only the trainable weights (what a checkpoint needs on top of the pretrained LLM)."""
        return {n: p.detach() for n, p in self.trainable_parameters().items()}

    def load_trainable_state_dict(self, state_dict: Mapping[str, Tensor]) -> None:
        """Load weights saved by [`trainable_state_dict`][videollm_core.pipeline.VideoLLM.trainable_state_dict]; the names must match exactly."""
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

    # -- model folders (huggingface_hub.ModelHubMixin) ------------------------------------
    def save_pretrained(self, save_directory: str | os.PathLike, *, config: Any = None, **kwargs: Any) -> str | None:
        """Write the pipeline as a model folder (the layout of `videollm_core.engine.pretrained`)
        that [`from_pretrained`][videollm_core.pipeline.VideoLLM.from_pretrained] reloads; `push_to_hub=True, repo_id=ID` uploads it too.

        The folder replaces `save_directory`, which must be new, empty or a model folder. The
        config written is the pipeline's own (`config.yaml`); scores and a run's timing come
        with `videollm export`, or `videollm_core.save_pretrained(pipeline, DIR, **info)`.

        Args:
            save_directory: the folder.
            config: not taken (the mixin's `config.json`); use `videollm_core.save_pretrained(..., config=)`.
            kwargs: the mixin's `push_to_hub`, `repo_id`, `model_card_kwargs` (unused: the card
                is the folder's own `README.md`) and `push_to_hub` arguments.

        Returns:
            The commit URL when pushed, else None.

        Raises:
            ConfigError: `config` was given, or the pipeline was not built from a config.
            PathError: `save_directory` is a file or a folder of other files.
        """
        if config is not None:
            raise ConfigError("the model config of a folder is the pipeline's own (config.yaml), not a mixin config",
                              where="VideoLLM.save_pretrained(config=)",
                              hint="leave config out, or write another config with videollm_core.save_pretrained(pipeline, DIR, config=...)")
        _folder_format().check_target(save_directory)  # before the mixin creates the folder or removes a config.json
        return super().save_pretrained(save_directory, **kwargs)  # type: ignore[arg-type]  # the mixin takes any PathLike (Path(...)); its stub says str | Path

    def _save_pretrained(self, save_directory: Path) -> None:
        """The mixin's hook: [`videollm_core.engine.pretrained.save_pretrained`][videollm_core.engine.pretrained.save_pretrained]."""
        _folder_format().save_pretrained(self, save_directory)

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path: str | os.PathLike, *, force_download: bool = False,
                        token: str | bool | None = None, cache_dir: str | os.PathLike | None = None,
                        local_files_only: bool = False, revision: str | None = None, **model_kwargs: Any) -> "VideoLLM":
        """Rebuild a pipeline from a model folder or a hub id (downloaded with `snapshot_download`)
        and load its weights; in `eval()` mode, `config` and `pretrained_info` set.

        The mixin's entry point without its `config.json` look-up (a warning for every folder,
        one more request for a hub id): the folder's config is its `config.yaml`.

        Args:
            pretrained_model_name_or_path: a folder written by [`save_pretrained`][videollm_core.pipeline.VideoLLM.save_pretrained] or
                `videollm export`, or a hub id `user/model`.
            force_download, token, cache_dir, local_files_only, revision: for a hub id, as in
                `huggingface_hub.snapshot_download`.
            model_kwargs: `device` (move the pipeline there) and `registries` (where component
                names are looked up; default: the process-wide ones).

        Raises:
            DataError: not a model folder, a damaged one, or a hub id that cannot be downloaded.
            ConfigError: the folder's `config.yaml` is invalid, or written by a newer videollm-core.
        """
        return cls._from_pretrained(model_id=str(pretrained_model_name_or_path), revision=revision, cache_dir=cache_dir,
                                    force_download=force_download, local_files_only=local_files_only, token=token,
                                    **model_kwargs)

    @classmethod
    def _from_pretrained(cls, *, model_id: str, revision: str | None, cache_dir: str | os.PathLike | None,  # type: ignore[override]  # the mixin's **model_kwargs, by name
                         force_download: bool, local_files_only: bool, token: str | bool | None, device: Any = None,
                         registries: Registries | None = None) -> "VideoLLM":
        """The mixin's hook: [`videollm_core.engine.pretrained.load_pretrained`][videollm_core.engine.pretrained.load_pretrained]."""
        return _folder_format().load_pretrained(model_id, device=device, registries=registries, revision=revision,
                                                cache_dir=cache_dir, force_download=force_download,
                                                local_files_only=local_files_only, token=token)

    def components(self) -> dict[str, nn.Module]:
        """Named parts for the parameter table of a dry run."""
        parts: dict[str, nn.Module] = {"encoder": self.encoder} if self.encoder is not None else {}
        parts.update({f"encoder.{t}": e for t, e in self.task_encoders.items()})
        if self.text_encoder is not None:
            parts["text_encoder"] = self.text_encoder
        parts.update({"translator": self.translator} if self.translator is not None else {})
        parts.update({f"translator.{t}": tr for t, tr in self.task_translators.items()})
        if self.text_projection is not None:
            parts["text_projection"] = self.text_projection
        parts["llm"] = self.llm
        parts.update({f"head.{t}": h for t, h in self.heads.items()})
        return parts


def _build(config: RunConfig, registries: Registries, head_args: Mapping[str, dict]) -> VideoLLM:
    model, specs, cfg = config.model, config.tasks, config.raw
    llm = registries.llms.build(dict(model["llm"]), where="model.llm")
    tuner = registries.tuners.build(dict(model.get("tuner") or {"type": "Frozen"}), where="model.tuner")
    tuner.apply(llm)
    if config.context is not None:  # after the tuner: its virtual tokens count as sinks
        llm.set_context(config.context)

    def inputs(enc_cfg: Any, enc_where: str, tr_cfg: Any, tr_where: str) -> tuple[Encoder | None, Translator | None]:
        if not isinstance(enc_cfg, Mapping) or not isinstance(tr_cfg, Mapping):
            return None, None
        enc = registries.encoders.build(dict(enc_cfg), where=enc_where)
        return enc, registries.translators.build(dict(tr_cfg), where=tr_where, default_args={"in_dim": enc.out_dim, "out_dim": llm.embed_dim})

    encoder, translator = inputs(model.get("encoder"), "model.encoder", model.get("translator"), "model.translator")
    own = cast("dict[str, tuple[Encoder, Translator]]", {s.name: inputs(s.encoder_config(cfg), s.input_path("encoder"), s.translator_config(cfg), s.input_path("translator"))
                                                        for s in specs if s.owns_input})  # (mappings: checked above)
    text_cfg = model.get("text_encoder")
    if text_cfg is None and "LLMTextEncoder" in registries.encoders:
        text_cfg = {"type": "LLMTextEncoder"}
    text_encoder = registries.encoders.build(dict(text_cfg), where="model.text_encoder") if text_cfg else None
    heads, prompts = {}, {}
    for spec in specs:
        if not isinstance(spec.head, Mapping):
            raise ConfigError(f"task '{spec.name}' has no head", where=spec.path("head"), hint="add head: {type: ...}")
        heads[spec.name] = registries.heads.build(
            dict(spec.head), where=spec.path("head"),
            default_args={"in_dim": llm.hidden_size, **dict(head_args.get(spec.name, {}))})
        prompts[spec.name] = spec.prompt
    return VideoLLM(encoder, translator, llm, heads, text_encoder=text_encoder, tuner=tuner, prompts=prompts,
                    query_position=model.get("query_position") or "before",
                    task_encoders={t: e for t, (e, _) in own.items()}, task_translators={t: tr for t, (_, tr) in own.items()},
                    task_query_positions={s.name: s.query_position for s in specs if s.query_position})


def build_pipeline(cfg: RunConfig | Mapping[str, Any] | str | os.PathLike, *, registries: Registries = REGISTRIES,
                   head_args: Mapping[str, dict] | None = None, device: Any = None) -> VideoLLM:
    """Build the [`VideoLLM`][videollm_core.pipeline.VideoLLM] of a config (`model` + task specs).

    Args:
        cfg: a [`RunConfig`][videollm_core.sections.RunConfig]; a loaded config (single- or
            multi-task form) or a YAML path is validated into one first (`ConfigErrors`).
        registries: where component names are looked up.
        head_args: task name -> defaults for its head (a dataset's `head_args()`); None:
            read from the config's datasets (`resolve_head_args`).
        device: move the pipeline there; `"meta"` builds it on the meta device
            (no memory, no download: known hub names use the shipped architectures).
    """
    config = validate_config(cfg, registries)
    cfg = config.raw
    if head_args is None:
        from .head_args import resolve_head_args

        head_args = resolve_head_args(cfg, registries)
    meta = device is not None and torch.device(device).type == "meta"
    with torch.device("meta") if meta else contextlib.nullcontext():
        pipeline = _build(config, registries, head_args)
    pipeline.config, pipeline.head_sizes = cfg, {t: dict(a) for t, a in head_args.items()}  # for save_pretrained
    if device is not None and not meta:
        pipeline.to(device)
    if registries is REGISTRIES:
        from .plugins import get_plugin_manager

        get_plugin_manager().hook.videollm_pipeline_built(pipeline=pipeline, config=cfg)
    return pipeline


__all__ = ["VideoLLM", "LIBRARY_NAME", "build_pipeline", "pack_segments"]

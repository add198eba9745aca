"""What a hook receives, as the kernel declares it: the types of `runner` and `pipeline` in
[`videollm_core.hookspecs`][videollm_core.hookspecs].

The kernel imports neither the engine's [`Runner`][videollm_core.engine.runner.Runner] nor, from
its hook specs, the [`VideoLLM`][videollm_core.pipeline.VideoLLM] that fires them: a hook sees
them through these protocols, the part of their surface a plugin may rely on (read the
attributes; set `runner.should_stop`). Both are `runtime_checkable`, and
`tests/kernel/test_protocols.py` checks that the real classes satisfy them, at run time and
under mypy. Annotate a hook implementation with them:

    from videollm_core.protocols import RunnerProtocol

    @videollm_core.hookimpl
    def videollm_train_end(runner: RunnerProtocol) -> None:
        print(runner.step, runner.work_dir)
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Protocol, runtime_checkable

from torch import Tensor

from .base import Encoder, LLMAdapter, TaskHead, VideoBatch
from .sections import RunConfig


@runtime_checkable
class PipelineProtocol(Protocol):
    """A built [`VideoLLM`][videollm_core.pipeline.VideoLLM] as a hook sees it (`videollm_pipeline_built`, `runner.pipeline`)."""

    tasks: list[str]  # the task names, in config order
    heads: Mapping[str, TaskHead]  # task -> its head
    llm: LLMAdapter  # the LLM adapter, its tuner applied
    query_position: str  # "before" or "after" the visual tokens
    config: Mapping[str, Any] | None  # the config it was built from (None: built by hand)
    pretrained_info: dict[str, Any]  # a model folder's videollm.json ({} when not loaded from one)
    training: bool  # nn.Module's train/eval mode

    def task_name(self, task: str | None) -> str: ...
    def encoder_for(self, task: str | None = None) -> Encoder: ...
    def predict(self, outputs: dict[str, Any], batch: VideoBatch, task: str | None = None) -> list[dict[str, Any]]: ...
    def stream(self, batch_size: int = 1, task: str | None = None, query: str | list[str] | None = None, step_seconds: float = 1.0) -> Any: ...
    def trainable_state_dict(self) -> dict[str, Tensor]: ...


@runtime_checkable
class RunnerProtocol(Protocol):
    """The [`Runner`][videollm_core.engine.runner.Runner] as a hook sees it (`videollm_train_start` ... `videollm_train_end`)."""

    config: RunConfig  # the validated config, typed (config.train.KEY: a built-in or a plugin's key)
    cfg: Mapping[str, Any]  # the same config as the mapping it was read from
    accelerator: Any  # accelerate's Accelerator (is_main_process, num_processes, print...)
    work_dir: Path  # where the run writes (checkpoints/, plots/, metrics.jsonl...)
    step: int  # optimizer steps done
    max_steps: int  # the steps training runs to
    should_stop: bool  # set it to end training after this step (early stopping)
    interrupted: int | None  # the signal number that stopped training, or None
    run_id: str | None  # the run's id (set when training starts)
    best: dict[str, Any] | None  # {step, key, value, higher_is_better} of the best evaluation so far
    primary_metric: tuple[str, bool] | None  # (TASK/KEY, higher_is_better) of the score that picks the best checkpoint

    @property
    def pipeline(self) -> PipelineProtocol: ...  # the unwrapped pipeline
    @property
    def history(self) -> list[dict[str, Any]]: ...  # the records of metrics.jsonl


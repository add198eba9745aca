"""What the [`Runner`][videollm_core.engine.runner.Runner] holds, declared once for the type checker.

The runner's mixins (`EvaluationMixin`, `CheckpointMixin`) read this state; they inherit
[`RunnerState`][videollm_core.engine.state.RunnerState] so a type checker knows each attribute's type.
Nothing here exists at run time: the runner's `__init__` sets the attributes.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping

if TYPE_CHECKING:  # pragma: no cover
    from ..pipeline import VideoLLM
    from ..registry import Registries
    from ..sections import TrainConfig
    from ..task_spec import TaskSpec
    from ..validation import RunConfig
    from .logs import MetricsLog, RunOutputs


class RunnerState:
    """The runner's attributes and the methods its mixins call on each other (declarations only)."""

    if TYPE_CHECKING:
        config: RunConfig
        cfg: Mapping[str, Any]
        settings: TrainConfig
        registries: Registries
        hooks: Any
        specs: list[TaskSpec]
        accelerator: Any
        model: Any
        pipeline: VideoLLM
        work_dir: Path
        outputs: RunOutputs
        step: int
        max_steps: int
        best: dict[str, Any] | None
        primary_metric: tuple[str, bool] | None
        run_id: str | None
        interrupted: int | None
        should_stop: bool
        _log: MetricsLog | None
        _eval_loaders: dict[tuple[str, str], Any]
        _trained: bool

        def dataset(self, spec: Any, split: str) -> Any: ...
        @property
        def ckpt_root(self) -> Path: ...
        def resolve_checkpoint(self, which: str | os.PathLike) -> Path | None: ...
        def load_weights(self, path: str | os.PathLike) -> None: ...
        def _on_main(self, fn: Callable[[], Any]) -> Any: ...


__all__ = ["RunnerState"]

"""Hook specifications of the ``videollm`` plugin system (pluggy project ``videollm``).

A plugin is a module (or object) with functions marked ``@videollm_core.hookimpl``.
Built-in plugins use exactly the same hooks as third-party ones. Only
``videollm_register`` is required; every other hook is optional.
"""
from __future__ import annotations

from typing import Any

import pluggy

PROJECT = "videollm"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def videollm_register(registries: Any) -> None:
    """Register components: ``registries.translators.register_module(name=..., module=cls)``.

    ``registries`` has one registry per role: ``encoders``, ``translators``, ``llms``,
    ``tuners``, ``heads``, ``datasets``, ``metrics``. Called once per plugin, as it
    loads; an exception here marks the plugin failed and rolls back what it registered.
    """


@hookspec
def videollm_configure(config: dict) -> None:
    """Inspect or complete a loaded config (a plain dict) before validation and build.

    Raise ``videollm_core.ConfigError`` to reject it.
    """


@hookspec
def videollm_pipeline_built(pipeline: Any, config: dict) -> None:
    """Called with the built :class:`~videollm_core.pipeline.VideoLLM` and its config."""


@hookspec
def videollm_train_start(runner: Any) -> None:
    """Training is about to start (``runner.step`` is 0, or the resumed step)."""


@hookspec
def videollm_step_end(runner: Any, step: int, logs: dict) -> None:
    """An optimizer step finished; ``logs`` holds the logged scalars (loss, lr...)."""


@hookspec
def videollm_evaluate_end(runner: Any, step: int, metrics: dict) -> None:
    """An evaluation finished with ``metrics`` (keys ``TASK/KEY``). Set
    ``runner.should_stop = True`` to stop training (early stopping)."""


@hookspec
def videollm_train_end(runner: Any) -> None:
    """Training finished (also after an early stop or a clean interrupt)."""

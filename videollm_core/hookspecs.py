"""Hook specifications of the `videollm` plugin system (pluggy project `videollm`).

A plugin is a module (or object) with functions marked `@videollm_core.hookimpl`,
named after the specs below; an implementation may take any subset of a spec's
parameters (pluggy passes them by name). Built-in plugins use exactly the same hooks
as third-party ones. Only `videollm_register` is needed to add components; the
lifecycle hooks are optional. Every implementation of a hook is called, in plugin
order; a hook returns nothing (but `videollm_config_keys`, which returns the plugin's keys).

`pipeline` is a [`videollm_core.pipeline.VideoLLM`][videollm_core.pipeline.VideoLLM] and `runner` a
[`videollm_core.engine.runner.Runner`][videollm_core.engine.runner.Runner], typed here with the protocols
[`PipelineProtocol`][videollm_core.protocols.PipelineProtocol] and [`RunnerProtocol`][videollm_core.protocols.RunnerProtocol]
of `videollm_core.protocols` (the kernel imports neither the engine nor, from its hook specs, the pipeline that fires them).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:  # pragma: no cover
    from .protocols import PipelineProtocol, RunnerProtocol
    from .registry import Registries

PROJECT = "videollm"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def videollm_register(registries: Registries) -> None:
    """Register the plugin's components.

    Args:
        registries: one registry per role: `encoders`, `translators`, `llms`,
            `tuners`, `heads`, `datasets`, `metrics`, `features`. Register with
            `registries.translators.register_module(module=cls)` (a call or a decorator;
            `name=` to register under another name). A class must subclass its role's base
            class from `videollm_core.base`.

    Called once per plugin, as it loads. An exception here marks the plugin failed and
    rolls back everything it registered (fatal with `--strict-plugins`).
    """


@hookspec
def videollm_config_keys() -> dict[str, dict[str, Any]]:
    """The config keys this plugin reads, so validation accepts and checks them and `videollm schema` lists them.

    Returns:
        `{"train": {KEY: Rule}, "top": {SECTION: Rule}}` (either part may be left out): keys of
        the `train:` section and top-level sections, each with a
        [`Rule`][videollm_core.rules.Rule] (its check, its words, its JSON Schema). A misspelt
        key is then reported with a suggestion like a built-in one.

    Called once per plugin, as it loads, after `videollm_register`. A key another plugin
    already declared marks this plugin failed; a built-in key keeps its built-in rule.
    """


@hookspec
def videollm_configure(config: dict[str, Any]) -> None:
    """Inspect or complete a loaded config before it is validated and built.

    Args:
        config: the loaded config (a [`Config`][videollm_core.config.Config], a `dict`);
            change it in place.

    Fired by the caller of [`load_config`][videollm_core.config.load_config] through
    [`configure_config`][videollm_core.plugins.configure_config] (`videollm-run` does). Raise
    [`ConfigError`][videollm_core.errors.ConfigError] to reject the config.
    """


@hookspec
def videollm_pipeline_built(pipeline: PipelineProtocol, config: dict[str, Any]) -> None:
    """A pipeline was built from `config` by [`build_pipeline`][videollm_core.pipeline.build_pipeline].

    Args:
        pipeline: the built [`VideoLLM`][videollm_core.pipeline.VideoLLM] (encoder, translator,
            LLM with its tuner, heads).
        config: the config it was built from.
    """


@hookspec
def videollm_train_start(runner: RunnerProtocol) -> None:
    """Training is about to start.

    Args:
        runner: the [`Runner`][videollm_core.engine.runner.Runner]; `runner.step` is 0, or the step a resumed run starts at;
            `runner.history` holds the logged records of a resumed run.
    """


@hookspec
def videollm_step_end(runner: RunnerProtocol, step: int, logs: dict[str, float]) -> None:
    """An optimizer step finished.

    Args:
        runner: the runner.
        step: the optimizer steps done so far (1 after the first).
        logs: the scalars of this step (`loss`, `lr`, `grad_norm`, per-task losses...).
    """


@hookspec
def videollm_task_evaluated(runner: RunnerProtocol, task: str, split: str, metric: Any, predictions: Any, ground_truth: Any,
                            scores: dict[str, float]) -> None:
    """One task of an evaluation was scored (main process; training, `--eval-only` and `videollm evaluate` runs).

    Args:
        runner: the [`Runner`][videollm_core.engine.runner.Runner].
        task: the task's name (`tasks[i].name`, or `task` in the single-task form).
        split: `"val"` or `"test"`.
        metric: the task's [`Metric`][videollm_core.data.Metric].
        predictions: the official predictions object, as `metric.evaluate` took it.
        ground_truth: the dataset's ground truth, as `metric.evaluate` took it.
        scores: `{KEY: value}` of the metric's keys.

    The plots plugin draws `plots/TASK_predictions.png` here (`metric.plot`).
    """


@hookspec
def videollm_evaluate_end(runner: RunnerProtocol, step: int, metrics: dict[str, float]) -> None:
    """An evaluation during training finished.

    Args:
        runner: the runner; `runner.primary_metric` is `(TASK/KEY, higher_is_better)` of the
            metric that picks the best checkpoint. Set `runner.should_stop = True` to stop training
            after this evaluation (the early-stopping plugin does).
        step: the step evaluated.
        metrics: `{"TASK/KEY": value}` of every task's metric keys.
    """


@hookspec
def videollm_train_end(runner: RunnerProtocol) -> None:
    """Training finished: at `max_steps`, after an early stop, or after a clean interrupt.

    Args:
        runner: the runner; `runner.interrupted` is the signal number that stopped it, or None.
    """

"""The protocols the hook specs are typed with (videollm_core/protocols.py) describe the real
Runner and VideoLLM at run time: ``runtime_checkable`` isinstance on real instances built from
examples/oad.yaml, and on the objects the hooks receive. (Under mypy: tests/docs/test_typecheck.py.)"""
from __future__ import annotations

import inspect
from pathlib import Path
from typing import get_type_hints

import pytest

import videollm_core
from videollm_core import hookspecs
from videollm_core.config import load_config
from videollm_core.protocols import PipelineProtocol, RunnerProtocol
from videollm_core.registry import Registries

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def runner(tmp_path_factory):
    from videollm_core.engine.runner import Runner

    tmp = tmp_path_factory.mktemp("protocols")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("VIDEOLLM_CACHE", str(tmp / "cache"))
        cfg = load_config(ROOT / "examples" / "oad.yaml", {"train.max_steps": 2, "train.eval_every": 2, "train.warmup_steps": 1,
                                                            "train.log_every": 1, "train.save_every": 2})
        yield Runner(cfg, work_dir=tmp / "work")


def test_the_real_runner_and_pipeline_satisfy_the_protocols(runner):
    assert isinstance(runner, RunnerProtocol)
    assert isinstance(runner.pipeline, PipelineProtocol)
    assert not isinstance(object(), RunnerProtocol) and not isinstance(object(), PipelineProtocol)


def test_the_hooks_receive_objects_that_satisfy_them(runner):
    seen: dict[str, object] = {}

    class Recorder:
        @videollm_core.hookimpl
        def videollm_train_start(self, runner):
            seen["train_start"] = runner

        @videollm_core.hookimpl
        def videollm_evaluate_end(self, runner):
            seen["evaluate_end"] = runner

        @videollm_core.hookimpl
        def videollm_train_end(self, runner):
            seen["train_end"] = runner.pipeline

    from videollm_core.plugins import get_plugin_manager

    manager = get_plugin_manager()
    manager.pm.register(Recorder(), name="protocols_recorder")
    try:
        runner.train()
    finally:
        manager.pm.unregister(name="protocols_recorder")
    assert isinstance(seen["train_start"], RunnerProtocol) and isinstance(seen["evaluate_end"], RunnerProtocol)
    assert isinstance(seen["train_end"], PipelineProtocol)
    assert runner.step == 2


def test_the_hook_specs_use_the_protocols_not_any():
    for name, spec in inspect.getmembers(hookspecs, inspect.isfunction):
        if not name.startswith("videollm_"):
            continue
        hints = get_type_hints(spec, vars(hookspecs) | {"RunnerProtocol": RunnerProtocol, "PipelineProtocol": PipelineProtocol,
                                                         "Registries": Registries})
        if "runner" in hints:
            assert hints["runner"] is RunnerProtocol, name
        if "pipeline" in hints:
            assert hints["pipeline"] is PipelineProtocol, name

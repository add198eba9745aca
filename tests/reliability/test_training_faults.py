"""Issue "Reliability" 3, the parts ``tests/runner/`` leaves out: a NaN/Inf loss through the real
CLI and a real example (exit 2, no traceback, the last good checkpoint kept and finite),
``train.on_nan: skip``, and SIGINT (Ctrl-C) during training saving a checkpoint and stopping
cleanly. SIGTERM and SIGKILL with resume are tested in ``tests/runner/test_runner.py``.
"""
from __future__ import annotations

import json
import math
import os
import signal

import pytest
import torch

import videollm_core
from mutations import ROOT
from videollm_core.engine import checkpoint as ckpt

TINY = ["train.max_steps=4", "train.eval_every=0", "train.save_every=1", "train.keep_last=10", "train.log_every=1",
        "train.warmup_steps=0", "data.train.demo.num_videos=4", "data.val.demo.num_videos=4"]


@pytest.fixture
def poisoned_loss(monkeypatch):
    """Make the pipeline's loss ``value`` on the ``at``-th training call (1-based)."""
    from videollm_core.pipeline import VideoLLM

    original = VideoLLM.loss

    def install(value: float, at: int) -> None:
        calls = {"n": 0}

        def loss(self, outputs, batch, task=None):
            out = original(self, outputs, batch, task)
            if self.training:
                calls["n"] += 1
                if calls["n"] == at:
                    out = {**out, "loss": out["loss"] * float(value)}
            return out

        monkeypatch.setattr(VideoLLM, "loss", loss)
    return install


def _finite(step_dir) -> bool:
    return all(torch.isfinite(v).all() for v in ckpt.load_weights(step_dir / ckpt.WEIGHTS_FILE).values())


@pytest.mark.slow
@pytest.mark.parametrize("value", [math.nan, math.inf])
def test_non_finite_loss_stops_the_cli_with_exit_2_and_keeps_good_checkpoints(value, poisoned_loss, tmp_path, capsys, isolated_cli):
    from videollm_core.cli.commands import run_main

    poisoned_loss(value, at=3)
    work = tmp_path / "work"
    code = run_main([str(ROOT / "examples" / "oad.yaml"), "--work-dir", str(work), "--cfg-options", *TINY])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert "step 3" in err and "NaN or Inf" in err and "train.on_nan: skip" in err
    steps = [s for s, _ in ckpt.list_checkpoints(work / "checkpoints")]
    assert steps == [1, 2]
    assert str(work / "checkpoints" / ckpt.step_dir_name(2)) in err  # the message names the last good one
    assert all(_finite(p) for _, p in ckpt.list_checkpoints(work / "checkpoints"))
    assert not any(p.name.startswith(".tmp") for p in (work / "checkpoints").iterdir())


@pytest.mark.slow
def test_on_nan_skip_drops_the_step_and_says_so(poisoned_loss, tmp_path, capsys, isolated_cli):
    from videollm_core.cli.commands import run_main

    poisoned_loss(math.nan, at=2)
    work = tmp_path / "work"
    code = run_main([str(ROOT / "examples" / "oad.yaml"), "--work-dir", str(work), "--cfg-options", *TINY, "train.on_nan=skip"])
    assert code == 0, capsys.readouterr().err[-2000:]
    records = [json.loads(line) for line in (work / "metrics.jsonl").read_text().splitlines()]
    train = {r["step"]: r for r in records if r["split"] == "train"}
    assert sorted(train) == [1, 2, 3, 4]
    assert train[2].get("skipped") == 1 and not any(train[s].get("skipped") for s in (1, 3, 4))
    assert all(math.isfinite(train[s]["loss"]) for s in (1, 3, 4))
    steps = ckpt.list_checkpoints(work / "checkpoints")
    assert [s for s, _ in steps] == [1, 2, 3, 4] and all(_finite(p) for _, p in steps)
    # the skipped step changed no weight: step 2's checkpoint holds step 1's weights
    w1, w2 = (ckpt.load_weights(p / ckpt.WEIGHTS_FILE) for _, p in steps[:2])
    assert all(torch.equal(w1[k], w2[k]) for k in w1)


class _CtrlC:
    """Sends SIGINT to this process at the end of step ``at`` (what Ctrl-C does)."""

    def __init__(self, at: int):
        self.at = at

    @videollm_core.hookimpl
    def videollm_step_end(self, runner, step, logs):
        if step == self.at:
            os.kill(os.getpid(), signal.SIGINT)


@pytest.mark.slow
def test_sigint_saves_a_checkpoint_and_stops_cleanly(tmp_path, isolated_cli):
    from videollm_core.config import load_config
    from videollm_core.plugins import get_plugin_manager
    from videollm_core.engine.runner import Runner

    manager = get_plugin_manager()
    manager.register(_CtrlC(at=2), name="ctrl_c")
    cfg = load_config(ROOT / "examples" / "oad.yaml", [*TINY, "train.save_every=0"])
    runner = Runner(cfg, work_dir=tmp_path / "work")
    runner.train()
    assert runner.interrupted == signal.SIGINT and runner.step == 2
    steps = ckpt.list_checkpoints(tmp_path / "work" / "checkpoints")
    assert [s for s, _ in steps] == [2]
    assert ckpt.read_json(steps[0][1] / ckpt.STATE_FILE)["step"] == 2
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # the handler is put back

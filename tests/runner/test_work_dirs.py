"""One run per work dir (fresh run into a used folder, --overwrite, --resume, foreign checkpoints),
progress bars that stay quiet, and the closing line of a run."""
from __future__ import annotations

import importlib.metadata as md
import json
import shutil
import sys

import pytest
import yaml

from videollm_core.engine import checkpoint as ckpt
from videollm_core.engine import workdir
from videollm_core.engine.logs import QUIET_ENV, RunOutputs, progress_bar
from videollm_core.errors import ConfigError

from helpers import make_config


def _state(path, run_id, step=1):
    path.mkdir(parents=True)
    (path / ckpt.STATE_FILE).write_text(json.dumps({"step": step, **({"run_id": run_id} if run_id else {})}))


# -- without training ------------------------------------------------------------------------
def test_overwrite_clears_only_what_a_run_wrote(tmp_path):
    work = tmp_path / "w"
    _state(work / "checkpoints" / "step_00000004", "old")
    (work / "checkpoints" / ".tmp-step_00000005").mkdir()
    (work / "checkpoints" / ckpt.BEST_FILE).write_text('{"step": 4}')
    for folder in ("predictions", "plots", "tensorboard"):
        (work / folder).mkdir()
        (work / folder / "x").write_text("old")
    for name in ("metrics.jsonl", "summary.json", "eval_val.json", workdir.RUN_FILE, "config.yaml", "notes.txt", "my.yaml"):
        (work / name).write_text("{}")
    (work / "export").mkdir()
    with pytest.raises(workdir.WorkDirInUse) as e:
        workdir.start_fresh(work)
    assert e.value.where == str(work) and "--resume" in e.value.hint and "--overwrite" in e.value.hint
    assert "1 checkpoint(s) of an earlier run (the last: step_00000004)" in e.value.message
    run_id = workdir.start_fresh(work, overwrite=True)
    assert sorted(p.name for p in work.iterdir()) == ["config.yaml", "export", "my.yaml", "notes.txt", workdir.RUN_FILE]
    assert workdir.run_id_of(work) == run_id != "old"
    assert workdir.start_fresh(work) != run_id  # no checkpoint left: a new run may start


def test_a_named_checkpoint_must_belong_to_the_work_dirs_run(tmp_path):
    work = tmp_path / "w"
    _state(work / "checkpoints" / "step_00000001", "mine")
    _state(work / "checkpoints" / "step_00000002", "theirs")
    _state(work / "checkpoints" / "step_00000003", None)  # written before run ids: accepted
    (work / workdir.RUN_FILE).write_text(json.dumps({"run_id": "mine"}))
    workdir.check_same_run(work / "checkpoints" / "step_00000001", work, "last")
    workdir.check_same_run(work / "checkpoints" / "step_00000003", work, "last")
    with pytest.raises(workdir.ForeignCheckpoint) as e:
        workdir.check_same_run(work / "checkpoints" / "step_00000002", work, "best")
    assert e.value.message == "'best' picked step_00000002, a checkpoint of another run (theirs) than the work dir's (mine, run.json)"
    assert "--checkpoint PATH" in e.value.hint and "--overwrite" in e.value.hint
    assert workdir.continue_run(work, "mine") == "mine"
    assert workdir.continue_run(work, None) == "mine"  # a checkpoint without an id keeps the work dir's
    with pytest.raises(workdir.WorkDirInUse):  # resuming another run's checkpoint into this folder
        workdir.continue_run(work, "theirs")


def test_progress_bars_are_quiet_off_a_terminal_or_when_asked(monkeypatch):
    monkeypatch.delenv(QUIET_ENV, raising=False)
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)
    bar = progress_bar(3, desc="val task", unit="batch")
    assert not bar.disable and bar.unit == "batch" and bar.desc == "val task"
    bar.close()
    assert progress_bar(3, desc="x", enabled=False).disable
    monkeypatch.setenv(QUIET_ENV, "1")
    assert progress_bar(3, desc="x").disable
    monkeypatch.setenv(QUIET_ENV, "0")
    assert not progress_bar(3, desc="x").disable
    monkeypatch.setattr(sys.stderr, "isatty", lambda: False, raising=False)
    assert list(progress_bar(2, desc="x", iterable=[1, 2])) == [1, 2]


def test_closing_line(tmp_path):
    out = RunOutputs(tmp_path, predictions=tmp_path / "predictions", plots=tmp_path / "plots",
                     checkpoint=tmp_path / "checkpoints" / "step_00000004", checkpoint_kind="best",
                     checkpoint_note="step 4, proto/acc=91.67")
    assert out.line() == (f"outputs: work dir {tmp_path} | predictions {tmp_path / 'predictions'} | plots {tmp_path / 'plots'}"
                          f" | best checkpoint {tmp_path / 'checkpoints' / 'step_00000004'} (step 4, proto/acc=91.67)")
    assert RunOutputs(tmp_path, checkpoint_note="none (untrained weights)").line() == \
        f"outputs: work dir {tmp_path} | checkpoint none (untrained weights)"


# -- the runner and the command line ------------------------------------------------------------
def test_runner_refuses_a_fresh_run_into_a_used_work_dir(tmp_path):
    from test_runner import make_runner

    cfg = make_config(tmp_path, max_steps=2, eval_every=0, save_every=0)
    first = make_runner(cfg)
    first.train()
    state = ckpt.read_json(tmp_path / "checkpoints" / "step_00000002" / ckpt.STATE_FILE)
    assert state["run_id"] == first.run_id == workdir.run_id_of(tmp_path) == json.loads((tmp_path / "summary.json").read_text())["run_id"]
    assert first.outputs.checkpoint == tmp_path / "checkpoints" / "step_00000002"
    with pytest.raises(workdir.WorkDirInUse):
        make_runner(cfg).train()
    with pytest.raises(ConfigError, match="does not go with --resume"):
        make_runner(cfg).train(resume="auto", overwrite=True)
    again = make_runner(cfg)
    again.train(overwrite=True)
    assert again.run_id != first.run_id == state["run_id"]


@pytest.fixture
def cli(monkeypatch):
    """``videollm``/``videollm-run`` in-process, with the runner tests' plugin as an installed one."""
    import videollm_core.plugins as plugins_mod
    from videollm_core.cli.commands import main, run_main

    monkeypatch.delenv("VIDEOLLM_STRICT_PLUGINS", raising=False)
    monkeypatch.setattr(plugins_mod, "_entry_points",
                        lambda: [md.EntryPoint(name="runner_testplug", value="runner_testplug", group="videollm")])
    with plugins_mod.preserved_plugin_state():
        yield main, run_main


def test_command_line_keeps_runs_apart_and_names_the_outputs(cli, tmp_path, capsys):
    main, run_main = cli
    work = tmp_path / "work"
    config = tmp_path / "tiny.yaml"
    config.write_text(yaml.safe_dump(make_config(work, max_steps=4, eval_every=4, save_every=4)))
    work.mkdir()
    (work / "notes.txt").write_text("mine")

    assert run_main([str(config), "--quiet"]) == 0
    out = capsys.readouterr().out.splitlines()
    best = ckpt.read_json(work / "checkpoints" / ckpt.BEST_FILE)
    assert out[-1] == (f"outputs: work dir {work} | predictions {work / 'predictions'} | plots {work / 'plots'}"
                       f" | best checkpoint {work / 'checkpoints' / 'step_00000004'} (step 4, proto/acc={best['value']:.4g})")
    first = workdir.run_id_of(work)

    code = run_main([str(config)])  # a fresh run into the used folder
    out, err = capsys.readouterr()
    assert code == 2 and "Traceback" not in err and out == ""
    assert err.startswith(f"error: {work}: the work dir holds 1 checkpoint(s) of an earlier run (the last: step_00000004);"
                          " a new run would mix with them")
    assert "hint: continue that run with --resume, start over with --overwrite" in err
    assert workdir.run_id_of(work) == first

    assert run_main([str(config), "--resume", "auto"]) == 0  # the run was complete: re-evaluated, same run
    assert workdir.run_id_of(work) == first and capsys.readouterr().out.splitlines()[-1].startswith("outputs: work dir")

    assert run_main([str(config), "--overwrite"]) == 0
    capsys.readouterr()
    second = workdir.run_id_of(work)
    assert second != first and (work / "notes.txt").read_text() == "mine"
    assert {ckpt.read_json(p / ckpt.STATE_FILE)["run_id"] for _, p in ckpt.list_checkpoints(work / "checkpoints")} == {second}
    assert [json.loads(line)["step"] for line in (work / "metrics.jsonl").read_text().splitlines()] == [2, 4, 4]

    assert run_main([str(config), "--eval-only", "--checkpoint", "last"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == (
        f"outputs: work dir {work} | predictions {work / 'predictions'} | scores {work / 'eval_val.json'}"
        f" | plots {work / 'plots'} | last checkpoint {work / 'checkpoints' / 'step_00000004'} (step 4)")
    assert main(["run", str(config), "--predict", "--quiet"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == (
        f"outputs: work dir {work} | predictions {work / 'predictions'} | best checkpoint {work / 'checkpoints' / 'step_00000004'} (step 4)")

    # another run's checkpoint in the folder: the names never pick it
    foreign = work / "checkpoints" / "step_00000008"
    shutil.copytree(work / "checkpoints" / "step_00000004", foreign)
    state = ckpt.read_json(foreign / ckpt.STATE_FILE)
    ckpt.write_json_atomic(foreign / ckpt.STATE_FILE, {**state, "step": 8, "run_id": "20240101-000000-abcdef"})
    message = f"{foreign}: 'last' picked step_00000008, a checkpoint of another run (20240101-000000-abcdef) than the work dir's ({second}, run.json)"
    for argv in (["export", str(work), "--out", str(tmp_path / "model"), "--checkpoint", "last"],
                 ["run", str(config), "--eval-only", "--checkpoint", "last"]):
        code = main(argv)
        err = capsys.readouterr().err
        assert code == 2 and message in err and "Traceback" not in err, err
    code = main(["run", str(config), "--resume", "auto"])
    assert code == 2 and "'auto' picked step_00000008" in capsys.readouterr().err
    assert not (tmp_path / "model").exists()

"""The ``slurm`` executor against the stand-in Slurm of ``conftest.py`` (``cluster`` fixture)."""
from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

pytest.importorskip("submitit")

from videollm_core.errors import ConfigError  # noqa: E402
from videollm_core.executor import RunCommand  # noqa: E402
from videollm_core.signature import check_arguments  # noqa: E402
from videollm_plugins.executors.slurm import SlurmExecutor  # noqa: E402

def _command(tmp_path: Path, run_id: str, code: int = 0, gpus: int = 0) -> RunCommand:
    (tmp_path / "logs").mkdir(exist_ok=True)
    script = ("import pathlib, sys; pathlib.Path(sys.argv[1]).write_text('done');"
              " print('hello from', sys.argv[2]); sys.exit(int(sys.argv[3]))")
    argv = (sys.executable, "-c", script, str(tmp_path / f"{run_id}.marker"), run_id, str(code))
    return RunCommand(run_id, argv, str(tmp_path), str(tmp_path / "logs" / f"{run_id}.log"), gpus)


def _run(executor: SlurmExecutor, commands: list[RunCommand], state_dir: Path) -> list[tuple[str, int]]:
    done: list[tuple[str, int]] = []
    executor.run(commands, lambda run_id, status: done.append((run_id, status)), str(state_dir))
    return done


def _scripts(root: Path) -> list[str]:
    return [p.read_text() for p in sorted(root.glob("sbatch_*.sh"))]


def test_an_array_of_three_runs_with_their_statuses_logs_and_sbatch_parameters(cluster, tmp_path):
    commands = [_command(tmp_path, "r0"), _command(tmp_path, "r1"), _command(tmp_path, "r2", code=3)]
    executor = SlurmExecutor(partition="gpu", time=30, mem_gb=8, account="proj", poll_seconds=0.2)
    done = _run(executor, commands, tmp_path / "state")

    assert sorted(done) == [("r0", 0), ("r1", 0), ("r2", 3)]
    for c in commands:
        assert (tmp_path / f"{c.run_id}.marker").read_text() == "done"
        text = Path(c.log).read_text()
        assert f"hello from {c.run_id}" in text
        assert re.search(r"\[videollm slurm\] submitted as Slurm job \d+_\d", text)
    (script,) = _scripts(cluster)
    assert re.search(r"^#SBATCH --array=0-2%3$", script, re.M)
    for line in ("--partition=gpu", "--account=proj", "--time=30", "--mem=8GB"):
        assert f"#SBATCH {line}\n" in script
    assert "gpus" not in script and "gres" not in script
    assert list((tmp_path / "state" / "slurm").glob("*_0_log.out")), "submitit keeps its logs in STATE_DIR/slurm"


def test_one_array_per_gpu_count(cluster, tmp_path):
    commands = [_command(tmp_path, f"g{gpus}_{i}", gpus=gpus) for gpus in (2, 1) for i in range(2)]
    done = _run(SlurmExecutor(poll_seconds=0.2), commands, tmp_path / "state")

    assert sorted(done) == sorted((c.run_id, 0) for c in commands)
    scripts = _scripts(cluster)
    assert len(scripts) == 2
    asked = sorted(int(re.search(r"^#SBATCH --gpus-per-node=(\d+)$", s, re.M).group(1)) for s in scripts)
    assert asked == [1, 2]
    assert all(re.search(r"^#SBATCH --array=0-1%2$", s, re.M) for s in scripts)


def test_a_cancelled_task_ends_its_run_with_status_1_and_says_why(cluster, tmp_path, monkeypatch):
    from submitit.slurm.slurm import SlurmJob

    monkeypatch.setattr(SlurmJob, "_results_timeout_s", 0)  # submitit waits 15 s for a result that never comes
    monkeypatch.setenv("FAKE_SLURM_CANCEL", "1")
    commands = [_command(tmp_path, "ok"), _command(tmp_path, "gone")]
    done = _run(SlurmExecutor(poll_seconds=0.2), commands, tmp_path / "state")

    assert sorted(done) == [("gone", 1), ("ok", 0)]
    assert not (tmp_path / "gone.marker").exists()
    line = Path(commands[1].log).read_text().splitlines()[-1]
    assert re.search(r"Slurm job \d+_1 failed \(state CANCELLED by 0\): UncompletedJobError: .*CANCELLED", line)
    assert "submitit's stderr: " in line and line.endswith("_1_0_log.err")


def test_a_refused_submission_ends_every_run_with_status_1(cluster, tmp_path, monkeypatch):
    monkeypatch.setenv("FAKE_SBATCH_FAIL", "Batch job submission failed: Invalid account or account/partition combination")
    commands = [_command(tmp_path, "a"), _command(tmp_path, "b", gpus=1)]
    done = _run(SlurmExecutor(account="nope", poll_seconds=0.2), commands, tmp_path / "state")

    assert sorted(done) == [("a", 1), ("b", 1)]
    for c in commands:
        text = Path(c.log).read_text()
        assert "could not submit to Slurm" in text and "Invalid account" in text
        assert "Traceback" not in text
    assert not (tmp_path / "a.marker").exists() and not _scripts(cluster)


def test_arguments_and_a_missing_slurm_or_submitit(tmp_path, monkeypatch):
    assert check_arguments(SlurmExecutor, {"partition": "gpu", "time": 30, "additional": {"mail-type": "END"}},
                           where="executor") == []
    assert [e.where for e in check_arguments(SlurmExecutor, {"jobs": 4}, where="executor")] == ["executor.jobs"]
    with pytest.raises(ConfigError, match="time"):
        SlurmExecutor(time=0)
    commands = [_command(tmp_path, "x")]
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(ConfigError, match="srun"):
        _run(SlurmExecutor(), commands, tmp_path / "state")
    monkeypatch.setitem(sys.modules, "submitit", None)
    with pytest.raises(ConfigError, match="needs submitit") as caught:
        _run(SlurmExecutor(), commands, tmp_path / "state")
    assert "pip install" in (caught.value.hint or "")

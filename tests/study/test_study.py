"""``videollm study`` end to end on the OAD demo (tiny runs): a planted failure, a killed study resumed,
the Slurm executor through the stand-in cluster of ``conftest.py``, the study file's mistakes."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from videollm_core.cli.commands import main

ROOT = Path(__file__).resolve().parents[2]
OAD = ROOT / "examples" / "oad.yaml"
TINY = "options: {train.max_steps: %d, train.eval_every: %d, train.log_every: 5, train.save_every: 5, train.warmup_steps: 2}\n"


@pytest.fixture(autouse=True)
def demo_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("VIDEOLLM_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


def write_study(tmp_path: Path, body: str, steps: int = 10, name: str = "study.yaml") -> Path:
    path = tmp_path / name
    path.write_text(f"study: t\nbase: {{oad: {OAD}}}\ndata_root: {ROOT}\n" + TINY % (steps, steps) + body, encoding="utf-8")
    return path


def results(out: Path) -> dict[str, dict]:
    return {p.parent.name: json.loads(p.read_text()) for p in sorted(out.glob("runs/*/result.json"))}


@pytest.mark.slow
def test_a_planted_failure_is_reported_and_the_other_runs_finish(tmp_path, capsys):
    study = write_study(tmp_path, "axes: {seed: [0, 1, 2]}\n"
                                  "controls: {broken: {set: {model.tuner: {type: NoSuchTuner}}, vary: []}}\n")
    out = tmp_path / "out"
    code = main(["study", str(study), "--out", str(out), "--jobs", "2", "--quiet"])
    text = capsys.readouterr().out
    assert code == 1, text
    assert sorted(results(out)) == ["oad__seed=0", "oad__seed=1", "oad__seed=2"]
    failed = json.loads((out / "runs" / "oad__control=broken" / "failed.json").read_text())
    assert "NoSuchTuner" in failed["error"] and failed["status"] == 2
    assert Path(failed["log"]).is_file() and "NoSuchTuner" in Path(failed["log"]).read_text()
    assert "3 run(s) finished, 0 already done, 1 failed" in text
    assert "failed: oad__control=broken" in text and f"log: {failed['log']}" in text
    for run_id, result in results(out).items():
        assert result["metrics"]["oad/mAP"] > 0 and result["best"]["key"] == "oad/action/mean_top5_recall"  # train.primary_metric
        assert result["parameters"]["trainable"] > 0 and result["step"] == 10

    # the report counts the three and lists the failure; a second start skips what is done
    assert main(["report", str(out)]) == 0
    csv_rows = (out / "results.csv").read_text().splitlines()
    assert len(csv_rows) == 4 and csv_rows[0].startswith("id,task,control,llm,family")
    md = (out / "results.md").read_text()
    assert "3 of 4 runs finished, 1 failed" in md and "oad__control=broken" in md
    capsys.readouterr()
    assert main(["study", str(study), "--out", str(out), "--quiet"]) == 2  # a used folder needs --resume
    assert "--resume" in capsys.readouterr().err
    assert main(["study", str(study), "--out", str(out), "--resume", "--quiet"]) == 1
    assert "0 run(s) finished, 3 already done, 1 failed" in capsys.readouterr().out


@pytest.mark.slow
def test_a_killed_study_resumes_and_runs_only_what_is_left(tmp_path):
    study = write_study(tmp_path, "axes: {seed: [0, 1, 2]}\n", steps=150)
    out = tmp_path / "out"
    argv = [sys.executable, "-m", "videollm_core.cli", "study", str(study), "--out", str(out), "--jobs", "1", "--quiet"]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    first, second = out / "runs" / "oad__seed=0", out / "runs" / "oad__seed=1"
    deadline = time.time() + 240
    while not list((second / "work" / "checkpoints").glob("step_*")) and time.time() < deadline:
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)  # the study dies at once; its runs get SIGTERM from the kernel (PR_SET_PDEATHSIG)
    proc.wait()
    assert (first / "result.json").is_file() and not (second / "result.json").is_file()
    stamp = (first / "result.json").stat().st_mtime_ns
    deadline = time.time() + 60  # the stopped run saves its checkpoint and records that it did not finish
    while not (second / "failed.json").is_file() and time.time() < deadline:
        time.sleep(0.2)
    assert (second / "failed.json").is_file()

    done = subprocess.run(argv + ["--resume"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 run(s) finished, 1 already done, 0 failed" in done.stdout
    assert (first / "result.json").stat().st_mtime_ns == stamp
    assert sorted(results(out)) == ["oad__seed=0", "oad__seed=1", "oad__seed=2"]
    assert "--resume auto" in (second / "log.txt").read_text()  # continued from its checkpoint, not started over
    assert "--resume auto" not in (out / "runs" / "oad__seed=2" / "log.txt").read_text()
    assert not (second / "failed.json").exists()


@pytest.mark.slow
def test_the_slurm_executor_submits_a_job_array_and_the_results_come_back(tmp_path, cluster, capsys):
    study = write_study(tmp_path, "axes: {seed: [0, 1]}\n"
                                  "executor: {type: slurm, partition: gpu, account: proj, time: 30, poll_seconds: 0.2}\n")
    out = tmp_path / "out"
    assert main(["study", str(study), "--out", str(out), "--quiet"]) == 0, capsys.readouterr()
    assert sorted(results(out)) == ["oad__seed=0", "oad__seed=1"]
    (script,) = [p.read_text() for p in cluster.glob("sbatch_*.sh")]
    for line in ("--array=0-1%2", "--partition=gpu", "--account=proj", "--time=30", "--gpus-per-node=1"):
        assert f"#SBATCH {line}\n" in script
    assert (out / "results.md").is_file()


def test_jobs_with_the_slurm_executor_and_study_file_mistakes_exit_2(tmp_path, capsys):
    study = write_study(tmp_path, "axes: {seed: [0]}\nexecutor: {type: slurm}\n")
    assert main(["study", str(study), "--jobs", "2", "--out", str(tmp_path / "o")]) == 2
    assert "--jobs" in capsys.readouterr().err
    bad = write_study(tmp_path, "axis: {seed: [0]}\ncontrols: {c: {set: {seed: 1}, vary: [model.llm]}}\n"
                                "base_typo: 1\n", name="bad.yaml")
    assert main(["study", str(bad), "--dry-run", "--no-data"]) == 2
    err = capsys.readouterr().err
    assert "axis" in err and "did you mean 'axes'?" in err
    assert "controls.c.vary" in err and "Traceback" not in err
    missing = tmp_path / "missing.yaml"
    missing.write_text("base: {oad: nowhere.yaml}\n")
    assert main(["study", str(missing), "--dry-run"]) == 2
    assert "config file not found" in capsys.readouterr().err
    assert main(["study", str(tmp_path / "absent.yaml")]) == 2


def test_dry_run_plans_without_training(tmp_path, capsys):
    study = write_study(tmp_path, "axes:\n  model.tuner: {basic: {type: Frozen}, lora: {type: LoRA, r: 4}}\n  seed: [0, 1]\n")
    assert main(["study", str(study), "--dry-run", "--json"]) == 0
    plan = json.loads(capsys.readouterr().out)
    assert plan["count"] == 4 and plan["per_rq"] == {"RQ1": 2, "RQ2": 4, "RQ4": 4, "RQ5": 4}
    by_id = {r["id"]: r for r in plan["runs"]}
    assert set(by_id) == {f"oad__tuner={t}__seed={s}" for t in ("basic", "lora") for s in (0, 1)}
    lora, basic = by_id["oad__tuner=lora__seed=0"], by_id["oad__tuner=basic__seed=0"]
    assert lora["overrides"]["model.tuner"] == {"type": "LoRA", "r": 4} and lora["total"] > basic["total"]
    assert lora["trainable"] - basic["trainable"] == lora["total"] - basic["total"]  # the adapters are what is added
    assert plan["data"]  # the data were opened (without --no-data)
    assert not (tmp_path / "work_dirs").exists() and not os.path.exists(ROOT / "work_dirs" / "study" / "t")


def test_the_demo_study_plan(capsys):
    assert main(["study", str(ROOT / "examples" / "study" / "demo.yaml"), "--dry-run", "--no-data", "--json"]) == 0
    plan = json.loads(capsys.readouterr().out)
    assert plan["count"] == 52 and plan["controls"] == 4  # 2 tasks x 4 LLMs x 3 schemes x 2 seeds + no-LLM x 2 tasks x 2 seeds
    assert plan["per_rq"] == {"RQ1": 20, "RQ2": 48, "RQ4": 48, "RQ5": 48}
    no_llm = [r for r in plan["runs"] if r["control"] == "no_llm"]
    assert all(r["overrides"]["model.llm"]["type"] == "NoLLM" and r["trainable"] > 0 for r in no_llm)


@pytest.mark.slow
def test_the_paper_study_is_planned_offline(capsys):
    """Every run of the paper's study on the meta device, offline: 480 grid runs and 104 controls."""
    assert main(["study", str(ROOT / "examples" / "study" / "paper.yaml"), "--dry-run", "--no-data", "--json"]) == 0
    plan = json.loads(capsys.readouterr().out)
    assert plan["count"] == 584 and plan["controls"] == 104
    runs = {r["id"]: r for r in plan["runs"]}
    assert all(r["total"] > r["trainable"] > 0 for r in runs.values())
    frozen, random = runs["oad__llm=opt-1.3b__tuner=basic__seed=0"], runs["oad__control=random_llm__llm=opt-1.3b__seed=0"]
    assert random["total"] == frozen["total"] and random["overrides"]["model.llm.random_init"] is True
    assert runs["nlq__llm=llama-7b__tuner=lora__seed=0"]["total"] > 6e9
    assert {r["task"] for r in runs.values()} == {"oad", "anticipation", "lta", "online_caption", "moment_query", "nlq",
                                                  "qvhighlights", "action_segmentation"}


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_a_child_asks_to_die_with_its_parent_itself_and_stops_when_the_parent_is_gone():
    """No preexec_fn (it can hang a child of a threaded parent between fork and exec): the child
    runs `die_with_parent` first. Its parent alive: it runs on, the variable not handed further;
    its parent already gone: it stops at once with SIGTERM."""
    from videollm_core.study.worker import PARENT_ENV, child_env

    code = ("import os; from videollm_core.study.worker import die_with_parent; die_with_parent();"
            f" print(os.environ.get({PARENT_ENV!r}, 'unset'))")
    alive = subprocess.run([sys.executable, "-c", code], env=child_env(), capture_output=True, text=True, timeout=60)
    assert (alive.returncode, alive.stdout.strip()) == (0, "unset"), alive.stderr
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    orphan = subprocess.run([sys.executable, "-c", code], env={**os.environ, PARENT_ENV: str(gone.pid)}, capture_output=True, text=True,
                            timeout=60)
    assert orphan.returncode == -signal.SIGTERM and orphan.stdout == ""

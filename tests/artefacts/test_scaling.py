"""Scaling out: the launch templates of examples/accelerate/ are valid accelerate configs, and the
DDP one trains with 2 CPU processes (gloo) into a checkpoint that ``videollm export`` turns into a
model folder reproducing the run's validation metrics on one process."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from videollm_core.cli.commands import main, run_main

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "examples" / "accelerate"
OPTIONS = ["train.max_steps=4", "train.eval_every=4", "train.log_every=2", "data.train.demo.num_videos=4",
           "data.val.demo.num_videos=4", "model.tuner.type=LoRA", "model.tuner.r=2"]


@pytest.mark.parametrize("name", ["single_gpu", "ddp", "multi_node", "fsdp", "deepspeed_zero2", "deepspeed_zero3"])
def test_templates_are_accelerate_configs(name):
    from accelerate.commands.config.config_args import ClusterConfig

    path = TEMPLATES / f"{name}.yaml"
    config = ClusterConfig.from_yaml_file(str(path))  # accelerate's own reader: unknown keys are refused
    assert set(yaml.safe_load(path.read_text())) <= set(config.to_dict())
    assert str(getattr(config.compute_environment, "value", config.compute_environment)) == "LOCAL_MACHINE"
    if name == "fsdp":
        assert config.fsdp_config["fsdp_version"] == 2
    if name.startswith("deepspeed"):
        assert config.deepspeed_config["zero_stage"] == int(name[-1])


@pytest.mark.slow
@pytest.mark.subprocess
def test_ddp_template_trains_on_two_cpu_processes_and_exports(tmp_path, capsys):
    work = tmp_path / "run"
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--config_file", str(TEMPLATES / "ddp.yaml"),
           "--num_processes", "2", "--main_process_port", "29541", "-m", "videollm_core.cli", "run",
           str(ROOT / "examples" / "oad.yaml"), "--work-dir", str(work), "--cfg-options", *OPTIONS]
    env = dict(os.environ, ACCELERATE_USE_CPU="true", OMP_NUM_THREADS="1", TOKENIZERS_PARALLELISM="false")
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=str(ROOT), timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    state = json.loads((work / "checkpoints" / "step_00000004" / "state.json").read_text())
    assert state["num_processes"] == 2
    assert main(["export", str(work), "--out", str(tmp_path / "model")]) == 0
    capsys.readouterr()
    assert run_main([str(work / "config.yaml"), "--eval-only", "--checkpoint", str(tmp_path / "model"),
                     "--work-dir", str(tmp_path / "eval"), "--json"]) == 0
    out = capsys.readouterr().out
    scores = json.loads(out[out.index("{"):])
    records = [json.loads(line) for line in (work / "metrics.jsonl").read_text().splitlines()]
    val = [r for r in records if r.get("split") == "val" and r["step"] == 4][-1]
    for key in scores:
        assert abs(scores[key] - val[key]) <= 1e-6, key

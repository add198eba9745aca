"""The ``launch`` part of ``bench/gpu.py``: ``accelerate launch --config_file examples/accelerate/<template>
--num_processes 1 -m videollm_core.cli run CONFIG`` for a few steps, read back from the run's ``metrics.jsonl``."""
from __future__ import annotations

import importlib.util
import json
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from .report import LAUNCHES, Results

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "examples" / "accelerate"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cause(log: list[str]) -> str:
    """The child's own error line in a launch's output (the launcher's CalledProcessError comes after it)."""
    errors = [line.strip() for line in log if re.match(r"\s*([\w.]*(Error|Exception)\b|Error: )", line)
              and "CalledProcessError" not in line]
    return (errors or log or ["no output"])[-1]


def measure_launch(name: str, cfg_path: Path, shape: dict[str, Any], smoke: bool, work: Path, log_path: Path,
                   res: Results) -> None:
    """``accelerate launch`` of the CLI's ``run`` through one template for ``launch_steps`` steps (output: ``log_path``)."""
    template, extra = LAUNCHES[name]
    steps = shape["launch_steps"]
    out = work / f"launch_{name}"
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--config_file", str(TEMPLATES / template), "--num_processes", "1",
           "--main_process_port", str(free_port()), *extra, *(["--cpu"] if smoke else []), "-m", "videollm_core.cli", "run",
           str(cfg_path), "--work-dir", str(out), "--cfg-options", f"train.max_steps={steps}", f"train.log_every={steps // 2}"]
    print("[gpu]   " + " ".join(str(c) for c in cmd), flush=True)
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=shape["launch_timeout"])
    wall = time.perf_counter() - start
    log = (done.stdout + done.stderr).strip().splitlines()
    log_path.write_text("\n".join(log) + "\n", encoding="utf-8")
    if done.returncode != 0:
        print("\n".join(log[-25:]), flush=True)
        raise RuntimeError(f"exit {done.returncode}: {cause(log)} (whole output: {log_path})")
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines() if line.strip()]
    rate = [r["samples_per_s"] for r in records if r.get("split") == "train" and "samples_per_s" in r][-1]
    res.figures.update({f"launch.{name}.samples_per_s": rate, f"launch.{name}.wall_s": wall})
    res.setup.setdefault("launch", {})[name] = {"template": template, "extra_args": extra + (["--cpu"] if smoke else []),
                                                "steps": steps, "checkpoint_files": sorted(
                                                    str(p.relative_to(out)) for p in (out / "checkpoints").glob("step_*/**/*"))}
    print(f"[gpu] launch {name}: {rate:.1f} samples/s, {wall:.1f} s in all", flush=True)


def launch_skip_reason(name: str, smoke: bool) -> str | None:
    """Why ``name`` cannot run here (None: it can)."""
    if smoke and name == "fsdp":
        return "needs CUDA GPUs: on CPU accelerate turns the FSDP template into MULTI_CPU, plain DDP (docs/scaling.md)"
    if smoke and name == "deepspeed":
        return "needs CUDA GPUs: DeepSpeed's ZeRO engine has no CPU path in this setup (docs/scaling.md)"
    if name == "deepspeed" and importlib.util.find_spec("deepspeed") is None:
        return os.environ.get("GPU_BENCH_DEEPSPEED_NOTE") or "deepspeed is not installed (bench/gpu.sh installs it from --wheels DIR)"
    return None

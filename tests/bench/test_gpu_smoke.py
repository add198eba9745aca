"""``bash bench/gpu.sh --smoke``: every part of the GPU benchmark (the runner's training steps,
streaming at 1k and 16k units, extraction from mp4 files, an ``accelerate launch``) runs on CPU
with tiny shapes and writes a JSON with every figure: a finite positive number, or null with the
reason where a CPU cannot measure it. Timings' values are never asserted."""
from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
#: the fixed figure keys, in order (bench/gpu/report.py KEYS).
KEYS = ["device", "train.ms_per_step", "train.samples_per_s", "train.tokens_per_s", "train.tflops_per_s", "train.mfu",
        "stream.units_per_s.1k", "stream.p50_ms.1k", "stream.p99_ms.1k",
        "stream.units_per_s.16k", "stream.p50_ms.16k", "stream.p99_ms.16k", "extract.frames_per_s",
        "launch.single_gpu.samples_per_s", "launch.single_gpu.wall_s", "launch.fsdp.samples_per_s", "launch.fsdp.wall_s",
        "launch.deepspeed.samples_per_s", "launch.deepspeed.wall_s"]
#: what the CPU smoke run cannot measure, and a word its reason must hold.
CPU_NULLS = {"train.mfu": "bf16", "launch.fsdp.samples_per_s": "CUDA", "launch.fsdp.wall_s": "CUDA",
             "launch.deepspeed.samples_per_s": "CUDA", "launch.deepspeed.wall_s": "CUDA"}


@pytest.mark.slow
@pytest.mark.subprocess
def test_gpu_bench_smoke_writes_every_figure(tmp_path):
    out = tmp_path / "gpu.json"
    env = dict(os.environ, PYTHON=sys.executable, OMP_NUM_THREADS="1")
    done = subprocess.run(["bash", str(ROOT / "bench" / "gpu.sh"), "--smoke", "--out", str(out)], cwd=str(tmp_path), env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    data = json.loads(out.read_text(encoding="utf-8"))
    figures, skipped = data["figures"], data["skipped"]
    assert list(figures) == KEYS
    assert figures["device"] == "cpu" and data["setup"]["mode"] == "smoke"
    assert data["failed"] == []
    for key in KEYS[1:]:
        value = figures[key]
        if key in CPU_NULLS:
            assert value is None and CPU_NULLS[key] in skipped[key], (key, value, skipped.get(key))
        else:
            assert isinstance(value, (int, float)) and not isinstance(value, bool), (key, value)
            assert math.isfinite(value) and value > 0, (key, value)
            assert key not in skipped, (key, skipped[key])
    assert set(skipped) == set(CPU_NULLS)
    assert "| `train.ms_per_step` |" in done.stdout  # the Markdown table for docs/benchmarks.md
    assert (tmp_path / "gpu.single_gpu.log").is_file()  # the launch's own output, beside the JSON

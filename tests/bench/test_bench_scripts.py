"""The benchmark scripts run end to end at tiny sizes and report what they promise: ``bench/overhead.py``
(interleaved runner / plain-loop blocks), ``bench/tasks_stream.py`` (every task streamed) and ``bench/study.py``
(a study's own cost per run, ``--jobs 2`` against ``--jobs 1``). Only the
JSON's shape is checked (keys present, numbers finite and positive); timings are never asserted."""
from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TASKS = ("oad", "anticipation", "lta", "online_caption", "moment_query", "nlq", "qvhighlights", "action_segmentation",
         "dense_caption")


def _run(args: list[str], tmp_path: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "VIDEOLLM_QUIET": "1"}
    proc = subprocess.run([sys.executable, *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def _positive(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value > 0


def _finite(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


@pytest.mark.slow
@pytest.mark.subprocess
def test_overhead_interleaves_and_reports_median_and_iqr(tmp_path):
    proc = _run([str(ROOT / "bench" / "overhead.py"), "--config", str(ROOT / "examples" / "oad.yaml"), "--pairs", "6",
                 "--block", "2", "--warmup", "2", "--threads", "1", "--cfg-options", "model.llm.config.n_layer=1"], tmp_path)
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    for key in ("runner_ms_per_step", "plain_ms_per_step"):
        assert _positive(result[key]), (key, result[key])
    for key in ("overhead_pct_median", "overhead_ms_per_step_median"):  # an overhead may be negative in a noisy run
        assert _finite(result[key]), (key, result[key])
    assert _finite(result["overhead_pct_iqr"]) and result["overhead_pct_iqr"] >= 0
    assert result["pairs"] == 6 and len(result["per_pair_overhead_pct"]) == 6
    assert all(_finite(v) for v in result["per_pair_overhead_pct"])
    low, high = result["overhead_pct_median_ci95"]  # 6 pairs: the smallest and the largest
    assert low <= result["overhead_pct_median"] <= high
    assert result["overrides"] == ["model.llm.config.n_layer=1"]


@pytest.mark.slow
@pytest.mark.subprocess
def test_tasks_stream_reports_every_task(tmp_path):
    out, md = tmp_path / "stream.json", tmp_path / "stream.md"
    _run([str(ROOT / "bench" / "tasks_stream.py"), "--steps", "300", "--dense-every", "32", "--out", str(out), "--md", str(md)],
         tmp_path)
    result = json.loads(out.read_text())
    rows = {row["task"]: row for row in result["rows"]}
    assert set(rows) == set(TASKS) | {"gpt2_6layer_oad"}
    for name, row in rows.items():
        for key in ("units", "units_per_s", "latency_ms_p50", "latency_ms_p99", "first_answer_ms"):
            assert _positive(row[key]), (name, key, row[key])
        assert row["latency_ms_p50"] <= row["latency_ms_p99"]
        assert _finite(row["peak_rss_growth_mb"]) and row["peak_rss_growth_mb"] >= 0, name
    for name in ("online_caption", "dense_caption"):
        assert _positive(rows[name]["caption_tokens_per_s"]) and rows[name]["caption_tokens"] > 0, name
    assert rows["nlq"]["query"] and rows["qvhighlights"]["query"]
    assert rows["anticipation"]["units"] == 150 and rows["action_segmentation"]["units"] == 30  # units of 2 and 10 steps
    assert rows["oad"]["context"] is None and rows["lta"]["context"] == {"window": 256, "sink": 4}  # 300 > 256 positions
    table = md.read_text().splitlines()
    assert len(table) == 2 + len(rows) and all(line.startswith("|") for line in table)


@pytest.mark.slow
@pytest.mark.subprocess
def test_study_bench_reports_the_overhead_per_run(tmp_path):
    tiny = tmp_path / "tiny.yaml"
    tiny.write_text("study: tiny\nbase: {oad: %s}\ndata_root: %s\noptions: {train.max_steps: 3, train.eval_every: 3}\n"
                    "axes: {seed: [0, 1]}\n" % (ROOT / "examples" / "oad.yaml", ROOT))
    proc = _run([str(ROOT / "bench" / "study.py"), "--runs", "2", "--steps", "3", "--study", str(tiny), "--keep", str(tmp_path / "kept")],
                tmp_path)
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    over = result["overhead"]
    assert over["runs"] == 2 and _positive(over["run_training_s_mean"]) and _positive(over["study_wall_s"])
    assert _finite(over["overhead_s_per_run"]) and _finite(over["overhead_pct_of_run"])
    par = result["parallel"]
    assert par["runs"] == 2 and _positive(par["jobs1_wall_s"]) and _positive(par["jobs2_wall_s"]) and _positive(par["speedup"])
    assert (tmp_path / "kept" / "results.md").is_file()

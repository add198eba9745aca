"""Every task example on demo videos longer than its LLM's position table: a clear error (exit 2
from the CLI) naming the length, the limit and ``model.context`` without a policy; training and
evaluation once ``model.context`` is set."""
from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from videollm_core import load_config
from videollm_core.errors import ConfigError
from videollm_core.engine.runner import Runner

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "examples").glob("*.yaml"))
TABLE = 8  # positions of the shrunk GPT-2 table: every demo sample's stream is longer (clips included)


@pytest.fixture(scope="module")
def demo_cache(tmp_path_factory):
    path = tmp_path_factory.mktemp("demo-cache")
    old = os.environ.get("VIDEOLLM_CACHE")
    os.environ["VIDEOLLM_CACHE"] = str(path)
    yield path
    if old is None:
        os.environ.pop("VIDEOLLM_CACHE", None)
    else:
        os.environ["VIDEOLLM_CACHE"] = old


def _cfg(path: Path, work: Path, **extra) -> dict:
    return load_config(path, {"work_dir": str(work), "model.llm.config.n_positions": TABLE, "train.max_steps": 2,
                              "train.eval_every": 2, "train.log_every": 1000, **extra})


@pytest.mark.slow
@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_example_longer_than_the_table_needs_and_runs_with_a_context(path, tmp_path, demo_cache):
    with pytest.raises(ConfigError) as err:
        Runner(_cfg(path, tmp_path / "plain")).train()
    text = err.value.render()
    assert f"at most {TABLE}" in text and "model.context" in text and "positions long" in text
    metrics = Runner(_cfg(path, tmp_path / "bounded", **{"model.context": {"window": TABLE, "sink": 4}})).train()
    assert metrics and all(math.isfinite(v) for v in metrics.values() if isinstance(v, float)), metrics


@pytest.mark.subprocess
def test_cli_exits_2_with_the_message(tmp_path, demo_cache):
    cmd = [str(Path(sys.executable).parent / "videollm-run"), str(ROOT / "examples" / "action_segmentation.yaml"), "--cfg-options",
           "model.llm.config.n_positions=24", f"work_dir={tmp_path / 'w'}", "train.max_steps=1"]
    proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ}, timeout=600)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr and "IndexError" not in proc.stderr
    assert "at most 24" in proc.stderr and "model.context" in proc.stderr

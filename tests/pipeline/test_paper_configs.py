"""Paper-scale configs build on the meta device, offline, with the paper's trainable budget."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest


ROOT = Path(__file__).resolve().parents[2]
PAPER = ROOT / "examples" / "paper"


@pytest.mark.subprocess
def test_opt_1_3b_basic_tuning_dry_run_offline():
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    script = Path(sys.executable).with_name("videollm-run")
    out = subprocess.run([str(script), str(PAPER / "oad_opt-1.3b_basic.yaml"), "--dry-run", "--json"],
                         capture_output=True, text=True, env=env, cwd=ROOT, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    report = json.loads(out.stdout[out.stdout.index("{"):])
    assert report["total"] > 1.3e9
    assert 2e6 <= report["trainable"] <= 15e6
    assert report["components"]["llm"]["trainable"] == 0


@pytest.mark.parametrize("stem", ["oad_gpt2-xl_lora", "oad_t5-large-decoder_prefix", "oad_opt-350m_basic", "oad_llama-7b_lora"])
def test_paper_configs_build_on_meta(stem):
    from videollm_core.cli import dry_run
    from videollm_core.config import load_config, validate_config

    cfg = load_config(PAPER / f"{stem}.yaml")
    validate_config(cfg)
    report = dry_run(cfg)
    llm = report["components"]["llm"]
    assert llm["total"] > 5e7
    if "basic" in stem:
        assert llm["trainable"] == 0
    else:
        assert 0 < llm["trainable"] < 0.02 * llm["total"]

"""The paper's grid (``examples/paper/<task>/<family>_<scheme>.yaml``): generated, valid, complete
head sizes, built on the meta device offline with the right trainable LLM parameters per tuning
scheme, and listed exactly in ``docs/paper-configs.md``."""
from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from videollm_core.config import load_config
from videollm_core.validation import validate_config

ROOT = Path(__file__).resolve().parents[2]
PAPER = ROOT / "examples" / "paper"


def _generator():
    spec = importlib.util.spec_from_file_location("paper_generate", PAPER / "generate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


GEN = _generator()
CONFIGS = sorted(p for p in PAPER.rglob("*.yaml") if p.name != "_base_.yaml" and p.parent != PAPER)  # the grid, per task folder
#: one config per task x scheme, the LLM family rotating so every family is built somewhere.
SAMPLE = [PAPER / task / f"{list(GEN.FAMILIES)[(i * len(GEN.SCHEMES) + j) % len(GEN.FAMILIES)]}_{scheme}.yaml"
          for i, task in enumerate(GEN.TASKS) for j, scheme in enumerate(GEN.SCHEMES)]


def test_the_folder_is_what_the_generator_writes():
    assert GEN.problems() == []
    assert len(CONFIGS) == len(GEN.TASKS) * len(GEN.FAMILIES) * len(GEN.SCHEMES) == 480
    assert {p.parent.name for p in CONFIGS} == set(GEN.TASKS)
    assert set(GEN.SCHEMES) == {"basic", "partial-first", "partial-last", "lora", "prefix"}
    assert {f"{a}.json" for a in ("gpt2", "gpt2-medium", "gpt2-large", "gpt2-xl", "opt-125m", "opt-350m", "opt-1.3b",
                                  "opt-2.7b", "opt-6.7b", "t5-small", "t5-base", "t5-large", "llama-7b")} == \
        {p.name for p in (ROOT / "plugins" / "llms" / "architectures").glob("*.json")}
    for path in CONFIGS:
        first = path.read_text(encoding="utf-8").splitlines()[0]
        assert first.startswith("# ") and GEN.TASKS[path.parent.name] in first, path


def test_every_paper_config_validates():
    for path in CONFIGS:
        validate_config(load_config(path))


@pytest.mark.parametrize("task", list(GEN.TASKS))
def test_every_head_size_is_in_the_config(task):
    """What the dataset would supply (``provides_head_args``) and every required head argument is given,
    so the heads build without data exactly as they would with it."""
    from videollm_core import REGISTRIES
    from videollm_core.validation import task_specs
    from videollm_core.head_args import missing_head_args

    cfg = load_config(PAPER / task / "gpt2_basic.yaml")
    (spec,) = task_specs(cfg)
    assert missing_head_args(spec, REGISTRIES) == []
    for split in ("train", "val"):
        provides = REGISTRIES.datasets.get(spec.data[split]["type"]).provides_head_args
        assert set(provides) <= set(spec.head), (split, provides)
        assert str(spec.data[split].get("annotations") or spec.data[split].get("annotation_file")
                   or spec.data[split].get("data_root")).startswith("data/")


@pytest.mark.parametrize("path", SAMPLE, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_paper_config_builds_on_meta_with_the_schemes_trainable_llm(path):
    from videollm_core.engine.parameters import count_parameters
    from videollm_core.head_args import resolve_head_args as dry_run_head_args
    from videollm_core.pipeline import build_pipeline
    from videollm_core.plugins import REGISTRIES
    from videollm_plugins.tuning.basic import decoder_blocks

    cfg = load_config(path)
    validate_config(cfg)
    pipeline = build_pipeline(cfg, head_args=dry_run_head_args(cfg, REGISTRIES), device="meta")
    report = count_parameters(pipeline)
    llm, scheme = report["components"]["llm"], path.stem.rsplit("_", 1)[1]
    assert llm["total"] > 3e7
    assert report["components"]["translator"]["trainable"] > 0
    if scheme == "basic":
        assert llm["trainable"] == 0
    elif scheme.startswith("partial"):
        blocks = list(decoder_blocks(pipeline.llm.model))
        block = blocks[0] if scheme == "partial-first" else blocks[-1]
        trained = {id(p) for p in pipeline.llm.parameters() if p.requires_grad}
        assert trained == {id(p) for p in block.parameters()}
        assert llm["trainable"] == sum(p.numel() for p in block.parameters())
    else:
        assert 0 < llm["trainable"] < 0.02 * llm["total"]
        assert all("lora_" in n or "prompt_encoder" in n for n, p in pipeline.llm.named_parameters() if p.requires_grad)


def test_the_parameter_table_lists_exactly_the_configs():
    page = (ROOT / "docs" / "paper-configs.md").read_text(encoding="utf-8")
    listed = re.findall(r"^\| `([\w.-]+/[\w.-]+)` \|", page, re.M)
    assert len(listed) == len(set(listed))
    assert set(listed) == {f"{p.parent.name}/{p.stem}" for p in CONFIGS}, "run python bench/params.py"
    rows = [line.split(" | ") for line in page.splitlines() if re.match(r"^\| `[\w.-]+/", line)]
    for row in rows:  # every entry outside 2M-15M says why
        trainable = float(row[2].rstrip("M").replace(",", "")) * 1e6
        verdict = row[-1].rstrip(" |")
        assert verdict == "in range" if 2e6 <= trainable <= 15e6 else verdict.startswith(("below: ", "above: ")), row


def test_the_narrower_studies_are_listed_with_their_counts():
    from videollm_core.study.plan import plan_runs
    from videollm_core.study.spec import read_study

    page = (ROOT / "docs" / "paper-configs.md").read_text(encoding="utf-8")
    for name in ("paper_tuning", "paper_scaling", "paper_encoder"):
        ids = {run.id for run in plan_runs(read_study(ROOT / "examples" / "study" / f"{name}.yaml"))}
        rows = {m.group(1): m.group(0) for m in re.finditer(rf"^\| `{name}: ([^`]+)` \|.*$", page, re.M)}
        assert set(rows) == ids, f"{name}: run python bench/params.py --studies-only"
        for row in rows.values():
            cells = row.split(" | ")
            trainable, verdict = float(cells[2].rstrip("M").replace(",", "")) * 1e6, cells[-1].rstrip(" |")
            assert verdict == "in range" if 2e6 <= trainable <= 15e6 else verdict.startswith(("below: ", "above: ")), row
    for run in ("tuner=bitfit", "tuner=prompt-r4", "tuner=lora-r16", "tuner=prefix-r4", "llm=opt-6.7b", "llm=t5-base-encoder"):
        assert run in page, run


@pytest.mark.subprocess
def test_opt_1_3b_basic_tuning_dry_run_offline():
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    script = Path(sys.executable).with_name("videollm-run")
    out = subprocess.run([str(script), str(PAPER / "oad" / "opt-1.3b_basic.yaml"), "--dry-run", "--no-data", "--json"],
                         capture_output=True, text=True, env=env, cwd=ROOT, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    report = json.loads(out.stdout[out.stdout.index("{"):])
    assert report["total"] > 1.3e9
    assert 2e6 <= report["trainable"] <= 15e6
    assert report["components"]["llm"]["trainable"] == 0


def test_the_paper_multitask_config_shares_one_llm_over_eight_widths(capsys):
    """examples/paper/multitask.yaml (RQ3 on the released features): the eight bases as the tasks of
    one model, each with its own encoder and translator, planned offline on the meta device."""
    from videollm_core.cli.commands import run_main
    from videollm_core.validation import task_specs

    cfg = load_config(PAPER / "multitask.yaml")
    validate_config(cfg)
    specs = task_specs(cfg)
    assert [s.name for s in specs] == list(GEN.TASKS)
    assert len({s.encoder["in_dim"] for s in specs}) >= 3  # EgoVLP 256, SlowFast+CLIP 2816, Breakfast I3D 2048
    assert {s.name for s in specs if s.query_position == "after"} == {"nlq", "qvhighlights"}
    assert run_main([str(PAPER / "multitask.yaml"), "--dry-run", "--no-data", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    parts = report["components"]
    assert parts["llm"]["total"] > 1e9 and parts["llm"]["trainable"] == 0
    assert {f"translator.{t}" for t in GEN.TASKS} <= set(parts) and "translator" not in parts

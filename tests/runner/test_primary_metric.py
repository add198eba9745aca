"""``train.primary_metric``: the validation score that picks the best checkpoint, checked before anything runs."""
from __future__ import annotations

from pathlib import Path

import pytest

from videollm_core.cli.commands import run_main
from videollm_core.config import load_config
from videollm_core.plugins import REGISTRIES
from videollm_core.validation import primary_metric

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("wanted, expected", [
    ("oad/action/mean_top5_recall", ("oad/action/mean_top5_recall", True)),
    ("action/mean_top5_recall", ("oad/action/mean_top5_recall", True)),  # a key of the first (only) task
    ("mAP", ("oad/mAP", True)),
])
def test_resolved_with_the_metric_direction(wanted, expected):
    cfg = load_config(ROOT / "examples" / "oad.yaml", {"train.primary_metric": wanted})
    assert primary_metric(cfg, REGISTRIES) == (expected, [])


def test_a_task_of_a_multitask_config_and_its_direction():
    cfg = load_config(ROOT / "examples" / "multitask.yaml", {"train.primary_metric": "qvhighlights/HL-min-VeryGood-mAP"})
    assert primary_metric(cfg, REGISTRIES)[0] == ("qvhighlights/HL-min-VeryGood-mAP", True)
    cfg = load_config(ROOT / "examples" / "lta.yaml", {"train.primary_metric": "ED@20/noun"})
    assert primary_metric(cfg, REGISTRIES)[0] == ("lta/ED@20/noun", False)  # an edit distance: lower is better


def test_unknown_key_exits_2_naming_the_metric_keys(capsys):
    code = run_main([str(ROOT / "examples" / "oad.yaml"), "--dry-run", "--no-data", "--cfg-options", "train.primary_metric=oad/top5"])
    err = capsys.readouterr().err
    assert code == 2 and "train.primary_metric" in err and "has no key 'top5'" in err
    assert "oad/action/mean_top5_recall" in err and "oad/mAP" in err and "Traceback" not in err


def test_the_runner_picks_the_best_checkpoint_by_it(tmp_path, monkeypatch):
    from videollm_core.engine.runner import Runner

    monkeypatch.setenv("VIDEOLLM_CACHE", str(tmp_path / "cache"))
    cfg = load_config(ROOT / "examples" / "oad.yaml", {"train.max_steps": 4, "train.eval_every": 2, "train.warmup_steps": 1,
                                                        "train.primary_metric": "oad/verb/mean_top5_recall"})
    runner = Runner(cfg, work_dir=tmp_path / "work")
    runner.train()
    assert runner.best["key"] == "oad/verb/mean_top5_recall"
    vals = [r for r in runner.history if r.get("split") == "val"]
    assert runner.best["value"] == max(r["oad/verb/mean_top5_recall"] for r in vals)

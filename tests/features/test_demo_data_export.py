"""`videollm demo-data TASK --out DIR`: the demo files in their benchmark's layout plus a config without demo:."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from videollm_core.cli.commands import main
from videollm_core.config import load_config
from videollm_core.validation import validate_config
from videollm_core.features import expected_feature_dim
from videollm_core.plugins import REGISTRIES
from videollm_core.validation import task_specs

TASKS = ("action_segmentation", "anticipation", "dense_caption", "lta", "moment_query", "nlq", "oad", "online_caption", "qvhighlights")
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _datasets(cfg) -> dict[str, object]:
    dim = expected_feature_dim(cfg)
    return {split: REGISTRIES.datasets.build(dcfg, where=split, default_args={"feature_dim": dim, "on_error": "raise"})
            for spec in task_specs(cfg) for split, dcfg in spec.data.items()}


@pytest.mark.parametrize("task", TASKS)
def test_exported_config_reads_the_same_data_without_demo(task, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("VIDEOLLM_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "out"
    assert main(["demo-data", task, "--out", str(out)]) == 0
    assert str(out / "config.yaml") in capsys.readouterr().out
    text = (out / "config.yaml").read_text()
    assert "demo:" not in text and str(tmp_path / "cache") not in text
    cfg = load_config(out / "config.yaml")
    validate_config(cfg)
    exported, demo = _datasets(cfg), _datasets(load_config(EXAMPLES / f"{task}.yaml"))
    assert exported.keys() == demo.keys()
    for split, ds in exported.items():
        assert len(ds) == len(demo[split]) > 0
        first, expected = ds[0], demo[split][0]
        np.testing.assert_array_equal(first["features"], expected["features"])
        np.testing.assert_array_equal(first["timestamps"], expected["timestamps"])


def test_unknown_task_is_an_error(tmp_path, capsys):
    assert main(["demo-data", "no_such_task", "--out", str(tmp_path)]) == 2
    assert "no example config for task 'no_such_task'" in capsys.readouterr().err

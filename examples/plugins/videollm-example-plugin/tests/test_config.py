"""The plugin as videollm-core sees it: entry point, config validation, a short training run."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

CONFIG = Path(__file__).resolve().parents[1] / "configs" / "example.yaml"


@pytest.fixture
def manager(monkeypatch, tmp_path):
    """The process-wide plugin manager, loaded afresh (entry points included), demo cache in tmp."""
    from videollm_core.plugins import configure_plugins

    monkeypatch.setenv("VIDEOLLM_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("VIDEOLLM_DISABLE_PLUGIN_AUTOLOAD", raising=False)
    manager = configure_plugins()
    manager.load()
    return manager


def test_entry_point_loads(manager):
    info = manager.infos.get("example")
    assert info is not None, "install the package first: pip install -e ."
    assert info.status == "loaded" and info.api == ">=2.1,<3"
    assert info.registered == {"encoders": ["ExampleEncoder"], "translators": ["ExampleTranslator"],
                               "heads": ["ExampleHead"], "datasets": ["ExampleDataset"], "metrics": ["example"]}


def test_example_yaml_trains(manager, tmp_path):
    from videollm_core.config import load_config
    from videollm_core.validation import validate_config
    from videollm_core.engine.runner import Runner

    cfg = load_config(CONFIG, [f"work_dir={tmp_path / 'work'}"])
    validate_config(cfg)
    Runner(cfg).train()
    records = [json.loads(line) for line in (tmp_path / "work" / "metrics.jsonl").read_text().splitlines()]
    final = [r for r in records if r.get("split") == "val"][-1]
    # chance: 3 balanced classes, ~33 %; the demo's prototypes make it learnable
    assert final["example/accuracy"] > 80.0
    predictions = (tmp_path / "work" / "predictions" / "example_val.csv").read_text().splitlines()
    assert predictions[0] == "video_id,start,end,label" and len(predictions) > 8

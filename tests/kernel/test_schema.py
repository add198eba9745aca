"""`videollm schema`: a JSON Schema of the config that editors use; it validates every config
under `examples/` and rejects a misspelt key, with the components of every installed plugin and the
keys plugins declare (issue 25)."""
from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path

import pytest
import yaml

from videollm_core.cli.commands import main
from videollm_core.cli.schema import config_schema
from videollm_core.plugins import PluginManager
from videollm_core.registry import Registries

jsonschema = pytest.importorskip("jsonschema")

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE_PLUGIN = ROOT / "examples" / "plugins" / "videollm-example-plugin"
#: YAML under examples/ that is not a videollm config: accelerate's launch configs and study files (own format).
NOT_CONFIGS = ("accelerate", "study")
CONFIGS = sorted(p for p in (ROOT / "examples").rglob("*.yaml") if p.relative_to(ROOT / "examples").parts[0] not in NOT_CONFIGS)


@pytest.fixture(scope="module")
def validator():
    """The schema of the built-in plugins plus the example third-party plugin (as if pip-installed)."""
    sys.path.insert(0, str(EXAMPLE_PLUGIN / "src"))
    try:
        registries = Registries()
        manager = PluginManager(registries)
        manager.load()
        info = manager.register(importlib.import_module("videollm_example_plugin.plugin"), name="example")
        assert info.status == "loaded", info.error
        schema = config_schema(registries)
    finally:
        sys.path.remove(str(EXAMPLE_PLUGIN / "src"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def test_every_example_config_validates(validator):
    assert len(CONFIGS) > 500  # the task examples, the paper grid, the plugin's config
    problems = {str(p.relative_to(ROOT)): [e.message for e in validator.iter_errors(yaml.safe_load(p.read_text()))] for p in CONFIGS}
    assert {p: m for p, m in problems.items() if m} == {}


@pytest.mark.parametrize("path, value, where", [
    ("train.learning_rate", 1e-3, ["train"]),                    # a misspelt train key
    ("model.encoder.in_dims", 32, ["model", "encoder"]),         # a misspelt argument of the chosen class
    ("modle", {}, []),                                           # a misspelt section
    ("model.translator.type", "LinaerTranslator", ["model", "translator", "type"]),  # an unknown component
    ("train.lr", "fast", ["train", "lr"]),                       # a value the rule refuses
])
def test_a_mistake_is_rejected_where_it_is(validator, path, value, where):
    cfg = yaml.safe_load((ROOT / "examples" / "oad.yaml").read_text())
    node, *keys, last = [cfg, *path.split(".")]
    for key in keys:
        node = node[key]
    node[last] = value
    errors = list(validator.iter_errors(cfg))
    assert errors and any(list(e.absolute_path)[: len(where)] == where for e in errors), [e.message for e in errors]


def test_the_command_writes_it_with_plugin_keys(tmp_path, capsys):
    assert main(["schema", "--out", str(tmp_path / "videollm.schema.json")]) == 0
    schema = json.loads((tmp_path / "videollm.schema.json").read_text())
    train = schema["properties"]["train"]["properties"]
    assert "early_stopping" in train  # a plugin's key; a built-in one with its rule, default and meaning:
    assert train["lr"] == {"type": "number", "exclusiveMinimum": 0, "default": 1e-3, "description": "peak learning rate"}
    assert "SegmentQueryHead" in schema["properties"]["model"]["properties"]["head"]["properties"]["type"]["enum"]
    assert main(["schema"]) == 0 and json.loads(capsys.readouterr().out.split("\n", 1)[1])["title"] == "videollm-core config"


def test_the_docs_table_of_train_keys_lists_each_declared_key():
    """`train:` keys are declared once (`TrainConfig`); the page a user reads must not drift from it."""
    import dataclasses

    from videollm_core.sections import TrainConfig

    section = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8").split("## The `train:` section")[1].split("\n## ")[0]
    missing = [f.name for f in dataclasses.fields(TrainConfig) if f"`{f.name}`" not in section]
    assert not missing, f"docs/configuration.md's train: table lacks {missing}"

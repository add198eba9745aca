"""`videollm new-plugin`: names, refusals, and a generated package that installs, loads, tests and runs."""
from __future__ import annotations

import ast
import json
import os

import pytest

from videollm_core import ConfigError, PLUGIN_API_VERSION
from videollm_core.cli.commands import main as videollm
from videollm_core.cli.scaffold import PluginNames, api_range, new_plugin, render
from videollm_docs_install import bin_path, install_and_list, run


def test_names_derive_from_the_distribution_name():
    assert PluginNames.from_name("videollm-gated") == PluginNames("videollm-gated", "videollm_gated", "gated", "Gated")
    assert PluginNames.from_name("My_Cool-plugin") == PluginNames("my-cool-plugin", "my_cool_plugin", "my_cool", "MyCool")
    assert PluginNames.from_name("videollm-example-plugin") == PluginNames("videollm-example-plugin", "videollm_example_plugin",
                                                                           "example", "Example")
    assert PluginNames.from_name("plugin").plugin == "plugin" and PluginNames.from_name("videollm_plugin").plugin == "plugin"
    assert PluginNames.from_name("videollm") == PluginNames("videollm", "videollm", "videollm", "Videollm")
    for bad in ("9lives", "a/b", "../x", "", "x-", "with space"):
        with pytest.raises(ConfigError, match="invalid plugin name"):
            PluginNames.from_name(bad)


def test_api_range_covers_this_version_up_to_the_next_major():
    from packaging.specifiers import SpecifierSet

    assert api_range("1.0") == ">=1.0,<2" and api_range("2.3") == ">=2.3,<3"
    assert PLUGIN_API_VERSION in SpecifierSet(api_range())


def test_rendered_skeleton_is_valid_python_toml_and_yaml():
    import tomllib

    import yaml

    files = render(PluginNames.from_name("videollm-gated"))
    assert {"pyproject.toml", "README.md", "configs/example.yaml", "src/videollm_gated/plugin.py", "tests/test_config.py"} <= set(files)
    for path, text in files.items():
        assert "${" not in text and "$" not in path and "__module__" not in path and not path.endswith(".tmpl"), path
        if path.endswith(".py"):
            tree = ast.parse(text, filename=path)
            # the package imports videollm_core by name: nothing relative above its own package
            assert all(node.level <= 1 for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)), path
    meta = tomllib.loads(files["pyproject.toml"])
    assert meta["project"]["name"] == "videollm-gated"
    assert meta["project"]["entry-points"]["videollm"] == {"gated": "videollm_gated.plugin"}
    assert f'VIDEOLLM_API = "{api_range()}"' in files["src/videollm_gated/plugin.py"]
    config = yaml.safe_load(files["configs/example.yaml"])
    assert config["model"]["encoder"]["type"] == "gated:GatedEncoder" and config["metric"] == {"type": "gated"}


def test_refuses_to_overwrite_without_force(tmp_path, capsys):
    root = new_plugin("videollm-gated", tmp_path)
    (root / "README.md").write_text("mine")
    with pytest.raises(ConfigError, match="already exists"):
        new_plugin("videollm-gated", tmp_path)
    assert videollm(["new-plugin", "videollm-gated", "--dest", str(tmp_path)]) == 2
    assert "already exists" in capsys.readouterr().err
    assert videollm(["new-plugin", "videollm-gated", "--dest", str(tmp_path), "--force"]) == 0
    assert (root / "README.md").read_text() != "mine"


@pytest.mark.subprocess
def test_generated_plugin_installs_loads_passes_its_tests_and_runs(tmp_path):
    made = run([bin_path("videollm"), "new-plugin", "videollm-docsgen", "--dest", str(tmp_path / "src")], dict(os.environ), tmp_path)
    assert made.returncode == 0, made.stderr[-3000:]
    root = tmp_path / "src" / "videollm-docsgen"
    assert f"wrote plugin 'docsgen' (package videollm-docsgen, module videollm_docsgen) to {root}" in made.stdout
    env, info = install_and_list(root, tmp_path, "docsgen")
    assert (info["status"], info["builtin"], info["distribution"], info["api"]) == ("loaded", False, "videollm-docsgen", api_range())
    assert info["registered"] == {"encoders": ["DocsgenEncoder"], "translators": ["DocsgenTranslator"], "heads": ["DocsgenHead"],
                                  "datasets": ["DocsgenDataset"], "metrics": ["docsgen"]}

    tests = run([bin_path("python"), "-m", "pytest", "-q", "-p", "no:cacheprovider", str(root / "tests")], env, root)
    assert tests.returncode == 0 and "9 passed" in tests.stdout, tests.stdout[-3000:] + tests.stderr[-3000:]

    work = tmp_path / "work"
    trained = run([bin_path("videollm-run"), str(root / "configs" / "example.yaml"), "--work-dir", str(work),
                   "--cfg-options", "train.max_steps=4", "train.eval_every=4"], env, tmp_path)
    assert trained.returncode == 0, trained.stderr[-3000:]
    records = [json.loads(line) for line in (work / "metrics.jsonl").read_text().splitlines()]
    assert any("docsgen/accuracy" in r for r in records)
    assert (work / "predictions" / "docsgen_val.csv").read_text().startswith("video_id,start,end,label")

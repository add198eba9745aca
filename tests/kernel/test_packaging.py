"""Real installs: a throwaway third-party plugin package, and the project's own wheel outside the tree.

Both are ``pip install --target`` into a temporary directory put on ``PYTHONPATH`` of
subprocesses, so the shared virtualenv is never modified (entry points are found
through the installed ``*.dist-info`` exactly as for a venv install).
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.subprocess

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent

EXT_PLUGIN = '''
"""extplug: a third-party translator and head."""
from torch import nn

import videollm_core


class ExtTranslator(videollm_core.Translator):
    """Third-party linear translator."""

    def __init__(self, in_dim: int, out_dim: int):
        super().__init__(in_dim, out_dim)
        self.proj = nn.Linear(in_dim, out_dim)

    def forward(self, tokens):
        return videollm_core.TokenSequence(self.proj(tokens.embeds), tokens.mask, tokens.spans)


class ExtHead(videollm_core.TaskHead):
    """Third-party per-unit classifier."""

    def __init__(self, in_dim: int, num_classes: int):
        super().__init__(in_dim)
        self.fc = nn.Linear(in_dim, num_classes)

    def forward(self, hidden, batch, stream):
        return {"logits": self.fc(hidden)}

    def loss(self, outputs, batch):
        return {"loss": outputs["logits"].square().mean()}

    def predict(self, outputs, batch):
        return [{"video_id": m.get("video_id")} for m in batch.meta]


@videollm_core.hookimpl
def videollm_register(registries):
    registries.translators.register_module(name="ExtTranslator", module=ExtTranslator)
    registries.heads.register_module(name="ExtHead", module=ExtHead)
'''

EXT_PYPROJECT = '''
[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "videollm-extplug"
version = "0.3.1"

[project.entry-points.videollm]
extplug = "extplug.plugin"
extbroken = "extplug.broken"

[tool.setuptools]
packages = ["extplug"]
'''

EXT_CONFIG = '''
model:
  encoder: {type: TemporalUnitEncoder, in_dim: 16, unit_size: 2}
  translator: {type: ExtTranslator}
  llm: {type: HFCausalLM, config: {model_type: gpt2, n_layer: 2, n_embd: 32, n_head: 2, vocab_size: 100, bos_token_id: null, eos_token_id: null}}
  tuner: {type: Frozen}
  head: {type: ExtHead, num_classes: 5}
'''


def pip_install_target(source: Path, target: Path) -> None:
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "--no-index", "--target", str(target), str(source)],
                   check=True, capture_output=True, text=True)


def run_cli(tool: str | Path, args: list[str], pythonpath: Path, cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIDEOLLM_")}
    env["PYTHONPATH"] = str(pythonpath)
    return subprocess.run([str(tool), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def extplug(tmp_path_factory) -> Path:
    """Build and install the throwaway package; returns its install directory."""
    tmp = tmp_path_factory.mktemp("extplug")
    src = tmp / "src"
    (src / "extplug").mkdir(parents=True)
    (src / "pyproject.toml").write_text(EXT_PYPROJECT)
    (src / "extplug" / "__init__.py").write_text("")
    (src / "extplug" / "plugin.py").write_text(EXT_PLUGIN)
    (src / "extplug" / "broken.py").write_text("import videollm_extplug_missing_dependency  # noqa: F401\n")
    site = tmp / "site"
    pip_install_target(src, site)
    assert any(p.name.startswith("videollm_extplug-0.3.1") for p in site.glob("*.dist-info"))
    return site


def test_installed_plugin_is_listed_and_a_broken_one_isolated(extplug, tmp_path):
    res = run_cli(BIN / "videollm", ["plugins", "--json"], extplug, tmp_path)
    assert res.returncode == 0, res.stderr
    infos = {p["name"]: p for p in json.loads(res.stdout)}
    ext = infos["extplug"]
    assert (ext["status"], ext["distribution"], ext["version"], ext["builtin"]) == ("loaded", "videollm-extplug", "0.3.1", False)
    assert ext["registered"] == {"translators": ["ExtTranslator"], "heads": ["ExtHead"]}
    broken = infos["extbroken"]
    assert broken["status"] == "failed" and "videollm_extplug_missing_dependency" in broken["error"]
    assert all(p["status"] == "loaded" for p in infos.values() if p["builtin"])
    res = run_cli(BIN / "videollm", ["list", "heads", "ExtHead"], extplug, tmp_path)
    assert res.returncode == 0 and "num_classes: int (required)" in res.stdout
    res = run_cli(BIN / "videollm", ["list", "--strict-plugins"], extplug, tmp_path)
    assert res.returncode == 2 and "plugin 'extbroken' failed" in res.stderr and "Traceback" not in res.stderr


def test_config_with_plugin_names_builds_and_blocking_exits_2(extplug, tmp_path):
    cfg = tmp_path / "ext.yaml"
    cfg.write_text(EXT_CONFIG)
    res = run_cli(BIN / "videollm-run", [str(cfg), "--dry-run", "--json"], extplug, tmp_path)
    assert res.returncode == 0, res.stderr
    llm = 100 * 32 + 1024 * 32 + 2 * (4 * 32 + 32 * 96 + 96 + 32 * 32 + 32 + 32 * 128 + 128 + 128 * 32 + 32) + 2 * 32  # GPT-2
    assert json.loads(res.stdout) == {
        "components": {
            "encoder": {"total": 0, "trainable": 0},  # mean pooling of units
            "text_encoder": {"total": 0, "trainable": 0},  # the LLM's own embeddings
            "translator": {"total": 16 * 32 + 32, "trainable": 16 * 32 + 32},  # ExtTranslator: Linear(16 -> 32)
            "llm": {"total": llm, "trainable": 0},  # Frozen
            "head.task": {"total": 32 * 5 + 5, "trainable": 32 * 5 + 5},  # ExtHead: Linear(32 -> 5)
        },
        "total": llm + 16 * 32 + 32 + 32 * 5 + 5,
        "trainable": 16 * 32 + 32 + 32 * 5 + 5,
    }
    res = run_cli(BIN / "videollm-run", [str(cfg), "--dry-run", "-p", "no:extplug"], extplug, tmp_path)
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert "model.translator.type" in res.stderr and "extplug (blocked (-p no:extplug))" in res.stderr


def test_built_wheel_works_outside_the_source_tree(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", "*.pyc")
    for name in ("pyproject.toml", "setup.py", "README.md"):
        shutil.copy2(ROOT / name, src / name)
    for name in ("videollm_core", "plugins"):
        shutil.copytree(ROOT / name, src / name, ignore=ignore)
    wheels = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "--no-index", "-w", str(wheels), str(src)],
                   check=True, capture_output=True, text=True)
    (wheel,) = wheels.glob("videollm_core-*.whl")
    site = tmp_path / "site"
    pip_install_target(wheel, site)
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    code = "import videollm_core, videollm_plugins; print(videollm_core.__file__); print(videollm_plugins.__file__)"
    res = run_cli(sys.executable, ["-c", code], site, outside)
    assert res.returncode == 0, res.stderr
    for line in res.stdout.split():
        assert Path(line).resolve().is_relative_to(site.resolve()), line
    res = run_cli(site / "bin" / "videollm", ["plugins", "--json"], site, outside)
    assert res.returncode == 0, res.stderr
    builtins = [p for p in json.loads(res.stdout) if p["builtin"]]
    assert builtins and all(p["status"] == "loaded" and p["distribution"] == "videollm-core" for p in builtins)
    res = run_cli(site / "bin" / "videollm", ["list", "--json"], site, outside)
    assert res.returncode == 0 and json.loads(res.stdout)["translators"]

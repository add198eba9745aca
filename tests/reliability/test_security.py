"""Issue "Reliability" 5: what a config (or a checkpoint) may make the framework do.

Configs are plain YAML data; a ``type:`` never imports; checkpoints load through
safetensors or ``torch.load(weights_only=True)``; ``trust_remote_code`` is off unless set,
and warns when set; a run writes only into its work dir and the demo cache.
"""
from __future__ import annotations

import ast
import inspect
import logging
import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from mutations import ROOT
from videollm_core.config import _UniqueKeyLoader, load_config
from videollm_core.validation import validate_config
from videollm_core.errors import ConfigError

SOURCE_DIRS = (ROOT / "videollm_core", ROOT / "plugins")


def _python_files() -> list[Path]:
    return [p for d in SOURCE_DIRS for p in sorted(d.rglob("*.py"))]


def _calls(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            owner = func.value.id if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) else None
            name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else None
            yield node, owner, name


def _kw(node: ast.Call, key: str):
    for kw in node.keywords:
        if kw.arg == key:
            return kw.value.value if isinstance(kw.value, ast.Constant) else kw.value
    return None


def test_loader_is_a_safe_loader_and_refuses_duplicates(tmp_path):
    # libyaml's CSafeLoader where PyYAML has it, else SafeLoader: SafeConstructor either way, never a full/unsafe one
    assert issubclass(_UniqueKeyLoader, (yaml.SafeLoader, getattr(yaml, "CSafeLoader", yaml.SafeLoader)))
    assert issubclass(_UniqueKeyLoader, yaml.constructor.SafeConstructor)
    assert not issubclass(_UniqueKeyLoader, (yaml.constructor.FullConstructor, yaml.constructor.UnsafeConstructor))
    path = tmp_path / "dup.yaml"
    path.write_text("seed: 0\nmodel:\n  encoder: {type: A}\n  encoder: {type: B}\n")
    with pytest.raises(ConfigError, match=r"duplicate key 'encoder' \(first at line 3\)") as e:
        load_config(path)
    assert e.value.where == f"{path}:4:3"


@pytest.mark.parametrize("tag", ["!!python/object/apply:os.system ['touch {m}']", "!!python/object/new:os.system ['touch {m}']",
                                 "!!python/name:os.system", "!!python/module:os"])
def test_python_tags_are_refused_not_run(tag, tmp_path):
    marker = tmp_path / "PWNED"
    path = tmp_path / "c.yaml"
    path.write_text("seed: " + tag.format(m=marker) + "\n")
    with pytest.raises(ConfigError, match="invalid YAML") as e:
        load_config(path)
    assert str(path) in e.value.where and "!!python" in e.value.hint
    assert not marker.exists()


def test_a_type_is_never_imported(tmp_path, monkeypatch):
    """A module that would betray its import by writing a file, named in every role's ``type:``."""
    marker = tmp_path / "IMPORTED"
    (tmp_path / "evil_videollm_mod.py").write_text(f"open({str(marker)!r}, 'w').close()\nclass Thing: pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    cfg = load_config(ROOT / "examples" / "oad.yaml")
    for section in ("encoder", "translator", "llm", "tuner", "head"):
        cfg["model"][section]["type"] = "evil_videollm_mod.Thing"
    cfg["data"]["train"]["type"] = cfg["metric"]["type"] = "evil_videollm_mod.Thing"
    with pytest.raises(ConfigError) as e:
        validate_config(cfg)
    assert len(e.value.errors) == 7
    assert all("never an import path" in err.hint for err in e.value.errors)
    assert not marker.exists() and "evil_videollm_mod" not in sys.modules


def test_every_checkpoint_load_is_weights_only_and_nothing_unpickles():
    """Static scan of the kernel and the built-in plugins."""
    problems = []
    for path in _python_files():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node, owner, name in _calls(tree):
            here = f"{path.relative_to(ROOT)}:{node.lineno}"
            if owner == "torch" and name == "load" and _kw(node, "weights_only") is not True:
                problems.append(f"{here}: torch.load without weights_only=True")
            if owner == "pickle" and name in ("load", "loads"):
                problems.append(f"{here}: pickle.{name}")
            if owner == "yaml" and (name in ("unsafe_load", "full_load") or name == "load" and _kw(node, "Loader") is None):
                problems.append(f"{here}: yaml.{name} without a safe loader")
            if owner == "np" and name == "load" and _kw(node, "allow_pickle") is True:
                problems.append(f"{here}: np.load(allow_pickle=True)")
            if isinstance(node.func, ast.Name) and name in ("eval", "exec", "__import__"):
                problems.append(f"{here}: {name}()")
            if _kw(node, "trust_remote_code") is True:
                problems.append(f"{here}: trust_remote_code=True hard-coded")
    assert not problems, "\n".join(problems)
    loads = [n for p in _python_files() for n, o, name in _calls(ast.parse(p.read_text(encoding="utf-8"))) if o == "torch" and name == "load"]
    assert loads, "the scan found no torch.load at all: it is not looking at the code"


def test_trust_remote_code_is_off_unless_set_and_then_warns(caplog):
    from videollm_core.plugins import LLMS

    from videollm_plugins.llms.tokenizer import build_tokenizer

    for name in LLMS.names():
        params = inspect.signature(LLMS.get(name).__init__).parameters
        if "trust_remote_code" in params:
            assert params["trust_remote_code"].default is False, name
    assert inspect.signature(build_tokenizer).parameters["trust_remote_code"].default is False
    config = {"model_type": "gpt2", "n_layer": 1, "n_embd": 16, "n_head": 2, "vocab_size": 32, "n_positions": 16,
              "bos_token_id": None, "eos_token_id": None}
    with caplog.at_level(logging.WARNING, logger="videollm"):
        LLMS.build({"type": "HFCausalLM", "config": config}, where="model.llm")
    assert "trust_remote_code" not in caplog.text
    with caplog.at_level(logging.WARNING, logger="videollm"):
        LLMS.build({"type": "HFCausalLM", "config": config, "trust_remote_code": True}, where="model.llm")
    assert "trust_remote_code=True runs Python code" in caplog.text


class _Payload:
    """Unpickling it would create ``path``."""

    def __init__(self, path: Path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    """A 1-step run, then each pickle-based checkpoint file in turn replaced by a payload and
    resumed: ``{file name: the exception resuming raised, or None}`` and whether a payload ran."""
    import torch

    from videollm_core.engine import checkpoint as ckpt
    from videollm_core.engine.runner import Runner

    tmp = tmp_path_factory.mktemp("planted")
    cfg = load_config(ROOT / "examples" / "oad.yaml", ["train.max_steps=1", "train.eval_every=0", "train.log_every=1",
                                                        "data.train.demo.num_videos=4", "data.val.demo.num_videos=4"])
    Runner(cfg, work_dir=tmp / "work").train()
    step = ckpt.latest_checkpoint(tmp / "work" / "checkpoints")
    marker, outcomes = tmp / "PWNED", {}
    for target in sorted(p for p in step.iterdir() if p.suffix in (".bin", ".pt", ".pkl")):
        original = target.read_bytes()
        torch.save({"state": _Payload(marker)}, target)
        try:
            Runner(cfg, work_dir=tmp / "work").train(resume="auto")
            outcomes[target.name] = None
        except Exception as e:  # noqa: BLE001 - what kind is asserted below
            outcomes[target.name] = e
        target.write_bytes(original)
    return outcomes, marker.exists()


@pytest.mark.slow
def test_resume_never_unpickles_a_planted_payload(planted):
    """Optimizer, scheduler and generator states load with weights_only=True: the payload is refused."""
    outcomes, ran = planted
    assert not ran, "a pickled payload in a checkpoint ran"
    assert {"optimizer.bin", "scheduler.bin", "rng_state_0.pt"} <= set(outcomes)
    for name in ("optimizer.bin", "scheduler.bin", "rng_state_0.pt"):
        assert isinstance(outcomes[name], pickle.UnpicklingError) or "Weights only load failed" in str(outcomes[name]), name
    # accelerate's own random_states_0.pkl is read with weights_only=True inside a try/except: refused
    # with a logged warning, and the runner's rng_state_0.pt sets the generators anyway.
    assert outcomes.get("random_states_0.pkl") is None


@pytest.mark.slow
def test_a_refused_checkpoint_is_a_user_error_naming_the_file(planted):
    from videollm_core.errors import UserError

    outcomes, _ = planted
    for name in ("optimizer.bin", "scheduler.bin", "rng_state_0.pt"):
        assert isinstance(outcomes[name], UserError) and name in str(outcomes[name]), name


@pytest.mark.subprocess
def test_a_run_writes_only_into_its_work_dir(tmp_path):
    """A real training run (2 steps) from an empty current directory with its own $HOME."""
    cwd, home, cache, work = (tmp_path / d for d in ("cwd", "home", "cache", "work"))
    for d in (cwd, home):
        d.mkdir()
    env = {**os.environ, "HOME": str(home), "VIDEOLLM_CACHE": str(cache), "HF_HUB_OFFLINE": "1"}
    env.pop("XDG_CACHE_HOME", None), env.pop("MPLCONFIGDIR", None), env.pop("XDG_CONFIG_HOME", None)
    script = Path(sys.executable).with_name("videollm-run")
    proc = subprocess.run([str(script), str(ROOT / "examples" / "oad.yaml"), "--work-dir", str(work), "--cfg-options",
                           "train.max_steps=2", "train.eval_every=2", "train.save_every=1", "data.train.demo.num_videos=4",
                           "data.val.demo.num_videos=4"], cwd=str(cwd), env=env, capture_output=True, text=True, timeout=400)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert sorted(os.listdir(cwd)) == []
    assert (work / "config.yaml").is_file() and (work / "checkpoints").is_dir()
    assert (cache / "demo").is_dir()
    # third-party caches that libraries write under $HOME on import (see docs/reliability.md)
    third_party = {".cache/matplotlib", ".config/matplotlib", ".cache/YAPF"}
    written = {str(p.relative_to(home)) for p in home.rglob("*") if p.is_file() or not any(p.iterdir())}
    assert all(any(w == t or w.startswith(t + "/") for t in third_party) for w in written), written

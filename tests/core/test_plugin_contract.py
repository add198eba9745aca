"""The plugin contract as a third-party author meets it: the "write a plugin in 10 minutes"
example of docs/architecture.md builds and trains a step; components that forget to forward
the dimensions their base class needs still build, or fail with a message that names the
class, its plugin and the fix; essential built-ins cannot be blocked."""
from __future__ import annotations

import re
import types
from pathlib import Path

import pytest
import torch
from torch import nn

import videollm_core
from videollm_core import PluginError, TaskHead, Translator, VideoBatch, build_pipeline
from videollm_core.plugins import PluginManager, get_plugin_manager

ROOT = Path(__file__).resolve().parents[2]
LLM = {"type": "HFCausalLM", "config": {"model_type": "gpt2", "n_layer": 1, "n_embd": 16, "n_head": 2, "n_positions": 64,
                                         "vocab_size": 32}}


def _config(translator: dict, head: dict) -> dict:
    return {"model": {"encoder": {"type": "TemporalUnitEncoder", "in_dim": 8, "unit_size": 1}, "translator": translator,
                      "llm": LLM, "head": head, "text_encoder": None}}


def _register(name: str, *classes: type) -> None:
    module = types.ModuleType(name)

    def videollm_register(registries):
        for cls in classes:
            registries[{Translator: "translators", TaskHead: "heads"}[cls.__mro__[1]]].register_module(module=cls)

    module.videollm_register = videollm_core.hookimpl(videollm_register)
    info = get_plugin_manager().register(module, name=name)
    assert info.status == "loaded", info.error


def _batch(steps: int = 5) -> VideoBatch:
    start = torch.arange(steps, dtype=torch.float32)
    return VideoBatch(features=torch.randn(2, steps, 8), mask=torch.ones(2, steps, dtype=torch.bool),
                      timestamps=torch.stack([start, start + 1], -1).expand(2, steps, 2),
                      targets={"labels": torch.randint(0, 5, (2, steps))},
                      meta=[{"video_id": "a"}, {"video_id": "b"}])


def test_ten_minute_plugin_from_the_docs_builds_and_trains():
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    code = re.search(r"### Write a plugin in 10 minutes.*?```python\n(.*?)```", text, re.S).group(1)
    module = types.ModuleType("my_plugin")
    exec(compile(code, "docs/architecture.md", "exec"), module.__dict__)
    info = get_plugin_manager().register(module, name="my")
    assert info.status == "loaded" and info.registered == {"translators": ["GatedTranslator"], "heads": ["UnitHead"]}
    pipeline = build_pipeline(_config({"type": "GatedTranslator"}, {"type": "my:UnitHead", "num_classes": 5}), head_args={})
    batch = _batch()
    outputs = pipeline(batch)
    assert outputs["logits"].shape == (2, 5, 5)
    loss = pipeline.loss(outputs, batch)["loss"]
    loss.backward()
    assert pipeline.translator.gate.weight.grad.abs().sum() > 0
    assert [p["video_id"] for p in pipeline.predict(outputs, batch)] == ["a", "b"]


class ForgetfulTranslator(Translator):
    """Takes the dimensions but calls ``super().__init__()`` without them (issue 14)."""

    def __init__(self, in_dim, out_dim):
        super().__init__()
        self.proj = nn.Linear(in_dim, out_dim)

    def forward(self, tokens):
        return tokens.with_embeds(self.proj(tokens.embeds))


class BareHead(TaskHead):
    """Takes no ``in_dim`` at all; reads the hidden states through its own lazy layer."""

    task = "bare"

    def __init__(self, num_classes: int = 3):
        super().__init__()
        self.fc = nn.Linear(self.in_dim, num_classes)

    def forward(self, hidden, batch, stream):
        return {"logits": self.fc(hidden)}

    def loss(self, outputs, batch):
        return {"loss": outputs["logits"].square().mean()}

    def predict(self, outputs, batch):
        return [{"video_id": m.get("video_id")} for m in batch.meta]


def test_base_classes_get_the_dimensions_a_subclass_does_not_forward():
    _register("forgetful", ForgetfulTranslator, BareHead)
    pipeline = build_pipeline(_config({"type": "ForgetfulTranslator"}, {"type": "BareHead"}), head_args={})
    assert (pipeline.translator.in_dim, pipeline.translator.out_dim) == (8, 16)
    assert pipeline.heads[pipeline.tasks[0]].in_dim == 16
    assert pipeline(_batch())["logits"].shape == (2, 5, 3)


def test_missing_dimensions_outside_the_pipeline_name_class_and_fix():
    with pytest.raises(PluginError) as e:
        ForgetfulTranslator(8, 16)
    text = e.value.render()
    assert "ForgetfulTranslator" in text and "without in_dim, out_dim" in text
    assert "super().__init__(in_dim, out_dim)" in text


class NoSuperTranslator(Translator):
    """Forgets ``super().__init__()`` altogether: torch refuses the first sub-module."""

    def __init__(self, in_dim, out_dim):
        self.proj = nn.Linear(in_dim, out_dim)

    def forward(self, tokens):
        return tokens.with_embeds(self.proj(tokens.embeds))


def test_cli_reports_a_constructor_without_super_init(tmp_path, capsys, monkeypatch):
    """An installed plugin (an entry point, as pip would make it) whose translator skips
    ``super().__init__()``: ``videollm-run --dry-run`` exits 2 naming class, plugin and fix."""
    import importlib.metadata as md
    import sys

    import yaml

    from videollm_core import plugins as plugins_mod
    from videollm_core.cli.commands import run_main

    module = types.ModuleType("nosuper_plugin")
    module.videollm_register = videollm_core.hookimpl(
        lambda registries: registries.translators.register_module(module=NoSuperTranslator))
    monkeypatch.setitem(sys.modules, "nosuper_plugin", module)
    monkeypatch.setattr(plugins_mod, "_entry_points",
                        lambda: [md.EntryPoint(name="nosuper", value="nosuper_plugin", group="videollm")])
    cfg = _config({"type": "NoSuperTranslator"}, {"type": "OnlineActionDetectionHead", "num_classes": 4})
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(cfg))
    code = run_main([str(path), "--dry-run", "--no-data", "--work-dir", str(tmp_path / "w")])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err, err
    assert "NoSuperTranslator" in err and "nosuper" in err and "super().__init__(in_dim, out_dim)" in err, err


@pytest.mark.parametrize("name", ["tuning", "encoders"])
def test_essential_builtins_cannot_be_blocked(name):
    with pytest.raises(PluginError, match=f"plugin '{name}' cannot be blocked"):
        PluginManager(blocked=[name])
    PluginManager(blocked=["plots"], autoload=False).load()  # any other built-in can


def test_a_dataset_setting_skipped_learns_the_data_error_policy():
    from videollm_core import DataErrors, DataError, VideoDataset

    class OldStyle(VideoDataset):
        def __init__(self):
            self.skipped = []

        def ground_truth(self):
            return {}

    with pytest.raises(PluginError, match="OldStyle sets self.skipped") as e:
        OldStyle()
    assert "self.errors = DataErrors(on_error" in e.value.render()

    class NewStyle(VideoDataset):
        def __init__(self, on_error="skip"):
            self.errors = DataErrors(on_error, where="NewStyle.on_error")
            for vid in ("a", "b"):
                try:
                    if vid == "b":
                        raise DataError("truncated", where="b.npy")
                except DataError as err:
                    self.errors.handle(err)

        def ground_truth(self):
            return {}

    assert NewStyle().skip_report() == ["b.npy: truncated"]
    with pytest.raises(DataError, match="truncated"):
        NewStyle("raise")
    with pytest.raises(videollm_core.ConfigError, match="on_error must be 'raise' or 'skip'"):
        NewStyle("ignore")


class HeadWithoutLoss(TaskHead):
    """Implements forward and predict, forgets loss: it could never train."""

    def forward(self, hidden, batch, stream):
        return {"hidden": hidden}

    def predict(self, outputs, batch):
        return []


def test_a_head_without_loss_fails_at_registration_naming_class_method_and_plugin():
    """The base classes are abstract (abc): what a plugin must implement is checked when it registers,
    not half-way through training; the plugin is reported as failed and the others keep working."""
    from videollm_core.errors import RegistryError
    from videollm_core.registry import Registries, registering_as

    with pytest.raises(RegistryError) as err, registering_as("lossless"):
        Registries().heads.register_module(module=HeadWithoutLoss)
    text = err.value.render()
    assert "HeadWithoutLoss" in text and "does not implement loss" in text and "plugin 'lossless'" in text
    assert "abstract in videollm_core.TaskHead" in text and "define HeadWithoutLoss.loss" in text
    module = types.ModuleType("lossless")
    module.videollm_register = videollm_core.hookimpl(lambda registries: registries.heads.register_module(module=HeadWithoutLoss))
    info = get_plugin_manager().register(module, name="lossless")
    assert info.status == "failed" and "does not implement loss" in info.error
    with pytest.raises(TypeError, match="abstract method"):
        HeadWithoutLoss(8)  # Python refuses to build it at all

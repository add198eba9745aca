"""Plugins declare the config keys they read (`videollm_config_keys`): a `train:` key and a
top-level section validate, misspelt ones are reported with a suggestion, values are checked by
the plugin's rule, and the built-in early stopping declares its key the same way (issue 25)."""
from __future__ import annotations

import types


import videollm_core
from videollm_core.config import load_config
from videollm_core.plugins import PluginManager
from videollm_core.registry import Registries
from videollm_core.rules import MAPPING, POS_INT, STR, Rule, optional
from videollm_core.validation import config_problems, validate_config

from shared_paths import REPO


def _plugin(name: str, keys: dict) -> types.ModuleType:
    module = types.ModuleType(name)
    module.videollm_config_keys = videollm_core.hookimpl(lambda: keys)
    return module


TRACKING = {"train": {"log_images_every": optional(POS_INT)},
            "top": {"tracking": Rule(MAPPING.check, "a mapping", {"type": "object", "properties": {"project": STR.json}})}}


def _registries(*plugins: tuple[str, dict]) -> tuple[Registries, PluginManager]:
    registries = Registries()
    manager = PluginManager(registries)  # the built-in plugins, then ours
    manager.load()
    infos = [manager.register(_plugin(name, keys), name=name) for name, keys in plugins]
    return registries, manager, infos


def test_a_plugin_adds_a_train_key_and_a_top_level_section():
    registries, _, (info,) = _registries(("tracker", TRACKING))
    assert info.status == "loaded", info.error
    cfg = load_config(REPO / "examples" / "oad.yaml")
    cfg["train"]["log_images_every"] = 50
    cfg["tracking"] = {"project": "videollm"}
    assert config_problems(cfg, registries) == []
    config = validate_config(cfg, registries)  # the typed config: the plugin's keys are fields, with defaults
    assert (config.train.log_images_every, config.top.tracking, config.train.lr) == (50, {"project": "videollm"}, cfg["train"]["lr"])
    assert validate_config({**cfg, "train": {}}, registries).train.log_images_every is None
    cfg["train"]["log_image_every"] = cfg["train"].pop("log_images_every")
    cfg["trackin"] = cfg.pop("tracking")
    problems = {e.where: e.hint for e in config_problems(cfg, registries)}
    assert set(problems) == {"train.log_image_every", "trackin"}
    assert problems["train.log_image_every"].startswith("did you mean 'log_images_every'")
    assert problems["trackin"].startswith("did you mean 'tracking'")
    cfg["train"]["log_images_every"] = cfg["train"].pop("log_image_every")
    cfg["tracking"] = cfg.pop("trackin")
    cfg["train"]["log_images_every"] = -1
    (problem,) = config_problems(cfg, registries)
    assert problem.where == "train.log_images_every" and "a positive integer or null" in str(problem)


def test_without_the_plugin_its_keys_are_unknown():
    registries, _, _ = _registries()
    cfg = load_config(REPO / "examples" / "oad.yaml")
    cfg["tracking"] = {"project": "videollm"}
    assert [e.where for e in config_problems(cfg, registries)] == ["tracking"]


def test_a_key_two_plugins_declare_fails_the_second_and_unloading_drops_its_keys():
    registries, manager, (first, second) = _registries(("tracker", TRACKING), ("copycat", {"train": {"log_images_every": POS_INT}}))
    assert first.status == "loaded" and second.status == "failed"
    assert "already declared by plugin 'tracker'" in second.error
    assert "log_images_every" in registries.config_keys["train"]
    registries.unregister_plugin("tracker")
    assert "log_images_every" not in registries.config_keys["train"]


def test_a_bad_declaration_fails_the_plugin_with_a_message():
    _, _, (info,) = _registries(("sloppy", {"train": {"x": "a string is not a Rule"}}))
    assert info.status == "failed" and "needs a videollm_core.rules.Rule" in info.error


def test_early_stopping_declares_its_key_through_the_hook():
    from videollm_core.sections import TrainConfig

    registries, _, _ = _registries()
    assert "early_stopping" not in TrainConfig.__dataclass_fields__ and "early_stopping" in registries.config_keys["train"]
    cfg = load_config(REPO / "examples" / "oad.yaml")
    for ok in ({"patience": 2, "monitor": "oad/mAP"}, 3, None):
        cfg["train"]["early_stopping"] = ok
        assert config_problems(cfg, registries) == [], ok
    cfg["train"]["early_stopping"] = "soon"
    assert [e.where for e in config_problems(cfg, registries)] == ["train.early_stopping"]
    blocked = Registries()
    PluginManager(blocked, blocked=["early_stopping"]).load()
    cfg["train"]["early_stopping"] = 3
    assert [e.where for e in config_problems(cfg, blocked)] == ["train.early_stopping"]  # no plugin, no key

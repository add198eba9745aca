"""Registries: base-class checks, duplicates with origins, PLUGIN:NAME, suggestions, argument checks."""
from __future__ import annotations

import logging
import types

import pytest

from videollm_core import ConfigError, PluginManager, Registries, RegistryError, TaskHead, Translator, hookimpl
from videollm_core.errors import ConfigErrors


class Lin(Translator):
    """A test translator."""

    def __init__(self, in_dim: int, out_dim: int, bias: bool = True):
        super().__init__(in_dim, out_dim)
        self.bias = bias

    def forward(self, tokens):
        return tokens


class Lin2(Lin):
    """Another test translator."""


def plugin(name: str, register) -> types.ModuleType:
    mod = types.ModuleType(name)
    mod.videollm_register = hookimpl(register)
    return mod


@pytest.fixture
def manager() -> PluginManager:
    return PluginManager(Registries(), builtins=False, autoload=False)


def test_register_and_build_with_supplied_dims(manager):
    manager.register(plugin("p1", lambda registries: registries.translators.register_module(name="Lin", module=Lin)))
    t = manager.registries.translators.build({"type": "Lin", "bias": False}, where="model.translator",
                                             default_args={"in_dim": 3, "out_dim": 5, "not_a_param": 1})
    assert (t.in_dim, t.out_dim, t.bias) == (3, 5, False)
    assert manager.registries.translators.origin("Lin") == "p1"
    assert manager.infos["p1"].registered == {"translators": ["Lin"]}


def test_wrong_base_class_is_refused(manager):
    info = manager.register(plugin("bad", lambda registries: registries.heads.register_module(name="X", module=Lin)))
    assert info.status == "failed"
    assert "must subclass TaskHead" in info.error
    assert "X" not in manager.registries.heads


def test_duplicate_names_both_origins_and_rolls_back(manager):
    manager.register(plugin("first", lambda registries: registries.translators.register_module(name="Lin", module=Lin)))

    def second(registries):
        registries.translators.register_module(name="Mine", module=Lin2)
        registries.translators.register_module(name="Lin", module=Lin2)

    info = manager.register(plugin("second", second))
    assert info.status == "failed"
    assert "'first'" in info.error and "'second'" in info.error and "force=True" in info.error
    # the failed plugin's earlier registration is rolled back
    assert "Mine" not in manager.registries.translators
    assert manager.registries.translators.get("Lin") is Lin


def test_force_replaces_and_logs_winner(manager, caplog):
    manager.register(plugin("first", lambda registries: registries.translators.register_module(name="Lin", module=Lin)))
    with caplog.at_level(logging.WARNING, logger="videollm"):
        info = manager.register(plugin("second", lambda registries: registries.translators.register_module(name="Lin", module=Lin2, force=True)))
    assert info.status == "loaded"
    assert manager.registries.translators.get("Lin") is Lin2
    assert "plugin 'second' replaced translators 'Lin' of plugin 'first'" in caplog.text
    # PLUGIN:NAME still reaches the replaced one
    assert manager.registries.translators.get("first:Lin") is Lin
    assert manager.registries.translators.get("second:Lin") is Lin2
    # unregistering the winner brings the first back
    manager.registries.unregister_plugin("second")
    assert manager.registries.translators.get("Lin") is Lin


def test_unknown_type_names_path_and_suggests(manager):
    manager.register(plugin("p1", lambda registries: registries.translators.register_module(name="LinearTranslator", module=Lin)))
    with pytest.raises(ConfigError) as err:
        manager.registries.translators.lookup("LinaerTranslator", where="model.translator.type")
    text = str(err.value)
    assert text.startswith("model.translator.type: unknown translators 'LinaerTranslator'")
    assert "'LinearTranslator'" in text


def test_no_import_paths_from_configs(manager):
    reg = manager.registries.translators
    assert reg.get("torch.nn.Linear") is None
    with pytest.raises(ConfigError, match="never an import path"):
        reg.lookup("torch.nn.Linear", where="model.translator.type")


def test_plugin_prefix_errors(manager):
    manager.blocked.add("blocked_one")
    manager.register(plugin("blocked_one", lambda registries: registries.translators.register_module(name="Lin", module=Lin)))
    with pytest.raises(ConfigError, match="plugin 'blocked_one' is blocked"):
        manager.registries.translators.lookup("blocked_one:Lin", where="x.type")
    with pytest.raises(ConfigError, match="no plugin 'ghost'"):
        manager.registries.translators.lookup("ghost:Lin", where="x.type")


def test_validate_reports_every_problem(manager):
    manager.register(plugin("p1", lambda registries: registries.translators.register_module(name="Lin", module=Lin)))
    errors = manager.registries.translators.validate({"type": "Lin", "bais": 1, "bias": "yes"}, "model.translator")
    texts = [e.render() for e in errors]
    assert any("model.translator.bais: unknown argument 'bais'" in t and "in_dim, out_dim, bias" in t for t in texts)
    assert any("model.translator.bias" in t and "expects bool" in t for t in texts)
    assert any("missing required argument 'in_dim'" in t for t in texts)
    with pytest.raises(ConfigErrors) as err:
        manager.registries.translators.build({"type": "Lin", "bais": 1}, where="model.translator")
    assert len(err.value.errors) == 3  # bais, in_dim, out_dim


def test_constructor_value_error_is_a_config_error(manager):
    class Picky(Translator):
        def __init__(self, in_dim: int, out_dim: int, mode: str = "a"):
            super().__init__(in_dim, out_dim)
            if mode not in ("a", "b"):
                raise ValueError(f"mode must be 'a' or 'b', got {mode!r}")

        def forward(self, tokens):
            return tokens

    manager.register(plugin("p1", lambda registries: registries.translators.register_module(name="Picky", module=Picky)))
    with pytest.raises(ConfigError, match=r"model.translator: Picky: mode must be 'a' or 'b'"):
        manager.registries.translators.build({"type": "Picky", "mode": "c", "in_dim": 1, "out_dim": 1}, where="model.translator")


def test_registration_outside_plugins_is_attributed_to_python():
    regs = Registries()

    class H(TaskHead):
        def forward(self, hidden, batch, stream):
            return {"hidden": hidden}

        def loss(self, outputs, batch):
            return {"loss": outputs["hidden"].sum()}

        def predict(self, outputs, batch):
            return []

    regs.heads.register_module(name="H", module=H)
    assert regs.heads.origin("H") == "<python>"
    with pytest.raises(RegistryError):
        regs.heads.register_module(name="bad:name", module=H)

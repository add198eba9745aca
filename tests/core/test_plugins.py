"""Plugin manager: isolation of broken plugins, blocking, strict mode, API ranges, entry points."""
from __future__ import annotations

import importlib.metadata as md
import sys
import types

import pytest

from videollm_core import PluginError, PluginManager, Registries, Translator, hookimpl
from videollm_core.base import PLUGIN_API_VERSION
from videollm_core import plugins as plugins_mod


class Lin(Translator):
    """Test translator."""

    def forward(self, tokens):
        return tokens


def make_module(name: str, *, register=None, api=None) -> types.ModuleType:
    mod = types.ModuleType(name)
    if register is not None:
        mod.videollm_register = hookimpl(register)
    if api is not None:
        mod.VIDEOLLM_API = api
    return mod


class FakeDist:
    def __init__(self, name: str, version: str):
        self.name, self.version = name, version


def fake_entry_points(monkeypatch, entries: dict[str, types.ModuleType | Exception]):
    """Make importlib.metadata list entry points of group 'videollm' (as pytest's own tests do)."""
    eps = []
    for name, target in entries.items():
        module_name = f"fakeplug_{name}"
        if isinstance(target, Exception):
            monkeypatch.setitem(sys.modules, module_name, None)  # importing it raises ImportError
        else:
            monkeypatch.setitem(sys.modules, module_name, target)
        ep = md.EntryPoint(name=name, value=module_name, group="videollm")
        ep = ep._for(FakeDist(f"dist-{name}", "1.2.3")) if hasattr(ep, "_for") else ep
        eps.append(ep)
    monkeypatch.setattr(plugins_mod, "_entry_points", lambda: eps)


def good(registries):
    registries.translators.register_module(name="ExtLin", module=Lin)


def test_entry_points_load_with_distribution(monkeypatch):
    fake_entry_points(monkeypatch, {"ext": make_module("ext", register=good)})
    pm = PluginManager(Registries(), builtins=False)
    pm.load()
    info = pm.infos["ext"]
    assert info.status == "loaded"
    assert info.distribution == "dist-ext" and info.version == "1.2.3"
    assert pm.registries.translators.get("ext:ExtLin") is Lin


def test_broken_plugin_is_isolated(monkeypatch):
    fake_entry_points(monkeypatch, {"broken": ImportError("boom"), "ext": make_module("ext", register=good)})
    pm = PluginManager(Registries(), builtins=False)
    pm.load()
    assert pm.infos["broken"].status == "failed"
    assert "ModuleNotFoundError" in pm.infos["broken"].error or "ImportError" in pm.infos["broken"].error
    assert pm.infos["ext"].status == "loaded"
    assert "broken" in pm.problems()


def test_exception_in_hook_is_isolated_and_strict_is_fatal(monkeypatch):
    def explode(registries):
        registries.translators.register_module(name="Half", module=Lin)
        raise RuntimeError("hook exploded")

    fake_entry_points(monkeypatch, {"bad": make_module("bad", register=explode)})
    pm = PluginManager(Registries(), builtins=False)
    pm.load()
    assert pm.infos["bad"].status == "failed" and "hook exploded" in pm.infos["bad"].error
    assert "Half" not in pm.registries.translators
    strict = PluginManager(Registries(), builtins=False, strict=True)
    with pytest.raises(PluginError, match="plugin 'bad' failed: RuntimeError: hook exploded"):
        strict.load()


def test_strict_from_environment(monkeypatch):
    monkeypatch.setenv("VIDEOLLM_STRICT_PLUGINS", "1")
    assert PluginManager(Registries(), builtins=False).strict is True
    monkeypatch.setenv("VIDEOLLM_STRICT_PLUGINS", "0")
    assert PluginManager(Registries(), builtins=False).strict is False


def test_blocking_and_autoload_switch(monkeypatch):
    fake_entry_points(monkeypatch, {"ext": make_module("ext", register=good)})
    pm = PluginManager(Registries(), builtins=False, blocked={"ext"})
    pm.load()
    assert pm.infos["ext"].status == "blocked"
    assert "ExtLin" not in pm.registries.translators
    assert pm.problems() == {"ext": "blocked (-p no:ext)"}
    monkeypatch.setenv("VIDEOLLM_DISABLE_PLUGIN_AUTOLOAD", "1")
    pm2 = PluginManager(Registries(), builtins=False)
    pm2.load()
    assert "ext" not in pm2.infos


def test_api_range(monkeypatch):
    fake_entry_points(monkeypatch, {
        "old": make_module("old", register=good, api=">=0.1,<1.0"),
        "ok": make_module("ok", register=lambda registries: None, api=f">={PLUGIN_API_VERSION}"),
        "garbled": make_module("garbled", register=lambda registries: None, api="not a range"),
    })
    pm = PluginManager(Registries(), builtins=False)
    pm.load()
    assert pm.infos["old"].status == "incompatible"
    assert f"provides plugin API {PLUGIN_API_VERSION}" in pm.infos["old"].error
    assert pm.infos["ok"].status == "loaded"
    assert pm.infos["garbled"].status == "failed"


def test_hooks_reach_loaded_plugins():
    seen = []
    mod = make_module("watcher")
    mod.videollm_step_end = hookimpl(lambda runner, step, logs: seen.append((step, logs["loss"])))
    pm = PluginManager(Registries(), builtins=False, autoload=False)
    pm.register(mod, "watcher")
    pm.hook.videollm_step_end(runner=None, step=3, logs={"loss": 0.5})
    assert seen == [(3, 0.5)]


def test_builtins_load_through_the_same_hook():
    pm = PluginManager(Registries(), autoload=False)
    pm.load()
    builtins = [i for i in pm.infos.values() if i.builtin]
    assert builtins, "videollm_plugins.BUILTIN_PLUGINS lists no plugin"
    failed = {i.name: i.error for i in builtins if i.status != "loaded"}
    assert not failed
    assert all(i.distribution == "videollm-core" for i in builtins)

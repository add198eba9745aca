"""Issue "Reliability" 4: a faulty plugin is isolated and reported with its name.

Four faults, each in its own third-party plugin (entry points of group ``videollm``):
an ImportError, an exception inside ``videollm_register`` after a partial registration,
a duplicate name, and replacing another plugin's component without ``force``. The good
plugin and the built-ins keep working; strict mode turns each fault into an error.
"""
from __future__ import annotations

import importlib.metadata as md
import textwrap

import pytest

from videollm_core import plugins as plugins_mod
from videollm_core.errors import ConfigError, PluginError
from videollm_core.registry import Registries

GOOD = """
import videollm_core
from videollm_core import Translator

class RelTranslator(Translator):
    def forward(self, tokens):
        return tokens

@videollm_core.hookimpl
def videollm_register(registries):
    registries.translators.register_module(name="RelTranslator", module=RelTranslator)
"""
FAULTS = {
    "rel_import": "import videollm_rel_missing_dependency\n",
    "rel_hook": GOOD.replace("RelTranslator", "RelHookTranslator") + textwrap.dedent("""
        @videollm_core.hookimpl(specname="videollm_register")
        def second_step(registries):
            raise RuntimeError("boom in the hook")
        """),
    "rel_duplicate": GOOD,  # registers RelTranslator again
    "rel_replace": GOOD.replace('name="RelTranslator"', 'name="LinearTranslator"'),  # a built-in's name, no force
}
EXPECTED = {
    "rel_import": "ModuleNotFoundError: No module named 'videollm_rel_missing_dependency'",
    "rel_hook": "RuntimeError: boom in the hook",
    "rel_duplicate": "already registered by plugin 'rel_good'",
    "rel_replace": "already registered by plugin 'translators'",
}


@pytest.fixture
def plugin_modules(tmp_path, monkeypatch):
    (tmp_path / "rel_good.py").write_text(GOOD)
    for name, body in FAULTS.items():
        (tmp_path / f"{name}.py").write_text(body)
    monkeypatch.syspath_prepend(str(tmp_path))
    eps = [md.EntryPoint(name=n, value=n, group="videollm") for n in ("rel_good", *FAULTS)]
    monkeypatch.setattr(plugins_mod, "_entry_points", lambda: eps)
    monkeypatch.delenv("VIDEOLLM_STRICT_PLUGINS", raising=False)


def test_each_fault_is_isolated_and_named(plugin_modules, caplog):
    regs = Registries()
    manager = plugins_mod.PluginManager(regs, autoload=True)
    manager.load()
    infos = {i.name: i for i in manager.plugins()}
    assert infos["rel_good"].status == "loaded" and regs.translators.origin("RelTranslator") == "rel_good"
    for name, message in EXPECTED.items():
        assert infos[name].status == "failed", name
        assert message in infos[name].error, (name, infos[name].error)
        assert f"plugin '{name}'" in caplog.text
    # a hook that failed after registering something leaves nothing behind
    assert "RelHookTranslator" not in regs.translators
    # the built-in keeps its name; the good plugin's component is the one built
    assert regs.translators.origin("LinearTranslator") == "translators"
    assert type(regs.translators.build({"type": "RelTranslator"}, in_dim=2, out_dim=2)).__module__ == "rel_good"
    problems = manager.problems()
    assert set(FAULTS) <= set(problems)
    with pytest.raises(ConfigError) as e:
        regs.translators.lookup("rel_hook:RelHookTranslator", where="model.translator.type")
    assert "plugin 'rel_hook' is failed: RuntimeError: boom in the hook" in e.value.render()


@pytest.mark.parametrize("name", sorted(FAULTS))
def test_strict_mode_makes_each_fault_fatal_with_the_plugins_name(plugin_modules, name, monkeypatch):
    kept = [ep for ep in plugins_mod._entry_points() if ep.name in ("rel_good", name)]
    monkeypatch.setattr(plugins_mod, "_entry_points", lambda: kept)
    manager = plugins_mod.PluginManager(Registries(), autoload=True, strict=True)
    with pytest.raises(PluginError) as e:
        manager.load()
    assert e.value.where.startswith(f"plugin '{name}'") and EXPECTED[name] in e.value.message
    assert f"-p no:{name}" in e.value.hint


def test_force_replaces_and_says_who_replaced_whom(plugin_modules, tmp_path, monkeypatch, caplog):
    (tmp_path / "rel_force.py").write_text(GOOD.replace('module=RelTranslator)', 'module=RelTranslator, force=True)'))
    eps = [md.EntryPoint(name=n, value=n, group="videollm") for n in ("rel_good", "rel_force")]
    monkeypatch.setattr(plugins_mod, "_entry_points", lambda: eps)
    regs = Registries()
    plugins_mod.PluginManager(regs, autoload=True, builtins=False).load()
    assert regs.translators.origin("RelTranslator") == "rel_force"
    assert "plugin 'rel_force' replaced translators 'RelTranslator' of plugin 'rel_good'" in caplog.text


def test_the_cli_reports_broken_plugins_by_name(plugin_modules, capsys, isolated_cli):
    from videollm_core.cli.commands import main

    assert main(["plugins"]) == 0
    out = capsys.readouterr().out
    for name in FAULTS:
        assert name in out
    assert main(["--strict-plugins", "plugins"]) == 2
    err = capsys.readouterr().err
    assert "plugin 'rel_import' failed" in err and "Traceback" not in err

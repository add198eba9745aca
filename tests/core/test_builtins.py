"""The built-in plugins all load: a broken one fails the suite here by name (no test
elsewhere skips because a component of ours is missing)."""
from __future__ import annotations

from videollm_core.plugins import PluginManager


def test_every_builtin_plugin_loads():
    from videollm_plugins import BUILTIN_PLUGINS

    manager = PluginManager(autoload=False)  # fresh registries: nothing another test did leaks in
    manager.load()
    status = {name: manager.infos[name].status if name in manager.infos else "missing" for name in BUILTIN_PLUGINS}
    broken = {name: manager.problems().get(name, s) for name, s in status.items() if s != "loaded"}
    assert broken == {}, f"built-in plugins that did not load: {broken}"

"""Kernel test fixtures: tiny registered components and a clean global plugin state."""
from __future__ import annotations

import importlib.metadata as md
import sys
from pathlib import Path

import pytest

from videollm_core import plugins as plugins_mod
from videollm_core.registry import Registries

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

import videollm_kernel_testplug  # noqa: E402


@pytest.fixture
def registries() -> Registries:
    """Fresh registries holding only the test plugin's components (plugin name ``kerneltest``)."""
    regs = Registries()
    manager = plugins_mod.PluginManager(regs, builtins=False, autoload=False)
    manager.register(videollm_kernel_testplug, name="kerneltest")
    return regs


@pytest.fixture
def global_plugins(monkeypatch):
    """Let a test reconfigure the process-wide plugin manager; restore it afterwards.

    Returns a function ``entry_points(**{name: module_path})`` that fakes the
    ``videollm`` entry points the manager will see (as pytest's own tests fake them).
    """
    monkeypatch.delenv("VIDEOLLM_STRICT_PLUGINS", raising=False)
    monkeypatch.delenv("VIDEOLLM_DISABLE_PLUGIN_AUTOLOAD", raising=False)

    def entry_points(**targets: str) -> None:
        eps = [md.EntryPoint(name=name, value=value, group="videollm") for name, value in targets.items()]
        monkeypatch.setattr(plugins_mod, "_entry_points", lambda: eps)

    entry_points(kerneltest="videollm_kernel_testplug")
    with plugins_mod.preserved_plugin_state():
        yield entry_points

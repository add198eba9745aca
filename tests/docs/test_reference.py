"""The generated pages: every registered component in the reference, every raised user error in the catalogue."""
from __future__ import annotations

import ast
import re

from videollm_core.plugins import PluginManager
from videollm_core.registry import ROLES, Registries


def test_reference_lists_every_registered_component(hooks):
    registries = Registries()
    manager = PluginManager(registries, autoload=False)
    manager.load()
    page = hooks.render_components(registries, manager)
    headings = re.findall(r"^### (\S+)$", page, flags=re.M)
    expected = [name for role in ROLES for name in registries[role].names()]
    assert headings == expected
    assert len(expected) >= 40  # the built-ins: encoders, translators, llms, tuners and nine tasks
    assert "ED@20/action" in page and "lower is better" in page  # metric keys and direction
    assert "| <code>in_dim</code> | <code>int</code> | required | " in page  # TemporalUnitEncoder's parameters
    # with what its docstring says of each (Google-style Args, one table instead of two)
    assert re.search(r"\| <code>unit_size</code> \| <code>int</code> \| <code>1</code> \| \S", page)
    assert "show_docstring_parameters: false" in page
    assert "<code>int &#124; None</code>" in page and "\\|" not in page  # a union neither splits a cell nor shows a backslash
    # the docstrings go to mkdocstrings (Google style), not into a plain-text block
    assert "::: videollm_plugins.encoders.unitization.TemporalUnitEncoder\n" in page and "```text" not in page


def test_reference_shows_a_plugin_that_registers_later(hooks):
    import videollm_core

    class ExtraTranslator(videollm_core.Translator):
        """A translator only this test registers."""

        def __init__(self, in_dim: int, out_dim: int, depth: int = 3):
            super().__init__(in_dim, out_dim)

        def forward(self, tokens):
            return tokens

    class Plug:
        @videollm_core.hookimpl
        def videollm_register(self, registries):
            registries.translators.register_module(name="ExtraTranslator", module=ExtraTranslator)

    registries = Registries()
    manager = PluginManager(registries, builtins=False, autoload=False)
    manager.register(Plug(), name="extra")
    page = hooks.render_components(registries, manager)
    assert "### ExtraTranslator" in page and "plugin `extra`" in page
    assert "| <code>depth</code> | <code>int</code> | <code>3</code> |  |" in page  # no docstring: no description
    assert f"::: {ExtraTranslator.__module__}.{ExtraTranslator.__qualname__}" in page


def test_error_catalogue_reads_messages_from_the_sources(hooks):
    errors = hooks.collect_errors()
    config_missing = [e for e in errors if e["file"] == "videollm_core/config.py" and e["message"] == "config file not found"]
    assert config_missing and config_missing[0]["error"] == "ConfigError" and "relative paths" in config_missing[0]["hint"]
    assert any(e["error"] == "TrainingDiverged" for e in errors)  # a subclass of UserError defined in the sources
    assert not {e["error"] for e in errors} & {"ValueError", "RuntimeError", "TypeError"}  # only the UserError family
    node = ast.parse("f'unknown {role} {name!r}: x'").body[0].value
    assert hooks._text(node) == "unknown {role} {name}: x"
    page = hooks.render_errors([{"file": "a.py", "line": 3, "error": "DataError", "message": "bad `x`", "where": "", "hint": "fix"}])
    assert "- **DataError** (line 3): `` bad `x` ``; hint: `fix`" in page


def test_task_table_has_one_row_per_metric(hooks):
    registries = Registries()
    PluginManager(registries, autoload=False).load()
    text = hooks.render_tasks(registries)
    built, scored = text.split("\n\n")[0], text.split("\n\n")[-1]
    for table in (built, scored):  # two tables of four columns that fit a page, not one of seven
        rows = [line for line in table.splitlines() if line.startswith("| [")]
        assert [re.match(r"\| \[([^\]]+)\]", r).group(1) for r in rows] == registries.metrics.names()
        assert all(r.count(" | ") == 3 for r in rows)
    assert "ED@20/action" in scored and "OnlineActionDetectionHead" in built

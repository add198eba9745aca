"""``videollm new-plugin NAME``: write the skeleton of a third-party plugin package.

The skeleton is a complete, installable package (src layout) that passes its own tests
as generated::

    NAME/
      pyproject.toml              [project.entry-points.videollm] PLUGIN = "MODULE.plugin"
      README.md
      configs/example.yaml        trains a few steps with a tiny GPT-2 on generated data
      src/MODULE/plugin.py        VIDEOLLM_API and the videollm_register hook
      src/MODULE/encoder.py       PrefixEncoder      (encoders)
      src/MODULE/translator.py    PrefixTranslator   (translators)
      src/MODULE/head.py          PrefixHead         (heads)
      src/MODULE/data.py          PrefixDataset      (datasets) and its demo-data writer
      src/MODULE/metric.py        PLUGIN             (metrics: per-step accuracy)
      tests/test_plugin.py

Names: ``NAME`` is the distribution (``videollm-gated``), ``MODULE`` its import name
(``videollm_gated``), ``PLUGIN`` the plugin (entry point) name without a leading
``videollm_`` (``gated``), ``Prefix`` its CamelCase (``Gated``): component names carry
the prefix so that two plugins never clash in the registries. No dependency beyond the
standard library.
"""
from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from string import Template

from ..base import PLUGIN_API_VERSION
from ..errors import EXIT_USER_ERROR, ConfigError, UserError
from .scaffold_templates import TEMPLATES

NAME_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9_-]*$")


@dataclass(frozen=True)
class PluginNames:
    """The names derived from ``NAME`` (see the module docstring)."""

    dist: str
    module: str
    plugin: str
    prefix: str

    @classmethod
    def from_name(cls, name: str) -> "PluginNames":
        if not isinstance(name, str) or not NAME_PATTERN.match(name) or name.endswith(("-", "_")):
            raise ConfigError(f"invalid plugin name {name!r}", where="videollm new-plugin NAME",
                              hint="a letter, then letters, digits, '-' or '_' (e.g. videollm-gated)")
        dist = re.sub(r"[-_]+", "-", name.lower())
        module = dist.replace("-", "_")
        plugin = module[len("videollm_"):] if module.startswith("videollm_") and len(module) > len("videollm_") else module
        prefix = "".join(part.capitalize() for part in plugin.split("_"))
        return cls(dist, module, plugin, prefix)


def api_range(version: str = PLUGIN_API_VERSION) -> str:
    """The ``VIDEOLLM_API`` range a new plugin declares: this API version up to the next major."""
    major = int(version.split(".")[0])
    return f">={version},<{major + 1}"


def render(names: PluginNames) -> dict[str, str]:
    """``{relative path: file text}`` of the skeleton for ``names``."""
    values = {"dist": names.dist, "module": names.module, "plugin": names.plugin, "Prefix": names.prefix, "api": api_range()}
    files = {}
    for path, text in TEMPLATES.items():
        files[Template(path).substitute(values)] = Template(text).substitute(values)
    return files


def new_plugin(name: str, dest: str | Path, *, force: bool = False) -> Path:
    """Write the skeleton of plugin package ``name`` into ``dest/<distribution name>``.

    Args:
        name: distribution name, e.g. ``videollm-gated`` (see :class:`PluginNames`).
        dest: the folder that receives the package folder (created if missing).
        force: overwrite the skeleton's files in an existing package folder.

    Returns:
        The package folder.

    Raises:
        ConfigError: an invalid name, or the package folder exists and ``force`` is off.
    """
    names = PluginNames.from_name(name)
    root = Path(dest).expanduser() / names.dist
    if root.exists() and not force:
        raise ConfigError("the package folder already exists", where=str(root),
                          hint="choose another --dest or name, or pass --force to overwrite the skeleton's files")
    for rel, text in render(names).items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def new_plugin_main(argv: list[str]) -> int:
    """``videollm new-plugin NAME [--dest DIR] [--force]``: returns the exit status."""
    parser = argparse.ArgumentParser(prog="videollm new-plugin", description="Write the skeleton of a videollm plugin package.")
    parser.add_argument("name", help="distribution name of the new package, e.g. videollm-gated")
    parser.add_argument("--dest", default=".", help="folder that receives the package folder (default: .)")
    parser.add_argument("--force", action="store_true", help="overwrite the files of an existing skeleton")
    args = parser.parse_args(argv)
    try:
        root = new_plugin(args.name, args.dest, force=args.force)
    except UserError as e:
        print(f"error: {e.render()}", file=sys.stderr)
        return EXIT_USER_ERROR
    names = PluginNames.from_name(args.name)
    print(f"wrote plugin '{names.plugin}' (package {names.dist}, module {names.module}) to {root}")
    print(f"next: cd {root} && pip install -e . && python -m pytest -q && videollm plugins && videollm-run configs/example.yaml")
    return 0


# -- the templates (string.Template: ${dist} ${module} ${plugin} ${Prefix} ${api}) ----------------


__all__ = ["PluginNames", "api_range", "new_plugin", "new_plugin_main", "render", "TEMPLATES"]

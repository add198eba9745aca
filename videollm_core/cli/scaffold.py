"""``videollm new-plugin NAME``: write a third-party plugin package from the one template package.

The template is the folder ``videollm_core/cli/plugin_template/`` (package data): each
``*.tmpl`` file is a ``string.Template`` text written without its ``.tmpl`` suffix, a
``__module__`` folder is named after the import name, and the placeholders ``${dist}``,
``${module}``, ``${plugin}``, ``${Prefix}`` and ``${api}`` are filled in (``$$`` writes
``$``). Rendered for ``videollm-example-plugin`` it is, file by file,
``examples/plugins/videollm-example-plugin`` (a test keeps the two equal).
The package is complete and installable (src layout) and passes its own tests as written::

    NAME/
      pyproject.toml              [project.entry-points.videollm] PLUGIN = "MODULE.plugin"
      README.md
      configs/example.yaml        trains a tiny GPT-2 on generated data, offline
      src/MODULE/plugin.py        VIDEOLLM_API and the videollm_register hook
      src/MODULE/encoder.py       PrefixEncoder      (encoders: causal temporal conv, units)
      src/MODULE/translator.py    PrefixTranslator   (translators: gated linear)
      src/MODULE/head.py          PrefixHead         (heads: a class per unit)
      src/MODULE/dataset.py       PrefixDataset      (datasets: features + annotations.csv)
      src/MODULE/metric.py        PrefixAccuracy     (metrics: registered as PLUGIN)
      src/MODULE/formats.py       the CSV files: annotations and predictions
      src/MODULE/demo.py          the demo-data generator
      tests/test_components.py, tests/test_config.py

Names: ``NAME`` is the distribution (``videollm-gated``), ``MODULE`` its import name
(``videollm_gated``), ``PLUGIN`` the plugin (entry point) and task name without a leading
``videollm_`` or a trailing ``_plugin`` (``gated``), ``Prefix`` its CamelCase (``Gated``):
component names carry the prefix so that two plugins never clash in the registries.
"""
from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from string import Template
from typing import TYPE_CHECKING

from ..base import PLUGIN_API_VERSION
from ..errors import ConfigError

if TYPE_CHECKING:
    if sys.version_info >= (3, 11):
        from importlib.resources.abc import Traversable
    else:
        from importlib.abc import Traversable

NAME_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9_-]*$")
#: the template package's folder name, inside ``videollm_core.cli``.
TEMPLATE_DIR = "plugin_template"
#: a path segment of the template named after the import name.
MODULE_DIR = "__module__"
SUFFIX = ".tmpl"


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
        plugin = module
        if plugin.startswith("videollm_") and len(plugin) > len("videollm_"):
            plugin = plugin[len("videollm_"):]
        if plugin.endswith("_plugin") and len(plugin) > len("_plugin"):
            plugin = plugin[: -len("_plugin")]
        prefix = "".join(part.capitalize() for part in plugin.split("_"))
        return cls(dist, module, plugin, prefix)


def api_range(version: str = PLUGIN_API_VERSION) -> str:
    """The ``VIDEOLLM_API`` range a new plugin declares: this API version up to the next major."""
    major = int(version.split(".")[0])
    return f">={version},<{major + 1}"


def template_files(folder: Traversable | None = None, rel: tuple[str, ...] = ()) -> dict[tuple[str, ...], str]:
    """``{path parts: template text}`` of every ``*.tmpl`` file of the template package."""
    folder = folder if folder is not None else resources.files(__package__) / TEMPLATE_DIR
    out = {}
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.is_dir():
            out.update(template_files(entry, (*rel, entry.name)))
        elif entry.name.endswith(SUFFIX):
            out[rel + (entry.name[: -len(SUFFIX)],)] = entry.read_text(encoding="utf-8")
    return out


def render(names: PluginNames) -> dict[str, str]:
    """``{relative path: file text}`` of the package for ``names``."""
    values = {"dist": names.dist, "module": names.module, "plugin": names.plugin, "Prefix": names.prefix, "api": api_range()}
    files = {}
    for parts, text in template_files().items():
        path = "/".join(names.module if part == MODULE_DIR else part for part in parts)
        files[path] = Template(text).substitute(values)
    return files


def new_plugin(name: str, dest: str | Path, *, force: bool = False) -> Path:
    """Write plugin package ``name`` into ``dest/<distribution name>``.

    Args:
        name: distribution name, e.g. ``videollm-gated`` (see :class:`PluginNames`).
        dest: the folder that receives the package folder (created if missing).
        force: overwrite the template's files in an existing package folder.

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


__all__ = ["PluginNames", "api_range", "new_plugin", "render", "template_files"]

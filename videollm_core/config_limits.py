"""Caps on what reading a config may cost: bytes, values, nesting, files.

A config comes from anywhere (a paper's repository, a colleague, a model folder from a
hub), so reading one must be bounded in time and memory however it was made. YAML
anchors and aliases (`&name` / `*name`) are legal and kept, but a document is
measured as if every alias were expanded before anything is built from it, so a
"billion laughs" chain (nine levels of nine aliases each) is refused at once instead of
being expanded into gigabytes. The same caps apply to the config a `_base_` chain
merges into and to the config after `--cfg-options`.

The caps are far above any honest config (the largest shipped example has about 3 KB
and a few hundred values):

- `MAX_CONFIG_BYTES`: one YAML file, and the text of all strings of the expanded
  config;
- `MAX_CONFIG_NODES`: values (mappings, lists, keys, scalars) once aliases are
  expanded;
- `MAX_CONFIG_DEPTH`: nesting levels;
- `MAX_CONFIG_FILES`: YAML files read for one config (`_base_` repeats included);
- `MAX_OPTION_BYTES`, `MAX_OPTIONS_BYTES`: one `--cfg-options` item, and all
  of them together (mmengine's value parser takes time quadratic in a value's length).
"""
from __future__ import annotations

from typing import Any, Mapping

import yaml

from .errors import ConfigError

MAX_CONFIG_BYTES = 256 * 1024
MAX_CONFIG_NODES = 20_000
MAX_CONFIG_DEPTH = 32
MAX_CONFIG_FILES = 32
MAX_OPTION_BYTES = 4 * 1024
MAX_OPTIONS_BYTES = 64 * 1024

_ALIAS_HINT = ("YAML aliases (*name) are counted as if copied out; an honest config stays far below the cap: "
               "write the values out, or remove the alias chain")


def _too_big(what: str, where: str, hint: str | None = None) -> ConfigError:
    return ConfigError(f"config too large: {what}", where=where, hint=hint or "is this really a config? split it, or trim it")


def _node_children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def check_yaml_graph(root: yaml.Node, where: str) -> None:
    """Measure a composed YAML document as if its aliases were expanded; refuse it past the caps.

    Runs in time linear in the document's own size (each node is measured once and its
    expanded size memoised), before a single Python object is built from it.

    Raises:
        ConfigError: an alias that refers to a node containing it (a recursive
            structure), more than `MAX_CONFIG_NODES` values, more than
            `MAX_CONFIG_BYTES` of string text, or nesting deeper than
            `MAX_CONFIG_DEPTH` once expanded.
    """
    size: dict[int, tuple[int, int, int]] = {}  # id(node) -> (values, bytes, depth) expanded
    open_nodes: set[int] = set()  # the current node's ancestors
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, finished = stack.pop()
        key = id(node)
        if finished:
            open_nodes.discard(key)
            children = [size[id(c)] for c in _node_children(node)]
            count = 1 + sum(c[0] for c in children)
            text = sum(c[1] for c in children) if children else len(str(node.value)) if isinstance(node, yaml.ScalarNode) else 0
            depth = 1 + max((c[2] for c in children), default=0)
            if count > MAX_CONFIG_NODES:
                raise _too_big(f"more than {MAX_CONFIG_NODES:,} values once its aliases are expanded", where, _ALIAS_HINT)
            if text > MAX_CONFIG_BYTES:
                raise _too_big(f"more than {MAX_CONFIG_BYTES:,} characters of text once its aliases are expanded", where, _ALIAS_HINT)
            if depth > MAX_CONFIG_DEPTH:
                raise _too_big(f"nested more than {MAX_CONFIG_DEPTH} levels deep", where)
            size[key] = (count, text, depth)
            continue
        if key in size:
            continue
        open_nodes.add(key)
        stack.append((node, True))
        for child in _node_children(node):
            if id(child) in open_nodes:
                mark = child.start_mark
                raise ConfigError("an alias refers to a node that contains it (a recursive structure)",
                                  where=f"{where}:{mark.line + 1}:{mark.column + 1}" if mark is not None else where,
                                  hint="a config is a tree: remove the alias")
            if id(child) not in size:
                stack.append((child, False))


def check_config_tree(data: Any, where: str) -> None:
    """Refuse a built config (after `_base_` merging or `--cfg-options`) past the caps.

    Walks at most `MAX_CONFIG_NODES` values, so it is cheap for any input, shared or
    self-referencing objects included.
    """
    count, text = 0, 0
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        count += 1
        if count > MAX_CONFIG_NODES:
            raise _too_big(f"more than {MAX_CONFIG_NODES:,} values", where)
        if depth > MAX_CONFIG_DEPTH:
            raise _too_big(f"nested more than {MAX_CONFIG_DEPTH} levels deep", where)
        if isinstance(value, Mapping):
            for k, v in value.items():
                stack.append((k, depth + 1))
                stack.append((v, depth + 1))
        elif isinstance(value, (list, tuple, set, frozenset)):
            stack.extend((v, depth + 1) for v in value)
        elif isinstance(value, (str, bytes)):
            text += len(value)
            if text > MAX_CONFIG_BYTES:
                raise _too_big(f"more than {MAX_CONFIG_BYTES:,} characters of text", where)


def check_text_size(size: int, where: str, what: str = "the file", limit: int = MAX_CONFIG_BYTES) -> None:
    """Refuse a config file (or an option: pass its `limit`) longer than `limit` bytes."""
    if size > limit:
        raise _too_big(f"{what} is longer than {limit:,} characters", where)


__all__ = ["MAX_CONFIG_BYTES", "MAX_CONFIG_NODES", "MAX_CONFIG_DEPTH", "MAX_CONFIG_FILES",
           "MAX_OPTION_BYTES", "MAX_OPTIONS_BYTES", "check_yaml_graph", "check_config_tree", "check_text_size"]

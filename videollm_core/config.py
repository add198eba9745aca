"""Configs: YAML files (`yaml.SafeLoader` only), `_base_` inheritance, `_delete_`, overrides.

A config is data, never a program: nothing in it imports Python (a `type:` is a
registered name or `PLUGIN:NAME`, see `videollm_core.registry`; `!!python/...`
tags are a [`ConfigError`][videollm_core.errors.ConfigError]), and a key given twice in one mapping is an error
rather than silently the last one.

- `_base_: base.yaml` (or a list of paths), relative to the file that names it. Bases
  merge in order, then the file itself merges on top: mappings merge key by key, every
  other value (lists included) replaces.
- `key: {_delete_: true, ...}` replaces the inherited `key` instead of merging into it.
- overrides (`--cfg-options`): `a.b=1 c.d=[1,2] e.0=3` with mmengine `DictAction`
  value semantics (`1,2` is a list too; `true`/`false`/`None`); a numeric part
  indexes a list.

Checking a loaded config against the registries lives in `videollm_core.validation`
(`validate_config`, `task_specs`, re-exported here).
"""
from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any, Iterable, Mapping

import yaml

from .config_limits import (MAX_CONFIG_BYTES, MAX_CONFIG_DEPTH, MAX_CONFIG_FILES, MAX_OPTION_BYTES, MAX_OPTIONS_BYTES, check_config_tree, check_text_size, check_yaml_graph)
from .errors import ConfigError, PathError
from .paths import usable_path

BASE_KEY = "_base_"
DELETE_KEY = "_delete_"


class Config(dict):
    """A loaded config: a plain `dict` of nested dicts/lists/scalars plus `filename`."""

    def __init__(self, data: Mapping[str, Any] | None = None, filename: str | None = None):
        super().__init__(data or {})
        #: absolute path of the YAML file it came from (`None` when built in Python).
        self.filename = filename

    def copy(self) -> "Config":
        return Config(copy.deepcopy(dict(self)), self.filename)

    def __deepcopy__(self, memo: dict) -> "Config":
        return Config(copy.deepcopy(dict(self), memo), self.filename)

    def __reduce__(self):  # pickles (dataloader workers, accelerate) keep the filename
        return (Config, (dict(self), self.filename))

    def to_yaml(self) -> str:
        """The resolved config as YAML (no `_base_`); loading it back gives the same dict."""
        return yaml.safe_dump(plain_data(dict(self)), sort_keys=False, allow_unicode=True)

    @property
    def stem(self) -> str:
        """The config file's name without suffix (`work_dirs/<stem>` is the default work dir)."""
        return Path(self.filename).stem if self.filename else "config"


def plain_data(value: Any) -> Any:
    """Plain dicts and lists (string keys) of a loaded config or any part of it, for `yaml.safe_dump`."""
    if isinstance(value, Mapping):
        return {str(k): plain_data(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain_data(v) for v in value]
    return value


# -- loading ----------------------------------------------------------------
#: libyaml's parser when PyYAML was built with it (tens of times faster, nesting capped
#: at 1000 levels), else the pure-Python one; the constructor is `SafeConstructor` either way.
_SafeBase = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _UniqueKeyLoader(_SafeBase):  # type: ignore[misc,valid-type]
    """`yaml.SafeLoader` (plain data only) that refuses a key given twice in one mapping,
    which plain YAML loaders resolve silently by keeping the last value."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, Any] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":  # '<<: *base' merges; flatten_mapping handles it
                continue
            key = self.construct_object(key_node, deep=deep)
            try:
                first = seen.setdefault(key, key_node.start_mark)
            except TypeError:  # an unhashable key: SafeLoader reports it below
                continue
            if first is not key_node.start_mark:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r} (first at line {first.line + 1})", key_node.start_mark)
        return super().construct_mapping(node, deep=deep)


def _read_text(path: Path) -> str:
    """The file's text, at most `MAX_CONFIG_BYTES` of it."""
    if path.is_dir():
        raise ConfigError("the config path is a folder, not a file", where=str(path), hint="pass the YAML file itself")
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_CONFIG_BYTES + 1)
    except FileNotFoundError:
        raise ConfigError("config file not found", where=str(path), hint="check the path (relative paths start at the current directory)") from None
    except OSError as e:
        raise ConfigError(f"cannot read the config file: {e.strerror or e}", where=str(path)) from None
    check_text_size(len(raw), str(path))
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ConfigError(f"cannot read the config file: not UTF-8 text ({e.reason} at byte {e.start})", where=str(path)) from None


def _parse_yaml(text: str, where: str) -> Any:
    """Compose the document, measure it with aliases expanded (`check_yaml_graph`),
    then build it: a bounded amount of work for any text."""
    loader = _UniqueKeyLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        check_yaml_graph(node, where)
        return loader.construct_document(node)
    finally:
        loader.dispose()


def read_yaml(path: Path) -> dict[str, Any]:
    """One YAML file's top-level mapping, read bounded (no `_base_` resolution): configs and study files."""
    text = _read_text(path)
    try:
        data = _parse_yaml(text, str(path))
    except RecursionError:
        raise ConfigError(f"invalid YAML: nested too deeply (more than {MAX_CONFIG_DEPTH} levels are refused)", where=str(path)) from None
    except ValueError as e:  # e.g. an integer of more than 4300 digits
        raise ConfigError(f"invalid YAML: a value Python cannot hold ({str(e).split(';')[0]})", where=str(path)) from None
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark is not None else str(path)
        problem = " ".join(str(p) for p in (e.context, e.problem) if p)
        hint = "configs are plain YAML data; Python tags (!!python/...) are not allowed" if "tag" in problem else None
        raise ConfigError(f"invalid YAML: {problem}", where=where, hint=hint) from None
    except yaml.YAMLError as e:
        raise ConfigError(f"invalid YAML: {e}", where=str(path)) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"the top level of a config must be a mapping (key: value), got {type(data).__name__}", where=str(path))
    bad = [k for k in data if not isinstance(k, str)]
    if bad:
        raise ConfigError(f"top-level keys must be strings, got {bad[0]!r}", where=str(path))
    return data


def _load_tree(path: Path, chain: tuple[Path, ...], reads: list[Path]) -> dict[str, Any]:
    """`path` merged over its bases; `reads` collects every file read for this config,
    which may not exceed `MAX_CONFIG_FILES`."""
    if path in chain:
        cycle = " -> ".join(str(p) for p in (*chain, path))
        raise ConfigError(f"_base_ cycle: {cycle}", where=str(chain[-1]), hint="a config cannot inherit from itself")
    reads.append(path)
    if len(reads) > MAX_CONFIG_FILES:
        raise ConfigError(f"config too large: its _base_ chain reads more than {MAX_CONFIG_FILES} files", where=f"{chain[-1]}: {BASE_KEY}",
                          hint="an honest config inherits from a few files; flatten the chain")
    data = read_yaml(path)
    bases = data.pop(BASE_KEY, None)
    if bases is None:
        return _strip_delete(data)
    if isinstance(bases, str):
        bases = [bases]
    if not isinstance(bases, list) or not all(isinstance(b, str) and b for b in bases):
        raise ConfigError(f"_base_ must be a path or a list of paths, got {bases!r}", where=f"{path}: {BASE_KEY}")
    merged: dict[str, Any] = {}
    for base in bases:
        if "\x00" in base:
            raise ConfigError("a _base_ path contains a NUL byte", where=f"{path}: {BASE_KEY}", hint="remove the \\x00 from the path")
        base_path = (path.parent / os.path.expanduser(base)).resolve()
        if not base_path.is_file():
            raise ConfigError(f"base config '{base}' not found (looked for {base_path})", where=f"{path}: {BASE_KEY}",
                              hint="_base_ paths are relative to the file that names them")
        merged = merge(merged, _load_tree(base_path, (*chain, path), reads))
        check_config_tree(merged, f"{path}: {BASE_KEY}")
    merged = merge(merged, data)
    check_config_tree(merged, str(path))
    return merged


def merge(base: Mapping[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
    """Merge `update` into a copy of `base`: mappings recursively, anything else replaces.

    A mapping in `update` with `_delete_: true` replaces `base`'s value instead.
    Neither argument is modified; `_delete_` keys never reach the result.
    """
    out = copy.deepcopy(dict(base))
    for key, value in update.items():
        if isinstance(value, Mapping):
            value = dict(value)
            delete = bool(value.pop(DELETE_KEY, False))
            if not delete and isinstance(out.get(key), Mapping):
                out[key] = merge(out[key], value)
                continue
            out[key] = _strip_delete(value)
        else:
            out[key] = _strip_delete(copy.deepcopy(value))
    return out


def _strip_delete(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _strip_delete(v) for k, v in value.items() if k != DELETE_KEY}
    if isinstance(value, list):
        return [_strip_delete(v) for v in value]
    return value


def load_config(path: str | os.PathLike, overrides: Iterable[str] | Mapping[str, Any] | None = None) -> Config:
    """Load a YAML config with its `_base_` chain and apply `overrides`: pure (no plugin, no torch).

    The caller lets plugins see it: `configure_config(load_config(path))`
    ([`videollm_core.plugins.configure_config`][videollm_core.plugins.configure_config]), before validating and building.

    Args:
        path: the YAML file.
        overrides: `["a.b=1", "c.d=[1,2]", "e.0=3"]` (`--cfg-options` strings) or a
            mapping `{"a.b": 1}` whose dotted keys are applied the same way.

    Raises:
        ConfigError: a missing file or base, invalid YAML (with its line), a `_base_`
            cycle, a top level that is not a mapping, or a bad override.
    """
    try:
        file = usable_path(path, "config file").resolve()
    except PathError as e:
        raise ConfigError(e.message, where=e.where, hint=e.hint) from None
    data = _load_tree(file, (), [])
    cfg = Config(data, filename=str(file))
    if overrides:
        apply_overrides(cfg, overrides)
        check_config_tree(cfg, "--cfg-options")
    return cfg


# -- overrides --------------------------------------------------------------
def parse_value(text: str) -> Any:
    """One `--cfg-options` value, as mmengine's `DictAction` reads it.

    `1` -> int, `1e-3` -> float, `true`/`false` -> bool, `None` -> None,
    `[1,2]` / `1,2` -> list, `(1,2)` -> list (configs hold lists only); a plain string
    keeps its spaces (`"online action detection"`).
    """
    from mmengine.config import DictAction

    stripped = text.strip()
    if not any(c in stripped for c in ",[]()"):
        return DictAction._parse_int_float_bool(stripped.strip("'\""))
    if _nesting(stripped) > MAX_CONFIG_DEPTH:
        raise ConfigError(f"option value nested more than {MAX_CONFIG_DEPTH} levels deep", hint="is this really a value? flatten it")
    try:
        value = DictAction._parse_iterable(stripped)
    except AssertionError as e:
        raise ConfigError(f"cannot parse option value {text!r}: {e}", hint="balance the brackets, e.g. a.b=[1,2]") from None
    return plain_data(value)


def _nesting(text: str) -> int:
    """The deepest bracket nesting in `text` (`[[1]]` -> 2)."""
    depth = deepest = 0
    for c in text:
        if c in "[(":
            depth += 1
            deepest = max(deepest, depth)
        elif c in "])":
            depth -= 1
    return deepest


def parse_override(text: str) -> tuple[list[str], Any]:
    """`"a.b.0=3"` -> `(["a", "b", "0"], 3)`."""
    check_text_size(len(text), "--cfg-options", what="the option", limit=MAX_OPTION_BYTES)
    key, sep, value = text.partition("=")
    key = key.strip()
    if not sep or not key or any(not part for part in key.split(".")):
        raise ConfigError(f"bad option {text!r}: expected KEY=VALUE with a dotted KEY (a.b=1, c.0=2)", where="--cfg-options")
    try:
        return key.split("."), parse_value(value)
    except ConfigError as e:
        raise e.relocate(f"--cfg-options {key}")


def apply_overrides(cfg: dict[str, Any], overrides: Iterable[str] | Mapping[str, Any]) -> dict[str, Any]:
    """Set each dotted key of `overrides` in `cfg` (in place) and return `cfg`.

    Missing mappings along the path are created; a numeric part indexes an existing list
    (`e.0=3`). Setting a key inside a scalar, or an index past a list's end, is an error.
    """
    if isinstance(overrides, Mapping):
        items = [(str(k).split("."), copy.deepcopy(v)) for k, v in overrides.items()]
    else:
        overrides = list(overrides)
        check_text_size(sum(len(str(o)) for o in overrides), "--cfg-options", what="the text of all options", limit=MAX_OPTIONS_BYTES)
        items = [parse_override(o) for o in overrides]
    for parts, value in items:
        _set_path(cfg, parts, value)
    return cfg


def _set_path(cfg: dict[str, Any], parts: list[str], value: Any) -> None:
    node: Any = cfg
    for i, part in enumerate(parts):
        here = ".".join(parts[: i + 1])
        last = i == len(parts) - 1
        if isinstance(node, list):
            if not part.lstrip("-").isdigit():
                raise ConfigError(f"'{'.'.join(parts[:i]) or '<root>'}' is a list; '{part}' is not an index", where=here, hint="index lists with numbers: key.0=value")
            index = int(part)
            if not -len(node) <= index < len(node):
                raise ConfigError(f"index {index} is out of range for a list of {len(node)}", where=here,
                                  hint="replace the whole list instead: key=[a,b,c]")
            if last:
                node[index] = value
            else:
                node = node[index]
        elif isinstance(node, dict):
            if last:
                node[part] = value
            else:
                if node.get(part) is None:
                    node[part] = {}
                node = node[part]
        else:
            parent = ".".join(parts[:i])
            raise ConfigError(f"cannot set '{part}' inside '{parent}', which holds the value {node!r}", where=here,
                              hint=f"replace '{parent}' as a whole, or fix the key")


__all__ = [
    "read_yaml",
    "Config",
    "load_config",
    "merge",
    "apply_overrides",
    "parse_override",
    "parse_value",
    "plain_data",
    "BASE_KEY",
    "DELETE_KEY",
]

"""`videollm schema [--out FILE]`: the JSON Schema of a config, with the components of every installed plugin.

Editors read it to complete and check a config as it is typed (the YAML language server:
`# yaml-language-server: $schema=videollm.schema.json` on a config's first line, or a
`yaml.schemas` setting). It states what validation checks without running code: the sections and
`train:` keys with their rules, defaults and meaning (`videollm_core.sections`), the keys plugins
declare (`videollm_config_keys`), and for each component section the registered `type` names and,
once `type` is set, that class's constructor arguments (a misspelt argument is flagged). No key is
required: a file that inherits (`_base_`) may set only what it changes; `videollm-run --dry-run`
still reports what a whole config lacks.
"""
from __future__ import annotations

import argparse
import json
import types
import typing
from typing import Any, Literal, Union, get_args, get_origin

#: keys of the config loader itself, allowed in every mapping (inheritance and deletion).
LOADER_KEYS = {"_base_": {"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]},
               "_delete_": {"type": "boolean"}}


def annotation_schema(annotation: Any) -> dict[str, Any]:
    """A JSON Schema fragment for a constructor annotation (`{}`, anything, where it cannot say)."""
    if isinstance(annotation, str) or annotation in (Any, object, typing.Any):
        return {}
    origin = get_origin(annotation)
    if origin in (Union, types.UnionType):
        return {"anyOf": [annotation_schema(a) for a in get_args(annotation)]}
    if origin is Literal:
        return {"enum": list(get_args(annotation))}
    simple = {type(None): "null", bool: "boolean", int: "integer", float: "number", str: "string", dict: "object"}
    if annotation in simple:
        return {"type": simple[annotation]}
    if origin is dict:
        return {"type": "object"}
    if origin in (list, tuple, typing.Sequence) or annotation in (list, tuple):
        args = [a for a in get_args(annotation) if a is not Ellipsis]
        return {"type": "array", **({"items": annotation_schema(args[0])} if len(set(args)) == 1 else {})}
    return {}


def component_schema(registry: Any) -> dict[str, Any]:
    """`{type: NAME, ...}` of one role: the registered names, then each class's arguments."""
    from videollm_core.signature import accepts_var_kwargs, constructor_parameters, type_hints

    names = registry.names()
    typed = [f"{registry.origin(n)}:{n}" for n in names]
    rules = []
    for name, full in zip(names, typed):
        cls = registry.get(name)
        hints = type_hints(cls)
        props = {k: annotation_schema(hints.get(k, p.annotation)) for k, p in constructor_parameters(cls).items()}
        then: dict[str, Any] = {"properties": {"type": {}, **LOADER_KEYS, **props}}
        if not accepts_var_kwargs(cls):
            then["additionalProperties"] = False
        doc = (cls.__doc__ or "").strip().splitlines()
        rules.append({"if": {"properties": {"type": {"enum": [name, full]}}, "required": ["type"]}, "then": then,
                      **({"description": doc[0]} if doc else {})})
    return {"type": "object", "properties": {"type": {"enum": names + typed, "description": f"a registered {registry.role[:-1]}"}},
            "allOf": rules}


def _section(properties: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "properties": {**LOADER_KEYS, **properties}, "additionalProperties": False}


def config_schema(registries: Any = None) -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a videollm config with `registries`' components and plugin keys."""
    from videollm_core.plugins import REGISTRIES
    from videollm_core.rules import POS_INT, STR, choice
    from videollm_core.sections import ContextConfig, DataConfig, TopConfig, TrainConfig, section_schema, with_keys
    from videollm_core.task_spec import SPLITS
    from videollm_core.types import QUERY_POSITIONS
    from videollm_core.validation import MODEL_COMPONENTS

    registries = registries or REGISTRIES
    registries.ensure_loaded()
    roles = {r.role: component_schema(r) for r in registries}
    datasets = {s: roles["datasets"] for s in SPLITS}
    model = {key: roles[role] for key, (role, _, _) in MODEL_COMPONENTS.items()}
    model.update(head=roles["heads"], prompt=STR.json, query_position=choice(*QUERY_POSITIONS).json,
                 context={**_section(section_schema(ContextConfig)), "required": ["window", "sink"]})
    task = _section({"name": STR.json, "head": roles["heads"], "metric": roles["metrics"], "prompt": STR.json,
                     "weight": {"type": "number", "exclusiveMinimum": 0}, "encoder": roles["encoders"],
                     "translator": roles["translators"], "query_position": choice(*QUERY_POSITIONS).json,
                     "batch_size": POS_INT.json, "data": _section(datasets)})
    keys = registries.config_keys
    train, top = section_schema(with_keys(TrainConfig, keys["train"])), section_schema(with_keys(TopConfig, keys["top"]))
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "videollm-core config",
        "description": "Written by `videollm schema`; components of the plugins installed when it ran.",
        **_section({**top, "model": _section(model), "tasks": {"type": "array", "items": task}, "metric": roles["metrics"],
                    "data": _section({**datasets, **section_schema(DataConfig)}), "train": _section(train)}),
    }


def cmd_schema(args: argparse.Namespace) -> int:
    text = json.dumps(config_schema(), indent=1, default=str) + "\n"
    if args.out:
        from videollm_core.engine.files import atomic_path

        with atomic_path(args.out, "schema") as tmp:
            tmp.write_text(text, encoding="utf-8")
        print(f"wrote {args.out}: point your editor's YAML schema at it (docs/configuration.md)")
    else:
        print(text, end="")
    return 0


def add_schema_command(sub: Any, add_common: Any) -> None:
    """Add `schema` to the `videollm` subcommands."""
    p = sub.add_parser("schema", help="the JSON Schema of a config (every installed plugin's components) for editors")
    p.add_argument("--out", metavar="FILE", help="write it to FILE instead of printing it")
    p.set_defaults(func=cmd_schema)
    add_common(p, suppress=True)


__all__ = ["config_schema", "component_schema", "annotation_schema", "add_schema_command"]

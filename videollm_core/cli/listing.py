"""What ``videollm plugins`` and ``videollm list`` show, as JSON-ready dicts and as text.

JSON shapes:

- plugins: ``[{"name", "module", "distribution", "version", "builtin", "status", "error",
  "api", "registered": {ROLE: [NAME, ...]}}]``
- list: ``{ROLE: [{"name", "plugin", "doc", "params": {PARAM: {"default", "annotation"}}}]}``
- list ROLE NAME: ``{"role", "name", "plugin", "class", "doc", "params"}``
"""
from __future__ import annotations

import difflib
import inspect
from typing import Any, cast

from ..errors import ConfigError
from ..registry import ROLES, Registries
from ..signature import annotation_text, constructor_parameters, type_hints


def describe_parameters(cls: type) -> dict[str, dict[str, Any]]:
    """`{param: {"default": value or "<required>", "annotation": text}}` for listings."""
    hints = type_hints(cls)
    out: dict[str, dict[str, Any]] = {}
    for name, p in constructor_parameters(cls).items():
        default = "<required>" if p.default is inspect.Parameter.empty else p.default
        if not isinstance(default, (str, int, float, bool, type(None), list, dict, tuple)):
            default = repr(default)
        if isinstance(default, tuple):
            default = list(default)
        out[name] = {"default": default, "annotation": annotation_text(hints.get(name, p.annotation))}
    return out


def first_line(cls: type) -> str:
    """The first line of the class's own docstring (``""`` when it has none)."""
    doc = cls.__dict__.get("__doc__") or ""
    return inspect.cleandoc(doc).splitlines()[0] if doc.strip() else ""


def plugins_report(manager: Any) -> list[dict[str, Any]]:
    """Every plugin the manager knows (loaded, blocked, failed...), as dicts."""
    return [info.to_json() for info in manager.plugins()]


def format_plugins(report: list[dict[str, Any]]) -> str:
    """One block per plugin: name, distribution and version, status (with reason), registrations."""
    if not report:
        return "no plugins"
    lines = []
    for p in report:
        origin = f"{p['distribution'] or p['module']} {p['version'] or ''}".strip()
        status = p["status"] if not p["error"] else f"{p['status']}: {p['error']}"
        if p["status"] == "blocked":
            status = f"blocked (-p no:{p['name']})"
        kind = "built-in" if p["builtin"] else "external"
        lines.append(f"{p['name']}  [{kind}, {origin}]  {status}")
        for role, names in p["registered"].items():
            lines.append(f"    {role}: {', '.join(names)}")
    return "\n".join(lines)


def check_role(role: str) -> str:
    """``role`` if it names a registry, else a :class:`ConfigError` suggesting one."""
    if role in ROLES:
        return role
    if role + "s" in ROLES:  # "head" -> "heads"
        return role + "s"
    close = difflib.get_close_matches(role, ROLES, n=3, cutoff=0.5)
    hint = f"did you mean {', '.join(repr(c) for c in close)}?" if close else f"roles: {', '.join(ROLES)}"
    raise ConfigError(f"unknown role '{role}'", where="videollm list", hint=hint)


def components(registries: Registries, role: str | None = None) -> dict[str, list[dict[str, Any]]]:
    """``{ROLE: [{"name", "plugin", "doc", "params"}]}`` for one role or all of them."""
    roles = [check_role(role)] if role else list(ROLES)
    out: dict[str, list[dict[str, Any]]] = {}
    for r in roles:
        reg = registries[r]
        out[r] = [
            {"name": name, "plugin": reg.origin(name), "doc": first_line(cls), "params": describe_parameters(cls)}
            for name in reg.names() for cls in [cast(type, reg.get(name))]  # (a registered name: never None)
        ]
    return out


def component_detail(registries: Registries, role: str, name: str) -> dict[str, Any]:
    """One component: its plugin, class, full docstring and constructor parameters."""
    role = check_role(role)
    reg = registries[role]
    cls = reg.lookup(name, where=f"videollm list {role} {name}")
    plain = name.rpartition(":")[2]
    return {
        "role": role,
        "name": plain,
        "plugin": name.partition(":")[0] if ":" in name else reg.origin(plain),
        "class": f"{cls.__module__}.{cls.__qualname__}",
        "doc": inspect.cleandoc(cls.__dict__.get("__doc__") or ""),
        "params": describe_parameters(cls),
    }


def format_components(listing: dict[str, list[dict[str, Any]]]) -> str:
    """Per role, one line per component: name, origin plugin, first docstring line."""
    lines = []
    for role, items in listing.items():
        lines.append(f"{role}:")
        if not items:
            lines.append("    (none)")
        width = max((len(i["name"]) for i in items), default=0)
        for item in items:
            lines.append(f"    {item['name']:<{width}}  [{item['plugin']}]  {item['doc']}".rstrip())
    return "\n".join(lines)


def format_detail(detail: dict[str, Any]) -> str:
    """Header, parameters (``name: annotation = default``) and the docstring."""
    lines = [f"{detail['role']} {detail['name']}  [plugin {detail['plugin']}]  {detail['class']}", "", "parameters:"]
    if not detail["params"]:
        lines.append("    (none)")
    for pname, p in detail["params"].items():
        ann = f": {p['annotation']}" if p["annotation"] else ""
        default = " (required)" if p["default"] == "<required>" else f" = {p['default']!r}"
        lines.append(f"    {pname}{ann}{default}")
    if detail["doc"]:
        lines += ["", detail["doc"]]
    return "\n".join(lines)


__all__ = ["describe_parameters", "plugins_report", "format_plugins", "components", "component_detail", "format_components", "format_detail", "check_role"]

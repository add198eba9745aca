"""MkDocs hook: pages generated at build time, so they can never drift from the code.

- ``reference/components.md``: every component the built-in plugins register, read from
  live registries (plugin, class, constructor parameters with annotations, defaults and what
  the docstring's ``Args:`` says of each; metric keys; what datasets supply to heads and
  metrics); the docstring itself is rendered by mkdocstrings (a ``:::`` block per class).
- ``reference/errors.md``: every user error the sources raise (``ConfigError``,
  ``DataError``, ``PluginError``, ``RegistryError`` and their subclasses), found in the
  syntax trees of ``videollm_core/`` and ``plugins/``: message, place and hint.

Declared in ``mkdocs.yml`` under ``hooks:``. The render functions are importable on
their own (``tests/docs`` use them).
"""
from __future__ import annotations

import ast
import functools
import html
import inspect
import re
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
COMPONENTS_PAGE = "reference/components.md"
ERRORS_PAGE = "reference/errors.md"
ERROR_BASES = {"UserError", "ConfigError", "ConfigErrors", "RegistryError", "PluginError", "DataError"}
SOURCE_ROOTS = ("videollm_core", "plugins")


# -- component reference ----------------------------------------------------------------
@functools.lru_cache(maxsize=1)
def builtin_registries() -> Any:
    """Fresh registries filled by the built-in plugins only (third-party entry points off)."""
    from videollm_core.plugins import PluginManager
    from videollm_core.registry import Registries

    registries = Registries()
    manager = PluginManager(registries, autoload=False, strict=False)
    manager.load()
    return registries, manager


def _code(text: Any) -> str:
    text = str(text)
    fence = "``" if "`" in text else "`"
    pad = " " if fence == "``" else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _cell(text: Any) -> str:
    """``text`` as inline code in a table cell, written as HTML so that a ``|`` (``int | None``)
    neither splits the cell nor shows as an escaped pipe."""
    return "<code>" + html.escape(str(text)).replace("|", "&#124;") + "</code>"


@functools.lru_cache(maxsize=None)
def _griffe_package(name: str) -> Any:
    import griffe

    # as mkdocs.yml parses them: several names in one Args entry ("in_dim, out_dim: ...") are allowed
    return griffe.load(name, docstring_parser="google",
                       docstring_options={"warn_unknown_params": False, "warn_missing_types": False})


def parameter_docs(cls: type) -> dict[str, str]:
    """``{parameter: description}`` from the Google-style ``Args:`` of the class's or its
    ``__init__``'s docstring (griffe); ``{}`` for a class outside the project's packages."""
    top, _, module = cls.__module__.partition(".")
    if top not in ("videollm_core", "videollm_plugins"):
        return {}
    try:
        obj = _griffe_package(top)[f"{module}.{cls.__qualname__}"]
    except (KeyError, ValueError, AttributeError):  # a class griffe cannot find statically
        return {}
    found: dict[str, str] = {}
    for holder in (obj, obj.members.get("__init__")):
        if holder is None or holder.docstring is None:
            continue
        for section in holder.docstring.parsed:
            if section.kind.value == "parameters":
                for param in section.value:
                    for name in param.name.split(","):
                        found.setdefault(name.strip(), " ".join(param.description.split()))
    return found


def _table_text(markdown: str) -> str:
    """Markdown on one table row: code spans holding a ``|`` become HTML, other pipes entities."""
    def code(m: Any) -> str:
        return _cell(m.group(1)) if "|" in m.group(1) else m.group(0)

    return re.sub(r"`([^`]+)`", code, markdown).replace("|", "&#124;")


def _docstring(cls: type) -> list[str]:
    """The class's docstring, rendered by mkdocstrings (Google style, sections as tables)."""
    if not inspect.cleandoc(cls.__dict__.get("__doc__") or ""):
        return []
    options = ("show_root_heading: false", "show_root_toc_entry: false", "members: false", "show_signature: false",
               "show_bases: false", "show_docstring_parameters: false", "heading_level: 4")
    return [f"::: {cls.__module__}.{cls.__qualname__}", "    options:", *(f"      {o}" for o in options), ""]


def _component(role: str, name: str, registry: Any) -> list[str]:
    from videollm_core.cli.listing import describe_parameters

    cls = registry.get(name)
    lines = [f"### {name}", "", f"plugin `{registry.origin(name)}` · class `{cls.__module__}.{cls.__qualname__}`", ""]
    extras = []
    if role == "metrics":
        extras.append(f"keys: {', '.join(_code(k) for k in cls.keys) or '(none)'}")
        extras.append(f"primary key: {_code(cls.primary_key)} ({'higher' if cls.higher_is_better else 'lower'} is better)")
        extras.append(f"predictions file suffix: {_code(getattr(cls, 'prediction_suffix', '.json') or '.json')}")
    for attr, label in (("provides_head_args", "supplies to the head"), ("provides_metric_args", "supplies to the metric")):
        if getattr(cls, attr, None):
            extras.append(f"{label}: {', '.join(_code(a) for a in getattr(cls, attr))}")
    if role in ("heads", "datasets", "metrics") and getattr(cls, "task", ""):
        extras.append(f"task: {_code(cls.task)}")
    lines += [f"- {e}" for e in extras] + ([""] if extras else [])
    params, described = describe_parameters(cls), parameter_docs(cls)
    if params:
        lines += ["| parameter | type | default | description |", "| --- | --- | --- | --- |"]
        for pname, p in params.items():
            default = "required" if p["default"] == "<required>" else _cell(repr(p["default"]))
            lines.append(f"| {_cell(pname)} | {_cell(p['annotation']) if p['annotation'] else ''} | {default} | "
                         f"{_table_text(described.get(pname, ''))} |")
        lines.append("")
    return lines + _docstring(cls)


def render_components(registries: Any = None, manager: Any = None) -> str:
    """The component reference as Markdown (built-in plugins unless ``registries`` is given)."""
    from videollm_core.base import PLUGIN_API_VERSION
    from videollm_core.registry import ROLES

    if registries is None:
        registries, manager = builtin_registries()
    lines = [
        "# Component reference",
        "",
        "Generated when the documentation is built, from the live registries of the built-in plugins",
        f"(plugin API {PLUGIN_API_VERSION}). The same information, for every installed plugin, comes from",
        "`videollm list ROLE NAME`. Parameters marked *required* that the pipeline or a dataset supplies",
        "(`in_dim`, `out_dim`, `num_classes`, `feature_dim`, `on_error`...) are not written in a config.",
        "",
    ]
    if manager is not None and manager.problems():
        lines += ["!!! warning \"Plugins that did not load while this page was built\"", ""]
        lines += [f"    - `{n}`: {s}" for n, s in sorted(manager.problems().items())] + [""]
    for role in ROLES:
        registry = registries[role]
        names = registry.names()
        lines += [f"## {role}", "", f"{len(names)} registered: " + (", ".join(f"[{n}](#{n.lower()})" for n in names) or "(none)"), ""]
        for name in names:
            lines += _component(role, name, registry)
    return "\n".join(lines) + "\n"


# -- error catalogue --------------------------------------------------------------------
def _text(node: ast.AST | None) -> str:
    """A message expression as readable text: f-string parts kept, expressions as ``{expr}``."""
    if node is None:
        return ""
    if isinstance(node, ast.Constant):
        return str(node.value)
    if isinstance(node, ast.JoinedStr):
        return "".join(_text(v) if isinstance(v, ast.Constant) else "{" + ast.unparse(v.value) + "}" for v in node.values)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return _text(node.left) + _text(node.right)
    return "{" + ast.unparse(node) + "}"


def _error_classes(trees: dict[Path, ast.Module]) -> set[str]:
    """``ERROR_BASES`` plus every class in the sources that derives from one of them."""
    names = set(ERROR_BASES)
    changed = True
    while changed:
        changed = False
        for tree in trees.values():
            for node in ast.walk(tree):
                if isinstance(node, ast.ClassDef) and node.name not in names:
                    bases = {b.id if isinstance(b, ast.Name) else getattr(b, "attr", "") for b in node.bases}
                    if bases & names:
                        names.add(node.name)
                        changed = True
    return names


def collect_errors(roots: tuple[str, ...] = SOURCE_ROOTS, repo: Path = REPO) -> list[dict[str, Any]]:
    """``[{"file", "line", "error", "message", "where", "hint"}]`` for every ``raise XError(...)``."""
    trees = {}
    for root in roots:
        for path in sorted((repo / root).rglob("*.py")):
            trees[path] = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    classes = _error_classes(trees)
    found = []
    for path, tree in trees.items():
        for node in ast.walk(tree):
            call = node.exc if isinstance(node, ast.Raise) else None
            if not isinstance(call, ast.Call):
                continue
            func = call.func.id if isinstance(call.func, ast.Name) else getattr(call.func, "attr", "")
            if func not in classes or func == "ConfigErrors":
                continue
            kwargs = {k.arg: k.value for k in call.keywords}
            found.append({"file": str(path.relative_to(repo)), "line": node.lineno, "error": func,
                          "message": _text(call.args[0]) if call.args else "", "where": _text(kwargs.get("where")),
                          "hint": _text(kwargs.get("hint"))})
    return found


def render_errors(errors: list[dict[str, Any]] | None = None) -> str:
    """The error catalogue as Markdown, one section per source file."""
    errors = collect_errors() if errors is None else errors
    lines = [
        "# Error catalogue",
        "",
        "Every error a user can cause, generated from the source code when the documentation is built",
        f"({len(errors)} places). The CLI prints such an error as `error: WHERE: MESSAGE` and a `hint:` line, and",
        "exits with status 2; `{...}` stands for a value filled in at run time. See",
        "[Troubleshooting](../troubleshooting.md) for the usual causes and fixes.",
        "",
    ]
    by_file: dict[str, list[dict[str, Any]]] = {}
    for e in errors:
        by_file.setdefault(e["file"], []).append(e)
    for file, items in by_file.items():
        lines += [f"## {file}", ""]
        for e in sorted(items, key=lambda x: x["line"]):
            text = f"- **{e['error']}** (line {e['line']}): {_code(e['message'] or '(message built at run time)')}"
            if e["where"]:
                text += f"; where: {_code(e['where'])}"
            if e["hint"]:
                text += f"; hint: {_code(e['hint'])}"
            lines.append(text)
        lines.append("")
    return "\n".join(lines) + "\n"


# -- task table ---------------------------------------------------------------------------
TASKS_MARKER = "<!-- videollm:tasks -->"


def render_tasks(registries: Any = None) -> str:
    """The tasks as two tables that fit a page: what each task is built from (heads, datasets,
    example config), then what it scores (official keys, primary key, predictions file)."""
    if registries is None:
        registries, _ = builtin_registries()

    def by_task(role: str, task: str) -> str:
        names = [n for n in registries[role].names() if getattr(registries[role].get(n), "task", "") == task]
        return ", ".join(f"[{n}](reference/components.md#{n.lower()})" for n in names)

    def link(task: str) -> str:
        return f"[{task}](reference/components.md#{task.lower()})"

    built = ["| task (metric) | heads | datasets | example |", "| --- | --- | --- | --- |"]
    scored = ["| task | official keys | primary | predictions |", "| --- | --- | --- | --- |"]
    for task in registries.metrics.names():
        cls = registries.metrics.get(task)
        example = REPO / "examples" / f"{task}.yaml"
        built.append(f"| {link(task)} | {by_task('heads', task)} | {by_task('datasets', task)} | "
                     f"{_cell(f'examples/{task}.yaml') if example.is_file() else ''} |")
        suffix = getattr(cls, "prediction_suffix", ".json") or ".json"
        arrow = "&uarr;" if cls.higher_is_better else "&darr;"
        scored.append(f"| {link(task)} | {', '.join(_cell(k) for k in cls.keys)} | {_cell(cls.primary_key)} {arrow} | "
                      f"{_cell(suffix)}{' (a folder)' if str(suffix).endswith('/') else ''} |")
    return "\n".join(built) + "\n\nWhat each task scores, and the file its predictions are written to:\n\n" + "\n".join(scored) + "\n"


# -- the mkdocs events --------------------------------------------------------------------
def on_config(config: Any) -> Any:
    """Leave out of the navigation the pages that do not exist yet (written by others)."""
    docs = Path(config["docs_dir"])
    generated = {COMPONENTS_PAGE, ERRORS_PAGE}

    def keep(item: Any) -> Any:
        if isinstance(item, dict):
            (title, target), = item.items()
            if isinstance(target, list):
                kept = [k for k in (keep(t) for t in target) if k is not None]
                return {title: kept} if kept else None
            return item if keep(target) is not None else None
        if isinstance(item, str) and item.endswith(".md") and "://" not in item:
            return item if (docs / item).is_file() or item in generated else None
        return item

    if config.get("nav"):
        config["nav"] = [k for k in (keep(i) for i in config["nav"]) if k is not None]
    return config


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    """Fill the generated tables into the pages that hold their markers."""
    if TASKS_MARKER in markdown:
        markdown = markdown.replace(TASKS_MARKER, render_tasks())
    return markdown


def on_files(files: Any, config: Any) -> Any:
    """Add the generated pages to the site's files (before the navigation is built)."""
    from mkdocs.structure.files import File

    for uri, render in ((COMPONENTS_PAGE, render_components), (ERRORS_PAGE, render_errors)):
        if files.get_file_from_path(uri) is not None:
            files.remove(files.get_file_from_path(uri))
        files.append(File.generated(config, uri, content=render()))
    return files

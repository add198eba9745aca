"""Rewrite reStructuredText in docstrings and comments as the Markdown that mkdocstrings renders.

What changes, and only inside docstrings (a bare string statement: module, class, function and
attribute docstrings) and ``#`` comments; every other string literal (error messages, which
tests match) is left as it is:

- a role (``:class:``, ``:func:``, ``:meth:``, ``:attr:``, ``:data:``, ``:mod:``, ``:exc:``,
  ``:obj:``; ``~`` and ``title <target>`` forms) becomes a mkdocstrings cross-reference
  ``[`Name`][package.module.Name]`` when the built site has that object's anchor, else inline
  code ``Name``; in comments always inline code;
- double-backtick literals become single-backtick code (a literal that holds a backtick keeps
  the double form, which Markdown reads alike);
- ``:param name: text`` / ``:returns: text`` / ``:raises Error: text`` fields become Google
  ``Args:`` / ``Returns:`` / ``Raises:`` sections;
- a literal block's ``Text::`` becomes ``Text:`` (the indented block under it is a Markdown code
  block already); a ``::`` line alone is dropped.

Names are resolved as Sphinx would: the module's own definitions and imports, the enclosing
class for a bare member name, then aliases followed to where the object is defined (griffe).
The anchors come from a site built into a temporary folder (``--site DIR`` reuses one).
The rewrite is idempotent: a second run changes nothing.

Usage::

    python docs/tools/convert_docstrings.py [PATH ...] [--exclude GLOB ...] [--site DIR] [--check]

``PATH`` defaults to ``videollm_core plugins``; ``--check`` changes nothing and exits with 1
when a file would change (it lists them).
"""
from __future__ import annotations

import argparse
import ast
import fnmatch
import io
import re
import subprocess
import sys
import tempfile
import tokenize
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PACKAGES = {"videollm_core": "videollm_core", "plugins": "videollm_plugins"}
ROLE = re.compile(r":(?:py:)?(?:class|func|meth|attr|data|mod|exc|obj|const):`(?P<body>[^`]+)`")
# a literal may run over a line break, never over a blank line; pairs are taken left to right
DOUBLE = re.compile(r"(?<![`\\])``(?!`)(?P<body>(?:(?!\n[ \t]*\n)[\s\S])+?)(?<!`)``(?!`)")
FIELD = re.compile(r"^(?P<indent>[ \t]*):(?P<kind>param|parameter|arg|returns?|raises?|yields?)"
                   r"(?:[ \t]+(?P<name>[^:]+?))?:[ \t]*(?P<text>.*)$")
SECTION = {"param": "Args", "parameter": "Args", "arg": "Args", "return": "Returns", "returns": "Returns",
           "raise": "Raises", "raises": "Raises", "yield": "Yields", "yields": "Yields"}
ANCHOR = re.compile(r'id="((?:videollm_core|videollm_plugins)\.[\w.]+)"')


# -- where names point --------------------------------------------------------------------
def module_name(path: Path) -> str:
    """``plugins/tasks/oad/head.py`` -> ``videollm_plugins.tasks.oad.head``."""
    rel = path.resolve().relative_to(REPO).with_suffix("")
    parts = [PACKAGES.get(rel.parts[0], rel.parts[0]), *rel.parts[1:]]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def namespace(tree: ast.Module, module: str, is_package: bool) -> dict[str, str]:
    """The names a module defines or imports (anywhere, ``TYPE_CHECKING`` blocks included) -> full paths."""
    package = module if is_package else module.rpartition(".")[0]
    names: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            base = package.split(".")
            base = base[: len(base) - node.level + 1] if node.level else []
            source = ".".join([*base, *(node.module.split(".") if node.module else [])])
            for alias in node.names:
                names.setdefault(alias.asname or alias.name, f"{source}.{alias.name}")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                names.setdefault(alias.asname or alias.name.split(".")[0], alias.name if alias.asname else alias.name.split(".")[0])
    for node in tree.body:
        if isinstance(node, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            names[node.name] = f"{module}.{node.name}"
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            for target in node.targets if isinstance(node, ast.Assign) else [node.target]:
                if isinstance(target, ast.Name):
                    names[target.id] = f"{module}.{target.id}"
    return names


class Resolver:
    """Full, canonical paths of the objects a role names, and the anchors the site has."""

    def __init__(self, anchors: set[str]) -> None:
        import griffe

        import videollm_core

        self.anchors = anchors
        self.lazy = {name: f"videollm_core.{mod}.{attr}" for name, (mod, attr) in videollm_core._LAZY.items()}
        loader = griffe.GriffeLoader()
        self.packages = {name: loader.load(name) for name in ("videollm_core", "videollm_plugins")}

    def canonical(self, path: str) -> str:
        head, _, rest = path.partition(".")
        if head == "videollm_core" and rest.split(".")[0] in self.lazy:
            first, _, tail = rest.partition(".")
            path = self.lazy[first] + (f".{tail}" if tail else "")
            head, _, rest = path.partition(".")
        if head not in self.packages or not rest:
            return path
        try:
            return self.packages[head][rest].canonical_path
        except Exception:  # griffe: not found, or an alias it cannot follow
            return path

    def full(self, target: str, names: dict[str, str], module: str, cls: str | None) -> str:
        head, _, tail = target.partition(".")
        if head in names:
            path = names[head] + (f".{tail}" if tail else "")
        elif head in ("videollm_core", "videollm_plugins"):
            path = target
        elif cls is not None:
            path = f"{module}.{cls}.{target}"
        else:
            path = f"{module}.{target}"
        return self.canonical(path)


@dataclass
class Context:
    """What a piece of text is resolved against: its module and its enclosing class."""

    resolver: Resolver | None
    names: dict[str, str] = field(default_factory=dict)
    module: str = ""
    cls: str | None = None


# -- the text rewrites --------------------------------------------------------------------
def _role(match: re.Match[str], ctx: Context, link: bool) -> str:
    body = match.group("body").strip()
    titled = re.match(r"^(?P<title>.*?)\s*<(?P<target>[^<>]+)>$", body)
    title, target = (titled.group("title"), titled.group("target")) if titled else (None, body)
    short = target.startswith("~")
    target = target.lstrip("~.")
    text = title or (target.rsplit(".", 1)[-1] if short else target)
    if link and ctx.resolver is not None:
        path = ctx.resolver.full(target, ctx.names, ctx.module, ctx.cls)
        if path in ctx.resolver.anchors:
            return f"[`{text}`][{path}]"
    return f"`{text}`"


def _double(match: re.Match[str]) -> str:
    body = match.group("body")
    return match.group(0) if "`" in body else f"`{body}`"


def inline(text: str, ctx: Context, link: bool) -> str:
    """Roles and double-backtick literals in ``text``."""
    return DOUBLE.sub(_double, ROLE.sub(lambda m: _role(m, ctx, link), text))


def fields_to_sections(text: str) -> str:
    """``:param x: ...`` runs -> a Google ``Args:`` section (likewise returns, raises)."""
    lines, out, section, i = text.split("\n"), [], None, 0
    while i < len(lines):
        m = FIELD.match(lines[i])
        if not m:
            section = None if lines[i].strip() else section
            out.append(lines[i])
            i += 1
            continue
        indent, title = m.group("indent"), SECTION[m.group("kind")]
        if section != title:
            out.append(f"{indent}{title}:")
            section = title
        name = (m.group("name") or "").split()[-1:] if title == "Args" else [m.group("name") or ""]
        label = name[0] if name and name[0] else ""
        out.append(f"{indent}    {label + ': ' if label else ''}{m.group('text')}".rstrip())
        i += 1
        while i < len(lines) and lines[i].strip() and not FIELD.match(lines[i]) \
                and len(lines[i]) - len(lines[i].lstrip()) > len(indent):
            out.append(f"{indent}        {lines[i].strip()}")
            i += 1
    return "\n".join(out)


def literal_blocks(text: str) -> str:
    """``Text::`` -> ``Text:``; a ``::`` line alone is dropped."""
    out = []
    for line in text.split("\n"):
        if line.strip() == "::":
            continue
        out.append(line[: len(line.rstrip()) - 1] if line.rstrip().endswith("::") else line)
    return "\n".join(out)


def convert_docstring(text: str, ctx: Context) -> str:
    """One docstring's source text (between its quotes), rewritten."""
    return literal_blocks(fields_to_sections(inline(text, ctx, link=True)))


# -- finding docstrings and comments --------------------------------------------------------
def docstring_owners(tree: ast.Module) -> dict[tuple[int, int], str | None]:
    """``(line, column)`` of every bare string statement -> the qualified name of its enclosing class."""
    found: dict[tuple[int, int], str | None] = {}

    def visit(node: ast.AST, cls: str | None) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Expr) and isinstance(child.value, ast.Constant) and isinstance(child.value.value, str):
                found[(child.value.lineno, child.value.col_offset)] = cls
            inner = cls
            if isinstance(child, ast.ClassDef):
                inner = f"{cls}.{child.name}" if cls else child.name
            elif isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                inner = cls  # a method's docstring resolves bare names against its class
            visit(child, inner)

    visit(tree, None)
    return found


def _split_string(token: str) -> tuple[str, str, str]:
    m = re.match(r"^(?P<prefix>[rRuUbB]*)(?P<quote>'''|\"\"\"|'|\")", token)
    prefix, quote = m.group("prefix"), m.group("quote")
    return prefix + quote, token[len(prefix) + len(quote): len(token) - len(quote)], quote


def convert_source(source: str, path: Path, resolver: Resolver | None) -> str:
    """The file's source with its docstrings and comments rewritten."""
    tree = ast.parse(source)
    module = module_name(path)
    ctx = Context(resolver, namespace(tree, module, path.name == "__init__.py"), module)
    owners = docstring_owners(tree)
    starts = [0]
    for line in source.splitlines(keepends=True):
        starts.append(starts[-1] + len(line))
    edits = []
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.STRING and tok.start in owners:
            ctx.cls = owners[tok.start]
            head, body, quote = _split_string(tok.string)
            new = head + convert_docstring(body, ctx) + quote
        elif tok.type == tokenize.COMMENT:
            new = inline(tok.string, ctx, link=False)
        else:
            continue
        if new != tok.string:
            edits.append((starts[tok.start[0] - 1] + tok.start[1], starts[tok.end[0] - 1] + tok.end[1], new))
    for begin, end, new in reversed(edits):
        source = source[:begin] + new + source[end:]
    return source


# -- the command ------------------------------------------------------------------------------
def site_anchors(site: Path | None) -> set[str]:
    """The ids of the objects the site documents (mkdocstrings headings), from ``site`` or a fresh build."""
    if site is None:
        tmp = Path(tempfile.mkdtemp(prefix="videollm-site-"))
        subprocess.run([sys.executable, "-m", "mkdocs", "build", "-q", "-d", str(tmp)], cwd=REPO, check=True)
        site = tmp
    return {m for page in site.rglob("*.html") for m in ANCHOR.findall(page.read_text(encoding="utf-8"))}


def python_files(paths: list[str], exclude: list[str]) -> list[Path]:
    files = []
    for p in paths:
        root = (REPO / p).resolve()
        for f in sorted([root] if root.is_file() else root.rglob("*.py")):
            rel = f.relative_to(REPO).as_posix()
            if not any(fnmatch.fnmatch(rel, g) or rel.startswith(g.rstrip("/") + "/") for g in exclude):
                files.append(f)
    return files


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("paths", nargs="*", default=["videollm_core", "plugins"])
    p.add_argument("--exclude", nargs="*", default=[], help="files or folders (globs, relative to the repository)")
    p.add_argument("--site", type=Path, help="a built site to read anchors from (default: build one)")
    p.add_argument("--check", action="store_true", help="change nothing; exit 1 if a file would change")
    args = p.parse_args(argv)
    resolver = Resolver(site_anchors(args.site))
    changed = []
    for f in python_files(args.paths, args.exclude):
        old = f.read_text(encoding="utf-8")
        new = convert_source(old, f, resolver)
        if new != old:
            changed.append(f.relative_to(REPO).as_posix())
            if not args.check:
                f.write_text(new, encoding="utf-8")
    print(("would change" if args.check else "changed") + f" {len(changed)} file(s)" + "".join(f"\n  {c}" for c in changed))
    return 1 if args.check and changed else 0


if __name__ == "__main__":
    sys.exit(main())

"""docs/tools/convert_docstrings.py: reStructuredText in docstrings and comments becomes Markdown
that mkdocstrings renders; every other string is left alone; a second run changes nothing."""
from __future__ import annotations

import ast
import importlib.util
import subprocess
import sys

import pytest

from videollm_docs_install import REPO

spec = importlib.util.spec_from_file_location("convert_docstrings", REPO / "docs" / "tools" / "convert_docstrings.py")
convert = sys.modules.setdefault("convert_docstrings", importlib.util.module_from_spec(spec))  # dataclasses look it up
spec.loader.exec_module(convert)

SOURCE = '''"""A module: see :class:`~videollm_core.data.Metric` and :func:`helper`.

Layout of a folder::

    config.yaml   the ``model`` part
"""
from videollm_core.data import DataErrors

MESSAGE = "the ``on_error`` of :class:`X` must be 'raise'"  # an error message: ``kept``? no, a comment: converted


class Reader:
    """Reads ``files`` with :class:`DataErrors` (:attr:`skipped` lines).

    :param path: the file,
        relative to the ``root``.
    :param strict: raise at once.
    :returns: ``{name: value}`` of
        the file.
    """

    def read(self):
        """:meth:`read` once; a literal over a line break: ``a b
        c``, and ``d``."""
        raise ValueError(":class:`Reader` got ``nothing``")


def helper():
    """Plain text and `code` already."""
'''


class Anchors:
    """A resolver without griffe: names resolve as the module's namespace says; these anchors exist."""

    anchors = {"videollm_core.data.Metric", "videollm_core.data.DataErrors", "videollm_plugins.example.helper"}

    def full(self, target, names, module, cls):
        head, _, tail = target.partition(".")
        if head in names:
            return names[head] + (f".{tail}" if tail else "")
        if head.startswith("videollm_"):
            return target
        return f"{module}.{cls}.{target}" if cls else f"{module}.{target}"


@pytest.fixture
def converted():
    return convert.convert_source(SOURCE, REPO / "plugins" / "example.py", Anchors())


def test_roles_become_cross_references_where_the_site_has_the_object(converted):
    assert '"""A module: see [`Metric`][videollm_core.data.Metric] and [`helper`][videollm_plugins.example.helper].' in converted
    assert "Reads `files` with [`DataErrors`][videollm_core.data.DataErrors] (`skipped` lines)." in converted
    assert '"""`read` once;' in converted  # a member the site does not document: inline code


def test_fields_literals_and_literal_blocks(converted):
    assert ("    Args:\n        path: the file,\n            relative to the `root`.\n        strict: raise at once.\n"
            "    Returns:\n        `{name: value}` of\n            the file.\n") in converted
    assert "Layout of a folder:\n\n    config.yaml   the `model` part" in converted
    assert "``a b\n        c``" not in converted and "`a b\n        c`, and `d`." in converted


def test_other_strings_are_left_alone_and_comments_get_code_only(converted):
    tree, original = ast.parse(converted), ast.parse(SOURCE)
    strings = [n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)]
    assert "the ``on_error`` of :class:`X` must be 'raise'" in strings and ":class:`Reader` got ``nothing``" in strings
    assert "# an error message: `kept`? no, a comment: converted" in converted
    assert ast.dump(tree).count("Constant") == ast.dump(original).count("Constant")  # nothing else moved


def test_a_second_run_changes_nothing(converted):
    assert convert.convert_source(converted, REPO / "plugins" / "example.py", Anchors()) == converted


@pytest.mark.subprocess
def test_the_converted_sources_stay_converted(tmp_path):
    """Files once converted (the kernel's hook specs, the base classes) hold no role that the tool would still rewrite."""
    done = subprocess.run([sys.executable, str(REPO / "docs" / "tools" / "convert_docstrings.py"), "--check",
                           "videollm_core/hookspecs.py", "videollm_core/base.py", "videollm_core/data.py", "--site", str(tmp_path)],
                          cwd=str(REPO), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr

"""Hypothesis strategies for hostile data files (``test_fuzz_readers.py``): a valid file's bytes
with one damage a buggy script or a hostile colleague could make.

- ``truncate``: cut anywhere (a full disk, an interrupted copy);
- ``insert``: bytes dropped in (NUL, a lone UTF-8 continuation byte, a Latin-1 letter, a BOM);
- ``token``: one number, string or name replaced by another kind of value (``"x"``, ``null``,
  ``NaN``, ``Infinity``, ``-1``, ``1e308``, a 30-digit integer, ``[]``, ``{}``, odd unicode);
- ``json``: for JSON files, one value anywhere in the tree replaced by random JSON;
- ``nest``: the whole file wrapped in thousands of brackets;
- ``empty``, ``latin1`` (re-encoded), ``repeat`` (the file twice, as a bad ``cat`` would).
"""
from __future__ import annotations

import json
import re
from typing import Any

from hypothesis import strategies as st

from fuzz_strategies import WEIRD_TEXT

#: what a token of the file may become.
TOKENS = ('"x"', "null", "NaN", "Infinity", "-Infinity", "-1", "-0.5", "1e308", "123456789012345678901234567890", "[]", "{}",
          "true", '""', "[1, [2, [3]]]", "0", '"\\ud800"', "x,y", "\t", "###")
#: bytes a damaged file may hold.
BYTES = (b"\x00", b"\x80", b"\xe9", b"\xef\xbb\xbf", b"\xff\xfe", b"\n", b"\r", b'"', b"[", b"{", b",")
_TOKEN = re.compile(rb'-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?|"(?:[^"\\\n]|\\.)*"|[A-Za-z_][\w.-]*')

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2 ** 70, 2 ** 70) | st.sampled_from([0.5, -1.0, 1e308, -1e308])
    | st.sampled_from(WEIRD_TEXT) | st.text(max_size=6),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8,
)


def _paths(node: Any, prefix: tuple = ()) -> list[tuple]:
    out = [prefix]
    if isinstance(node, dict):
        for k, v in list(node.items())[:50]:
            out += _paths(v, prefix + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node[:50]):
            out += _paths(v, prefix + (i,))
    return out


def _json_replace(draw, text: bytes) -> bytes | None:
    try:
        tree = json.loads(text)
    except ValueError:
        return None
    paths = _paths(tree)
    path = draw(st.sampled_from(paths))
    value = draw(json_values)
    if not path:
        return json.dumps(value).encode()
    node = tree
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return json.dumps(tree).encode()


@st.composite
def damaged(draw, seed: bytes) -> bytes:
    """``seed`` with one damage (see the module docstring)."""
    kind = draw(st.sampled_from(["truncate", "insert", "token", "token", "json", "json", "nest", "empty", "latin1", "repeat"]))
    if kind == "truncate":
        return seed[: draw(st.integers(0, max(0, len(seed) - 1)))]
    if kind == "insert":
        at = draw(st.integers(0, len(seed)))
        return seed[:at] + draw(st.sampled_from(BYTES)) + seed[at:]
    if kind == "json":
        out = _json_replace(draw, seed)
        if out is not None:
            return out
    if kind in ("token", "json"):
        tokens = list(_TOKEN.finditer(seed[:200_000]))
        if tokens:
            m = draw(st.sampled_from(tokens[:2000]))
            return seed[: m.start()] + draw(st.sampled_from(TOKENS)).encode() + seed[m.end():]
        return seed + draw(st.sampled_from(TOKENS)).encode()
    if kind == "nest":
        depth = draw(st.sampled_from([3000, 100_000]))
        return b"[" * depth + seed + b"]" * depth
    if kind == "empty":
        return b""
    if kind == "latin1":
        return seed.decode("utf-8", "replace").replace("e", "\u00e9", 3).encode("latin-1", "replace")
    return seed + seed


__all__ = ["damaged", "json_values", "TOKENS", "BYTES"]

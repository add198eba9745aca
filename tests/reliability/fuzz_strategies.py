"""Hypothesis strategies for the hostile-input fuzzer (``test_fuzz.py``).

- :func:`yaml_documents`: arbitrary YAML text: dumped random data (aliases included), raw
  unicode, and broken fragments;
- :func:`example_mutations`: a shipped example with a few random edits: keys dropped,
  renamed, retyped, nested, set huge / negative / NaN / unicode, or aliased to another part;
- :func:`cfg_options`: random ``--cfg-options`` items;
- :func:`hostile_paths`: paths that cannot be used (a file, under a file, /proc, NUL bytes,
  very long, unicode) for ``--work-dir``, data paths and the config itself.

Values are bounded so that a config that survives every check stays cheap to dry-run:
random integers stay in [-64, 64] and "huge" sizes are above the validator's 2^24 cap.
Demo-generator parameters (``demo:``) get no huge values: they are generation requests,
and how large a demo a generator may make is its own business.
"""
from __future__ import annotations

import copy
import math
import os
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from mutations import ROOT

#: ``VIDEOLLM_FUZZ_EXAMPLES=N``: explore with N random (not derandomized) examples per test, for a
#: longer hunt on a developer machine; unset (CI), every test runs its fixed, derandomized set.
EXPLORE = int(os.environ.get("VIDEOLLM_FUZZ_EXAMPLES", "0") or 0)


def fuzz(examples: int):
    """Bounded hypothesis settings, derandomized unless exploring (no example database written to the repo)."""
    return settings(max_examples=EXPLORE or examples, derandomize=not EXPLORE, deadline=None, database=None, print_blob=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                           HealthCheck.filter_too_much, HealthCheck.data_too_large])


#: sizes every size check refuses (> 2^24), and far past it.
HUGE = (2 ** 24 + 1, 10 ** 9, 2 ** 63, 10 ** 40)
FLOATS = (0.0, -0.0, 0.5, -1.5, math.nan, math.inf, -math.inf, 1e308, 5e-324)
WEIRD_TEXT = ("", " ", "\u00e9\u00e8\u4e2d\u6587", "\U0001f600", "a\u0000b", "../../../etc/passwd", "%s%n{0}", "\u202etxt.exe",
              "~", "$HOME", "null", "true", "1e3", "0x10", "- item", "key: value", "*alias", "&anchor", "!!python/name:os.system")

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-64, 64), st.sampled_from(HUGE), st.sampled_from([-h for h in HUGE]),
    st.sampled_from(FLOATS), st.sampled_from(WEIRD_TEXT), st.text(max_size=12),
)
keys = st.one_of(st.sampled_from(["type", "model", "data", "train", "encoder", "llm", "head", "in_dim", "demo", "_base_",
                                  "_delete_", "tasks", "<<"]), st.text(min_size=1, max_size=10))
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(keys, inner, max_size=4)),
                      max_leaves=12)


def _aliased(data: Any, draw) -> Any:
    """``data`` with one part shared by two places, so ``safe_dump`` writes an anchor and an alias."""
    if isinstance(data, dict) and len(data) >= 2:
        a, b = draw(st.permutations(list(data)))[:2]
        data = dict(data)
        data[b] = data[a]
    return data


@st.composite
def yaml_documents(draw) -> str:
    """Random YAML text: valid documents of random data, raw text, or broken fragments."""
    kind = draw(st.sampled_from(["data", "aliased", "text", "fragments"]))
    if kind in ("data", "aliased"):
        data = draw(st.dictionaries(keys, values, max_size=6))
        if kind == "aliased":
            data = _aliased(data, draw)
        return yaml.safe_dump(data, allow_unicode=draw(st.booleans()))
    if kind == "text":
        return draw(st.text(max_size=200))
    parts = ["model:", "  encoder: {type: ", "[", "]", "{", "}", "&a ", "*a", "*b", "<<: ", "!!binary ", "!!set ",
             "? ", ": ", "- ", "\t", "\n", "'", '"', "%YAML 1.2\n", "---\n", "...\n", "#", "\\", "\u2028", "\ufeff"]
    return "".join(draw(st.lists(st.sampled_from(parts) | st.text(max_size=6), max_size=30)))


def example_sources() -> dict[str, dict[str, Any]]:
    """Every shipped ``examples/*.yaml``, resolved (``_base_`` merged)."""
    from videollm_core.config import load_config

    return {f.stem: dict(load_config(f)) for f in sorted((ROOT / "examples").glob("*.yaml"))}


def _paths(node: Any, prefix: tuple = ()) -> list[tuple]:
    """Every key path in ``node`` (mappings and lists), depth first."""
    out = []
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for k, v in items:
        out.append(prefix + (k,))
        out.extend(_paths(v, prefix + (k,)))
    return out


def _parent(cfg: Any, path: tuple) -> Any:
    node = cfg
    for k in path[:-1]:
        node = node[k]
    return node


@st.composite
def example_mutations(draw, sources: dict[str, dict[str, Any]]) -> tuple[str, str]:
    """``(example name, YAML text)``: one example with 1-3 random edits."""
    name = draw(st.sampled_from(sorted(sources)))
    cfg = copy.deepcopy(sources[name])
    for _ in range(draw(st.integers(1, 3))):
        paths = _paths(cfg)
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent, key = _parent(cfg, path), path[-1]
        op = draw(st.sampled_from(["drop", "rename", "retype", "nest", "huge", "negative", "nan", "unicode", "alias"]))
        in_demo = "demo" in path
        if op == "drop":
            del parent[key]
        elif op == "rename" and isinstance(parent, dict):
            parent[draw(keys)] = parent.pop(key)
        elif op == "retype":
            parent[key] = draw(values)
        elif op == "nest":
            parent[key] = draw(st.sampled_from([[parent[key]], {"value": parent[key]}, {"type": parent[key]}]))
        elif op == "huge" and not in_demo:
            parent[key] = draw(st.sampled_from(HUGE + (1e308, math.inf)))
        elif op == "negative":
            parent[key] = draw(st.sampled_from([-1, -64, -(2 ** 63), -1e308]))
        elif op == "nan":
            parent[key] = math.nan
        elif op == "unicode":
            parent[key] = draw(st.sampled_from(WEIRD_TEXT) | st.text(max_size=12))
        elif op == "alias":
            other = draw(st.sampled_from(paths))
            if other[: len(path)] != path and path[: len(other)] != other:  # never a node inside itself (a cycle)
                parent[key] = _parent(cfg, other)[other[-1]]
    return name, yaml.safe_dump(cfg, allow_unicode=True, sort_keys=False)


option_keys = st.lists(st.one_of(st.sampled_from(["model", "data", "train", "encoder", "in_dim", "llm", "config", "0", "-1",
                                                  "99", "type", "demo", "tasks", "head", "work_dir", "seed"]),
                                 st.text(max_size=5)), min_size=0, max_size=5).map(".".join)
option_values = st.one_of(st.sampled_from(["1", "-1", "nan", "inf", "1e400", "None", "true", "[1,2", "[[[]]]", "(1,", "a,b,,",
                                           "'quoted'", "\"", "=", "[" * 40 + "]" * 40, "x" * 5000, "${HOME}", "!!python/name:os"]),
                          st.text(max_size=20))
cfg_options = st.lists(st.builds(lambda k, eq, v: f"{k}{eq}{v}", option_keys, st.sampled_from(["=", "=", "=", "", "=="]),
                                 option_values), min_size=1, max_size=4)


@st.composite
def hostile_paths(draw, folder: Path) -> str:
    """A path under ``folder`` (or a system path) that may not be usable: ``folder`` holds a file ``afile``."""
    choice = draw(st.sampled_from(["file", "under_file", "proc", "nul", "long", "unicode", "dots", "dev", "empty", "fresh"]))
    return {
        "file": lambda: str(folder / "afile"),
        "under_file": lambda: str(folder / "afile" / "sub"),
        "proc": lambda: draw(st.sampled_from(["/proc/version/x", "/proc/1/nope", "/sys/x/y"])),
        "nul": lambda: str(folder / "a\x00b"),
        "long": lambda: str(folder / ("n" * 300)),
        "unicode": lambda: str(folder / draw(st.text(min_size=1, max_size=8).filter(lambda t: "/" not in t and "\x00" not in t))),
        "dots": lambda: str(folder / ".." / ".." / "nonexistent-videollm" / "x"),
        "dev": lambda: draw(st.sampled_from(["/dev/null", "/dev/zero/x"])),
        "empty": lambda: "",
        "fresh": lambda: str(folder / "work"),
    }[choice]()

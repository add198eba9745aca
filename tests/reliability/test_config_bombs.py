"""Issue 16, part 1: reading a config is bounded, however the config was made.

Alias bombs ("billion laughs", merge-key chains, aliases to their own container), deep
nesting, huge files and scalars, ``_base_`` fan-out and oversized ``--cfg-options`` all exit
2 naming the cause. The bound is checked by counting work, not by timing: a refused
document is never constructed into Python objects at all.
"""
from __future__ import annotations

import contextlib
import io

import pytest
import yaml

from videollm_core import config_limits as limits
from videollm_core.config import load_config
from videollm_core.errors import ConfigError


def billion_laughs(levels: int = 9, width: int = 9, key: str = "model") -> str:
    """The issue's nine-level alias chain: ``a: &a [lol x9]``, ``b: &b [*a x9]``, ... ``model: *i``."""
    names = "abcdefghijklmnopqrstuvwxyz"[:levels]
    lines = [f"a: &a [{', '.join(['lol'] * width)}]"]
    lines += [f"{n}: &{n} [{', '.join(['*' + p] * width)}]" for p, n in zip(names, names[1:])]
    return "\n".join(lines) + f"\n{key}: *{names[-1]}\n"


def merge_key_bomb(levels: int = 9) -> str:
    """The same explosion through YAML merge keys (``<<: [*a, *a, ...]``), which PyYAML flattens eagerly."""
    names = "abcdefghijklmnopqrstuvwxyz"[:levels]
    lines = ["a: &a {" + ", ".join(f"k{i}: {i}" for i in range(9)) + "}"]
    lines += [f"{n}: &{n} {{<<: [{', '.join(['*' + p] * 9)}], own_{n}: 1}}" for p, n in zip(names, names[1:])]
    return "\n".join(lines) + f"\nmodel: *{names[-1]}\n"


BOMBS = {
    "billion_laughs": (billion_laughs(), "more than 20,000 values once its aliases are expanded"),
    "billion_laughs_wide": (billion_laughs(levels=4, width=200), "more than 20,000 values once its aliases are expanded"),
    "merge_keys": (merge_key_bomb(), "more than 20,000 values once its aliases are expanded"),
    "long_string_aliased": ("s: &s '" + "x" * 60_000 + "'\nmodel: [*s, *s, *s, *s, *s]\n", "characters of text once its aliases"),
    "recursive_alias": ("a: &a [1, *a]\nmodel: {encoder: *a}\n", "an alias refers to a node that contains it"),
    "recursive_mapping": ("a: &a {x: *a}\nmodel: *a\n", "an alias refers to a node that contains it"),
    "deep_flow": ("model: " + "[" * 900 + "]" * 900 + "\n", "nested more than 32 levels deep"),
    "deep_block": ("model:\n" + "".join(" " * (i + 1) + f"k{i}:\n" for i in range(120)), "nested more than 32 levels deep"),
    "deep_aliases": ("a: &a [1]\n" + "".join(f"a{i}: &a{i} [*{'a' if i == 0 else f'a{i - 1}'}]\n" for i in range(40)) + "model: *a39\n",
                     "nested more than 32 levels deep"),
    "huge_file": ("seed: 0\n# " + "x" * (limits.MAX_CONFIG_BYTES + 10) + "\n", "the file is longer than 262,144 characters"),
    "many_values": ("model: [" + ", ".join(["0"] * (limits.MAX_CONFIG_NODES + 1)) + "]\n", "more than 20,000 values"),
    "long_integer": ("seed: " + "9" * 5000 + "\n", "a value Python cannot hold"),
}


def _write(tmp_path, text: str | bytes, name: str = "c.yaml"):
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    return path


@pytest.mark.parametrize("name", sorted(BOMBS))
def test_hostile_yaml_is_refused_without_building_it(name, tmp_path, monkeypatch):
    text, expect = BOMBS[name]
    built: list[int] = []
    real = yaml.constructor.SafeConstructor.construct_document

    def counting(self, node):  # the document is refused before any object is built from it
        built.append(1)
        return real(self, node)

    monkeypatch.setattr(yaml.constructor.SafeConstructor, "construct_document", counting)
    with pytest.raises(ConfigError) as e:
        load_config(_write(tmp_path, text))
    assert expect in e.value.render(), e.value.render()
    assert "c.yaml" in e.value.render()
    if name != "long_integer":  # (that one is refused by Python while its integer is built)
        assert built == []


def test_billion_laughs_through_the_cli_exits_2(tmp_path, capsys, isolated_cli):
    from videollm_core.cli.commands import run_main

    code = run_main([str(_write(tmp_path, billion_laughs())), "--dry-run"])
    err = capsys.readouterr().err
    assert code == 2 and "config too large" in err and "aliases" in err and "Traceback" not in err


@pytest.mark.subprocess
def test_the_cli_refuses_a_bomb_before_importing_torch_or_plugins(tmp_path):
    """A config is read (bounded) before anything heavy loads, so the process exits 2 at once:
    neither torch nor any plugin is imported on the way to the error."""
    import subprocess
    import sys

    script = ("import sys\nfrom videollm_core.cli.commands import run_main\ncode = run_main(sys.argv[1:])\n"
              "heavy = sorted(m for m in ('torch', 'transformers', 'videollm_plugins') if m in sys.modules)\n"
              "print('heavy:', heavy)\nsys.exit(code)\n")
    out = subprocess.run([sys.executable, "-c", script, str(_write(tmp_path, billion_laughs())), "--dry-run"],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 2 and "config too large" in out.stderr and "Traceback" not in out.stderr
    assert "heavy: []" in out.stdout


def test_honest_anchors_still_work(tmp_path):
    """Aliases stay legal: the caps only refuse what no honest config reaches."""
    text = ("split: &demo {num_videos: 4, seed: 0}\n"
            "data:\n  train: {type: X, demo: *demo}\n  val: {type: X, demo: *demo}\n"
            "base: &base {lr: 0.1, steps: 3}\ntrain: {<<: *base, steps: 5}\n")
    cfg = load_config(_write(tmp_path, text))
    assert cfg["data"]["train"]["demo"] == cfg["data"]["val"]["demo"] == {"num_videos": 4, "seed": 0}
    assert cfg["train"] == {"lr": 0.1, "steps": 5}
    cfg["data"]["train"]["demo"]["seed"] = 1  # aliased values are copies once loaded, not shared objects
    assert cfg["data"]["val"]["demo"]["seed"] == 0


def test_every_shipped_example_is_far_below_the_caps():
    """The caps leave a wide margin: the largest example uses under a tenth of each."""
    from mutations import ROOT

    for path in sorted(ROOT.glob("examples/**/*.yaml")):
        text = path.read_text(encoding="utf-8")
        assert len(text.encode()) * 10 < limits.MAX_CONFIG_BYTES, path
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        count = sum(1 for _ in _walk(node))
        assert count * 10 < limits.MAX_CONFIG_NODES, (path, count)


def _walk(node):
    yield node
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            yield from _walk(k)
            yield from _walk(v)
    elif isinstance(node, yaml.SequenceNode):
        for v in node.value:
            yield from _walk(v)


def test_base_fan_out_is_capped(tmp_path):
    """Each file names the next one many times: 16 x 16 x 16 reads without the cap."""
    _write(tmp_path, "seed: 0\n", "leaf.yaml")
    _write(tmp_path, "_base_: [" + ", ".join(["leaf.yaml"] * 16) + "]\n", "mid.yaml")
    top = _write(tmp_path, "_base_: [" + ", ".join(["mid.yaml"] * 16) + "]\n", "top.yaml")
    with pytest.raises(ConfigError) as e:
        load_config(top)
    assert f"reads more than {limits.MAX_CONFIG_FILES} files" in e.value.render()


def test_merged_bases_are_capped(tmp_path):
    """Each base is under the value cap, the merge of them is not."""
    per_file = limits.MAX_CONFIG_NODES // 2
    names = []
    for i in range(3):
        names.append(f"b{i}.yaml")
        _write(tmp_path, f"part{i}: [" + ", ".join(["0"] * per_file) + "]\n", names[-1])
    top = _write(tmp_path, "_base_: [" + ", ".join(names) + "]\n")
    with pytest.raises(ConfigError) as e:
        load_config(top)
    assert "more than 20,000 values" in e.value.render() and "_base_" in e.value.render()


@pytest.mark.parametrize("options, expect", [
    (["model.x=" + "[" * 40 + "1" + "]" * 40], "nested more than 32 levels deep"),
    (["model.x=[" + ",".join(["1"] * 3000) + "]"], "the option is longer than 4,096 characters"),
    ([f"model.k{i}=[" + ",".join(["1"] * 1500) + "]" for i in range(30)], "the text of all options is longer than 65,536"),
    ([f"model.k{i}=[" + ",".join(["1"] * 1000) + "]" for i in range(21)], "more than 20,000 values"),
])
def test_oversized_cfg_options(tmp_path, options, expect):
    with pytest.raises(ConfigError) as e:
        load_config(_write(tmp_path, "seed: 0\n"), options)
    assert expect in e.value.render(), e.value.render()
    assert "--cfg-options" in e.value.render()


def test_cli_reports_the_option_cap(tmp_path, isolated_cli):
    from videollm_core.cli.commands import run_main

    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = run_main([str(_write(tmp_path, "seed: 0\n")), "--dry-run", "--cfg-options", "a=" + "[" * 50 + "]" * 50])
    assert code == 2 and "--cfg-options" in err.getvalue() and "Traceback" not in err.getvalue()

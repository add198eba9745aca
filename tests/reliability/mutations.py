"""Deterministic generator of broken configs, made from the shipped examples.

Every :class:`Mutation` is a set of YAML files (the first one is run) plus the place the
error message must name: a YAML path (``model.encoder.unit_size``) or a file name. The
categories follow the reliability issue: invalid YAML, wrong types, unknown keys, missing
sections, negative or absurd sizes, unknown types, paths to nothing, ``_base_`` cycles,
smuggled Python (tags, import paths) and bad ``--cfg-options``.
"""
from __future__ import annotations

import copy
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import yaml

ROOT = Path(__file__).resolve().parents[2]
SEED = 20230523  # the paper's arXiv month; any fixed number makes the set reproducible


@dataclass
class Mutation:
    """One broken config.

    Attributes:
        id: ``SOURCE/category/what`` (the pytest id).
        category: one of :data:`CATEGORIES`.
        files: file name -> text (or raw bytes); the first one is passed to the CLI.
        expect: every string here must appear in the error message (the place).
        options: ``--cfg-options`` to pass.
        needs_run: the problem is only visible when the run builds its datasets (paths
            to data), so the CLI runs without ``--dry-run`` (training is guarded by the test).
    """

    id: str
    category: str
    files: dict[str, str | bytes]
    expect: tuple[str, ...]
    options: list[str] = field(default_factory=list)
    needs_run: bool = False


CATEGORIES = ("invalid_yaml", "wrong_type", "unknown_key", "missing_section", "bad_size", "unknown_type",
              "missing_path", "base_cycle", "smuggled_code", "bad_option")


def sources() -> dict[str, dict[str, Any]]:
    """``{name: resolved config}`` of every runnable ``examples/*.yaml`` and a sample of the paper's
    OAD configs (``examples/paper/oad/*_basic.yaml``, named ``paper/oad_<stem>``)."""
    from videollm_core.config import load_config

    files = sorted((ROOT / "examples").glob("*.yaml")) + sorted((ROOT / "examples" / "paper" / "oad").glob("[!_]*_basic.yaml"))[::2]
    return {f.stem if f.parent.name == "examples" else f"paper/{f.parent.name}_{f.stem}": dict(load_config(f))
            for f in files}


# -- helpers -------------------------------------------------------------------------
def _dump(cfg: dict[str, Any]) -> str:
    return yaml.safe_dump(cfg, sort_keys=False)


def _get(cfg: Any, path: str) -> Any:
    node = cfg
    for part in path.split("."):
        node = node[int(part)] if isinstance(node, list) else node[part]
    return node


def _has(cfg: Any, path: str) -> bool:
    try:
        _get(cfg, path)
        return True
    except (KeyError, IndexError, TypeError, ValueError):
        return False


def _set(cfg: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    out = copy.deepcopy(cfg)
    *parents, last = path.split(".")
    node = _get(out, ".".join(parents)) if parents else out
    node[int(last) if isinstance(node, list) else last] = value
    return out


def _del(cfg: dict[str, Any], path: str) -> dict[str, Any]:
    out = copy.deepcopy(cfg)
    *parents, last = path.split(".")
    node = _get(out, ".".join(parents)) if parents else out
    del node[last]
    return out


def _head_path(cfg: dict[str, Any]) -> str:
    return "tasks.0.head" if "tasks" in cfg else "model.head"


def _part(cfg: dict[str, Any], part: str) -> str:
    """YAML path of the encoder or translator the first task reads with (its own in a multi-task
    config whose tasks bring their own inputs, else the model's)."""
    return f"tasks.0.{part}" if "tasks" in cfg and part in cfg["tasks"][0] else f"model.{part}"


def _data_path(cfg: dict[str, Any]) -> str:
    return "tasks.0.data" if "tasks" in cfg else "data"


# -- categories --------------------------------------------------------------------------
Gen = Callable[[str, dict[str, Any], random.Random], Iterator[Mutation]]


def invalid_yaml(name: str, cfg: dict[str, Any], rng: random.Random) -> Iterator[Mutation]:
    text = _dump(cfg)
    lines = text.splitlines()
    cut = rng.randrange(1, len(lines))
    broken = {
        "unclosed_bracket": text + "extra: [1, 2\n",
        "unclosed_quote": text + 'extra: "never closed\n',
        "tab_indent": text.replace("\n  ", "\n\t", 1),
        "mapping_in_scalar": text + "extra: a: b\n",
        "bad_indent": "\n".join(lines[:cut] + ["   " + lines[cut] + ": ["] + lines[cut + 1:]) + "\n",
        "duplicate_key": text + "seed: 1\n",
        "not_utf8": text.encode() + b"prompt: \xff\xfe\n",
    }
    for what, body in broken.items():
        expect = ("cfg.yaml", "duplicate key 'seed'") if what == "duplicate_key" else ("cfg.yaml",)
        yield Mutation(f"{name}/invalid_yaml/{what}", "invalid_yaml", {"cfg.yaml": body}, expect)
    for what, body in {"top_level_list": "- model\n- data\n", "top_level_scalar": "42\n", "int_key": "1: x\n" + text}.items():
        yield Mutation(f"{name}/invalid_yaml/{what}", "invalid_yaml", {"cfg.yaml": body}, ("cfg.yaml",))


def wrong_type(name: str, cfg: dict[str, Any], rng: random.Random) -> Iterator[Mutation]:
    enc = _part(cfg, "encoder")
    head = _head_path(cfg)
    cases = [
        ("model", [1, 2]), (f"{enc}", "TemporalUnitEncoder"), ("data", 5), ("train", "fast"),
        ("data.batch_size", "four"), ("seed", "zero"), ("work_dir", 5), (f"{enc}.in_dim", "32"),
        (f"{enc}.pooling", 3), (head, ["a"]), ("train.lr", "fast"), ("train.max_steps", 1.5),
        ("data.on_error", "ignore"), ("train.on_nan", True),
    ]
    if "tasks" in cfg:
        cases += [("tasks", {"name": "x"}), ("tasks.0.weight", "heavy"), ("tasks.0", "oad")]
    else:
        cases += [("model.prompt", 7), ("metric", "oad")]
    if _has(cfg, "model.llm.config"):
        cases += [("model.llm.config", "gpt2"), ("model.llm.config.n_layer", "two")]
    for path, value in cases:
        yield Mutation(f"{name}/wrong_type/{path}", "wrong_type", {"cfg.yaml": _dump(_set(cfg, path, value))}, (path,))
    # a random scalar leaf of a component, swapped for a mapping (never a valid size, name or flag)
    own = _leaves(cfg, enc) if enc != "model.encoder" else []  # a multi-task config whose tasks bring their own
    leaves = [p for p in _leaves(cfg, "model") + own if not p.endswith(".type") and ".config." not in p and ".tokenizer" not in p]
    path = rng.choice(leaves)
    yield Mutation(f"{name}/wrong_type/random:{path}", "wrong_type", {"cfg.yaml": _dump(_set(cfg, path, {"nested": [1]}))},
                   (path.rsplit(".", 1)[0],))


def _leaves(cfg: Any, prefix: str) -> list[str]:
    node = _get(cfg, prefix)
    if isinstance(node, dict):
        return [p for k, v in node.items() for p in _leaves(cfg, f"{prefix}.{k}")]
    return [prefix] if not isinstance(node, list) else []


def unknown_key(name: str, cfg: dict[str, Any], rng: random.Random) -> Iterator[Mutation]:
    enc, tr = _part(cfg, "encoder"), _part(cfg, "translator")
    head = _head_path(cfg)
    for path in ("modle", "model.encodr", "data.batchsize", "train.learning_rate", f"{enc}.unit_sise",
                 f"{head}.num_clases", f"{tr}.hidden", "model.llm.pretrain", "work_dir_"):
        yield Mutation(f"{name}/unknown_key/{path}", "unknown_key", {"cfg.yaml": _dump(_set(cfg, path, 1))}, (path,))


def missing_section(name: str, cfg: dict[str, Any], rng: random.Random) -> Iterator[Mutation]:
    enc, tr = _part(cfg, "encoder"), _part(cfg, "translator")
    head = _head_path(cfg)
    for path in ("model", f"{enc}", f"{tr}", "model.llm", head, f"{enc}.type", "model.llm.type"):
        yield Mutation(f"{name}/missing_section/{path}", "missing_section", {"cfg.yaml": _dump(_del(cfg, path))},
                       (path.rsplit(".", 1)[0] if path.endswith(".type") or path == head else path.rpartition(".")[0] or path,))
    yield Mutation(f"{name}/missing_section/everything", "missing_section", {"cfg.yaml": "# nothing here\n"}, ("model",))
    # training without a training set: only the run can tell
    train_path = f"{_data_path(cfg)}.train"
    if _has(cfg, train_path) and not name.startswith("paper/"):  # (paper configs' data is not on this machine)
        yield Mutation(f"{name}/missing_section/{train_path}", "missing_section", {"cfg.yaml": _dump(_del(cfg, train_path))},
                       (train_path,), needs_run=True)


def bad_size(name: str, cfg: dict[str, Any], rng: random.Random) -> Iterator[Mutation]:
    enc = _part(cfg, "encoder")
    head = _head_path(cfg)
    cases = [
        (f"{enc}.unit_size", -1), (f"{enc}.unit_size", 0), (f"{enc}.in_dim", 0),
        (f"{enc}.in_dim", -32), ("data.batch_size", 0), ("data.batch_size", -4), ("data.num_workers", -1),
        ("train.lr", -1), ("train.lr", 0), ("train.max_steps", -5), ("train.warmup_steps", -1), ("train.grad_accum", 0),
        ("train.clip_grad", -1.0), ("train.keep_last", -1), (f"{head}.num_classes", 10 ** 12), (f"{head}.num_classes", 0),
        (f"{head}.num_classes", -3), (f"{enc}.in_dim", 10 ** 10),
    ]
    if _has(cfg, "model.llm.config"):
        cases += [("model.llm.config.n_layer", 0), ("model.llm.config.n_embd", -1), ("model.llm.config.n_head", 0),
                  ("model.llm.config.n_embd", 63)]
    for path, value in cases:
        where = "model.llm" if path.startswith("model.llm.config") else path
        yield Mutation(f"{name}/bad_size/{path}={value}", "bad_size", {"cfg.yaml": _dump(_set(cfg, path, value))}, (where,))


def unknown_type(name: str, cfg: dict[str, Any], rng: random.Random) -> Iterator[Mutation]:
    enc, tr = _part(cfg, "encoder"), _part(cfg, "translator")
    head = _head_path(cfg)
    section = rng.choice([f"{enc}", f"{tr}", "model.llm", head])
    for value in ("NoSuchComponent", "os.system", "builtins.eval", "nope:Thing", "", 5, None,
                  "videollm_core.cli.commands.main", "__import__"):
        yield Mutation(f"{name}/unknown_type/{section}={value!r}", "unknown_type",
                       {"cfg.yaml": _dump(_set(cfg, f"{section}.type", value))}, (f"{section}",))


def missing_path(name: str, cfg: dict[str, Any], rng: random.Random) -> Iterator[Mutation]:
    yield Mutation(f"{name}/missing_path/_base_", "missing_path", {"cfg.yaml": _dump({"_base_": "no_such_base.yaml", **cfg})},
                   ("cfg.yaml", "no_such_base.yaml"))
    yield Mutation(f"{name}/missing_path/_base_dir", "missing_path", {"cfg.yaml": _dump({"_base_": ".", **cfg})}, ("cfg.yaml",))
    if _has(cfg, "model.llm"):
        llm = {k: v for k, v in _get(cfg, "model.llm").items() if k not in ("config", "tokenizer")}
        bad = _set(cfg, "model.llm", {**llm, "pretrained": "/nonexistent/videollm/llm"})
        yield Mutation(f"{name}/missing_path/model.llm.pretrained", "missing_path", {"cfg.yaml": _dump(bad)},
                       ("model.llm.pretrained", "/nonexistent/videollm/llm"))
    train = f"{_data_path(cfg)}.train"
    if _has(cfg, train):  # every file/folder argument of the training set points to nothing
        dcfg = {k: v for k, v in _get(cfg, train).items() if k != "demo"}
        paths = {k: f"/nonexistent/videollm/{k}" for k in _dataset_params(dcfg["type"]) & PATH_ARGS}
        yield Mutation(f"{name}/missing_path/{train}", "missing_path", {"cfg.yaml": _dump(_set(cfg, train, {**dcfg, **paths}))},
                       ("/nonexistent/videollm/",), needs_run=True)


#: dataset arguments that name files or folders.
PATH_ARGS = frozenset({"annotations", "annotation_file", "actions", "features_dir", "data_root", "data_info", "splits_dir",
                       "taxonomy", "videos", "bundle", "references", "mapping", "groundtruth_dir", "metadata"})


def _dataset_params(type_name: str) -> set[str]:
    from videollm_core.plugins import DATASETS
    from videollm_core.signature import constructor_parameters

    cls = DATASETS.get(type_name)
    return set(constructor_parameters(cls)) if cls is not None else set()


def base_cycle(name: str, cfg: dict[str, Any], rng: random.Random) -> Iterator[Mutation]:
    body = _dump(cfg)
    yield Mutation(f"{name}/base_cycle/self", "base_cycle", {"cfg.yaml": "_base_: cfg.yaml\n" + body}, ("cfg.yaml", "cycle"))
    yield Mutation(f"{name}/base_cycle/pair", "base_cycle",
                   {"cfg.yaml": "_base_: b.yaml\n" + body, "b.yaml": "_base_: cfg.yaml\nseed: 1\n"}, ("b.yaml", "cycle"))
    yield Mutation(f"{name}/base_cycle/triangle", "base_cycle",
                   {"cfg.yaml": "_base_: [b.yaml]\n" + body, "b.yaml": "_base_: sub/c.yaml\n", "sub/c.yaml": "_base_: ../cfg.yaml\n"},
                   ("c.yaml", "cycle"))
    yield Mutation(f"{name}/base_cycle/not_a_path", "base_cycle", {"cfg.yaml": "_base_: [1, 2]\n" + body}, ("_base_",))


def smuggled_code(name: str, cfg: dict[str, Any], rng: random.Random) -> Iterator[Mutation]:
    body = _dump(cfg)
    tags = {
        "apply_os_system": "!!python/object/apply:os.system ['touch PWNED']",
        "object_new": "!!python/object/new:subprocess.Popen [['touch', 'PWNED']]",
        "name_eval": "!!python/name:builtins.eval",
        "module_os": "!!python/module:os",
    }
    for what, tag in tags.items():
        yield Mutation(f"{name}/smuggled_code/{what}", "smuggled_code", {"cfg.yaml": body + f"extra: {tag}\n"}, ("cfg.yaml",))
    yield Mutation(f"{name}/smuggled_code/base_tag", "smuggled_code",
                   {"cfg.yaml": "_base_: evil.yaml\n" + body, "evil.yaml": f"seed: {tags['apply_os_system']}\n"}, ("evil.yaml",))


def bad_option(name: str, cfg: dict[str, Any], rng: random.Random) -> Iterator[Mutation]:
    body = {"cfg.yaml": _dump(cfg)}
    for what, option, where in (
        ("no_equals", "model.encoder.in_dim", "--cfg-options"),
        ("unbalanced", "train.lr=[1,", "train.lr"),
        ("inside_scalar", "model.encoder.in_dim.x=3", "model.encoder.in_dim"),
        ("index_out_of_range", "model.llm.tokenizer.words.999=x", "model.llm.tokenizer.words.999"),
        ("empty_part", "model..in_dim=3", "--cfg-options"),
        ("bad_value_after_override", "data.batch_size=-1", "data.batch_size"),
    ):
        if what == "index_out_of_range" and not _has(cfg, "model.llm.tokenizer.words"):
            option, where = "model.encoder.in_dim.0=1", "model.encoder.in_dim"
        yield Mutation(f"{name}/bad_option/{what}", "bad_option", body, (where,), options=[option])


GENERATORS: tuple[Gen, ...] = (invalid_yaml, wrong_type, unknown_key, missing_section, bad_size, unknown_type,
                               missing_path, base_cycle, smuggled_code, bad_option)
def all_mutations() -> list[Mutation]:
    """Every mutation of every source (about 1,300; seeded by :data:`SEED`)."""
    rng = random.Random(SEED)
    out: list[Mutation] = []
    for name, cfg in sources().items():
        for gen in GENERATORS:
            out.extend(gen(name, cfg, rng))
    return out


def kind(mutation: Mutation) -> str:
    """The mutation without its source: ``bad_size/model.encoder.unit_size=-1``."""
    return mutation.id.split("/", 2 if mutation.id.startswith("paper/") else 1)[-1]


def mutations(per_kind: int = 3) -> list[Mutation]:
    """The CI set: each kind of mutation on ``per_kind`` sources drawn with :data:`SEED`."""
    rng = random.Random(SEED)
    by_kind: dict[str, list[Mutation]] = {}
    for m in all_mutations():
        by_kind.setdefault(kind(m), []).append(m)
    return [m for group in by_kind.values() for m in rng.sample(group, min(per_kind, len(group)))]

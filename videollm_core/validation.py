"""Config validation: every problem in one pass, before anything heavy is built.

[`validate_config`][videollm_core.validation.validate_config] walks the config schema of `docs/architecture.md`: each
component section is checked against its registry (unknown `type` with suggestions
and plugin status, unknown/missing constructor arguments, annotated value types) with
the arguments the pipeline supplies counted as given; scalar sections (`data`,
`train`, `seed`...) are checked by value. `task_specs` turns the single-task
and the multi-task forms into one list of `TaskSpec` (`videollm_core.task_spec`).
"""
from __future__ import annotations

import os
import re
from typing import Any, Callable, Mapping

from .errors import ConfigError, ConfigErrors
from .data import VideoDataset
from .plugins import REGISTRIES
from .registry import Registries
from .signature import constructor_parameters
from .rules import NUM, POS_INT, POS_NUM, STR, choice
from .sections import ContextConfig, DataConfig, RunConfig, TopConfig, TrainConfig, mapping_problems, read_section, unknown_key, with_keys
from .task_spec import OWN_PARTS, SPLITS, TASK_KEYS, TaskSpec, task_specs
from .types import QUERY_POSITIONS

TOP_LEVEL_KEYS = ("work_dir", "seed", "model", "data", "metric", "train", "tasks")
MODEL_KEYS = ("encoder", "text_encoder", "translator", "llm", "tuner", "head", "prompt", "context", "query_position")

#: model section -> (role, required, arguments the pipeline supplies)
MODEL_COMPONENTS: dict[str, tuple[str, bool, frozenset[str]]] = {
    "encoder": ("encoders", True, frozenset()),
    "text_encoder": ("encoders", False, frozenset()),
    "translator": ("translators", True, frozenset({"in_dim", "out_dim"})),
    "llm": ("llms", True, frozenset()),
    "tuner": ("tuners", False, frozenset()),
}
HEAD_SUPPLIED = frozenset({"in_dim"})
DATASET_SUPPLIED = frozenset({"feature_dim", "on_error"})


# -- sizes ------------------------------------------------------------------------
#: argument names that hold a count or a dimension (at any depth of a component config).
SIZE_KEY = re.compile(r"^(n_[a-z_]+|num_[a-z_]+|[a-z_]*_(dim|size|layers|classes|embd|positions|tokens|events|heads)|dim|d_model|d_ff|d_kv|window)$")
#: architecture sizes of nested model configs (`model.llm.config`) that cannot be zero.
ARCH_KEYS = frozenset({"n_layer", "n_embd", "n_head", "n_positions", "n_ctx", "vocab_size", "hidden_size", "num_hidden_layers",
                       "num_attention_heads", "num_key_value_heads", "intermediate_size", "max_position_embeddings", "d_model",
                       "d_ff", "d_kv", "num_layers", "num_heads", "num_decoder_layers", "ffn_dim", "word_embed_proj_dim"})
#: no dimension, count or vocabulary of a real model or benchmark comes near this (16.7 M).
MAX_SIZE = 2 ** 24


def _size_problems(value: Any, where: str, zero_ok: Callable[[str], bool], nested: bool = False) -> list[ConfigError]:
    """Negative, zero (where `zero_ok(key)` is False) or absurd sizes in a component config, recursively."""
    if isinstance(value, list):
        return [e for i, v in enumerate(value) for e in _size_problems(v, f"{where}.{i}", zero_ok, nested)]
    if not isinstance(value, dict):
        return []
    errors: list[ConfigError] = []
    for key, v in value.items():
        path = f"{where}.{key}"
        if isinstance(v, (dict, list)):
            errors += _size_problems(v, path, lambda k: k not in ARCH_KEYS, nested=True)
        elif not isinstance(key, str) or not SIZE_KEY.match(key) or v is None:
            continue
        elif isinstance(v, (str, bool)):
            if nested:  # top-level arguments are checked against their annotations instead
                errors.append(ConfigError(f"expected a number (a size or count), got {v!r}", where=path))
        elif not NUM.check(v):
            continue
        elif v < 0 or (v == 0 and not zero_ok(key)):
            errors.append(ConfigError(f"a size or count must be {'>= 0' if zero_ok(key) else '> 0'}, got {v!r}", where=path))
        elif v > MAX_SIZE:
            errors.append(ConfigError(f"absurd size {v!r} (more than {MAX_SIZE:,})", where=path,
                                      hint="a typo? no real dimension, vocabulary or class count is that large"))
    return errors


def component_size_problems(cfg: Any, where: str, cls: type | None) -> list[ConfigError]:
    """Size problems of one `{type: NAME, ...}` config; zero is allowed where the constructor's default is 0."""
    params = constructor_parameters(cls) if cls is not None else {}
    return _size_problems(cfg, where, lambda k: k in params and params[k].default == 0 and not isinstance(params[k].default, bool))


# -- validation ------------------------------------------------------------------
def _dataset_classes(spec: TaskSpec, registries: Registries) -> list[type[VideoDataset]]:
    out = []
    for dcfg in spec.data.values():
        cls = registries.datasets.get(dcfg.get("type")) if isinstance(dcfg, dict) else None
        if cls is not None:
            out.append(cls)
    return out


def _component_problems(registry: Any, cfg: Any, where: str, supplied: set[str] | frozenset[str]) -> list[ConfigError]:
    """Registry validation (type, arguments) plus size sanity of one component config."""
    errors = registry.validate(cfg, where, supplied=supplied)
    if isinstance(cfg, dict):
        errors += component_size_problems(cfg, where, registry.get(cfg.get("type")))
    return errors


def _features_problems(cfg: Any, where: str, registries: Registries) -> list[ConfigError]:
    """A dataset's `features: {type: ...}` entry against the `features` registry (`fps` may come from the
    dataset), and each of a `ConcatFeatures`' `sources`."""
    if not isinstance(cfg, dict):
        return []  # not a mapping: the dataset's constructor reports it
    errors = _component_problems(registries.features, cfg, where, frozenset({"fps"}))
    if isinstance(cfg.get("sources"), list):
        for i, sub in enumerate(cfg["sources"]):
            errors += _features_problems(sub, f"{where}.sources.{i}", registries)
    return errors


def _check_task(spec: TaskSpec, registries: Registries) -> list[ConfigError]:
    errors: list[ConfigError] = []
    for split, dcfg in spec.data.items():
        errors += _component_problems(registries.datasets, dcfg, f"{spec.path('data')}.{split}", DATASET_SUPPLIED)
        if isinstance(dcfg, dict) and "features" in dcfg:
            errors += _features_problems(dcfg["features"], f"{spec.path('data')}.{split}.features", registries)
    for part in OWN_PARTS:  # the task's own encoder / translator (multi-task form)
        if getattr(spec, part) is not None:
            role, _, supplied = MODEL_COMPONENTS[part]
            errors += _component_problems(registries[role], getattr(spec, part), spec.path(part), supplied)
    classes = _dataset_classes(spec, registries)
    if spec.head is None:
        errors.append(ConfigError("missing the task head", where=spec.path("head"),
                                  hint=f"add {spec.path('head')}: {{type: ...}} (see `videollm list heads`)"))
    else:
        errors += _component_problems(registries.heads, spec.head, spec.path("head"), HEAD_SUPPLIED | {n for cls in classes for n in cls.provides_head_args})
    if spec.metric is not None:
        errors += _component_problems(registries.metrics, spec.metric, spec.path("metric"), {n for cls in classes for n in cls.provides_metric_args})
    if spec.prompt is not None and not isinstance(spec.prompt, str):
        errors.append(ConfigError(f"expected a string, got {spec.prompt!r}", where=spec.path("prompt")))
    return errors


def _check_tasks_list(cfg: Mapping[str, Any]) -> list[ConfigError]:
    tasks = cfg["tasks"]
    if not isinstance(tasks, list) or not tasks:
        return [ConfigError("expected a non-empty list of tasks", where="tasks")]
    errors: list[ConfigError] = []
    model, data = cfg.get("model") or {}, cfg.get("data") or {}
    if isinstance(model, dict) and "head" in model:
        errors.append(ConfigError("the multi-task form has one head per task", where="model.head", hint="move it to tasks[i].head"))
    if "metric" in cfg:
        errors.append(ConfigError("the multi-task form has one metric per task", where="metric", hint="move it to tasks[i].metric"))
    if isinstance(data, dict):
        errors += [ConfigError("the multi-task form has datasets per task", where=f"data.{s}", hint=f"move it to tasks[i].data.{s}")
                   for s in SPLITS if s in data]
    names: dict[str, int] = {}
    for i, item in enumerate(tasks):
        where = f"tasks.{i}"
        if not isinstance(item, dict):
            errors.append(ConfigError(f"expected a mapping with name/head/data, got {item!r}", where=where))
            continue
        errors += mapping_problems(item, where, TASK_KEYS, {"name": STR, "weight": POS_NUM, "prompt": STR,
                                                           "query_position": choice(*QUERY_POSITIONS), "batch_size": POS_INT})
        errors += mapping_problems(item.get("data"), f"{where}.data", SPLITS, {})
        name = item.get("name")
        if not name:
            errors.append(ConfigError("missing the task's 'name'", where=where, hint="give each task a unique name"))
        elif isinstance(name, str) and name in names:
            errors.append(ConfigError(f"task name '{name}' is used twice (also tasks.{names[name]})", where=f"{where}.name"))
        elif isinstance(name, str):
            names[name] = i
    return errors


def read_config(cfg: Mapping[str, Any], registries: Registries = REGISTRIES) -> tuple[RunConfig | None, list[ConfigError]]:
    """`(RunConfig, [])` for a valid config, else `(None, every problem)`: the one pass of validation."""
    if not isinstance(cfg, Mapping):
        return None, [ConfigError(f"a config is a mapping, got {type(cfg).__name__}")]
    keys = registries.config_keys
    top, errors = read_section(with_keys(TopConfig, keys["top"]), dict(cfg), "", known=TOP_LEVEL_KEYS)
    data, more = read_section(DataConfig, cfg.get("data"), "data")
    train, most = read_section(with_keys(TrainConfig, keys["train"]), cfg.get("train"), "train")
    errors += more + most
    model, context = cfg.get("model"), None
    if not isinstance(model, dict):
        errors.append(ConfigError("missing the 'model' section" if model is None else f"expected a mapping, got {model!r}", where="model",
                                  hint="model: {encoder: ..., translator: ..., llm: ..., head: ...}"))
        model = {}
    else:
        errors += mapping_problems(model, "model", MODEL_KEYS, {"prompt": STR, "query_position": choice(*QUERY_POSITIONS)})
        if model.get("context") is not None:  # the window is checked against the LLM when it is built
            context, more = read_section(ContextConfig, model["context"], "model.context")
            errors += more
    tasks = [t for t in cfg["tasks"] if isinstance(t, dict)] if isinstance(cfg.get("tasks"), list) else []
    for key, (role, required, supplied) in MODEL_COMPONENTS.items():
        if model.get(key) is None:
            lacking = [i for i, t in enumerate(tasks) if t.get(key) is None] if key in OWN_PARTS else []
            if required and tasks and key in OWN_PARTS and len(lacking) < len(tasks):  # some tasks bring their own
                errors += [ConfigError(f"missing '{key}': the task has none and model.{key} is not set", where=f"tasks.{i}",
                                       hint=f"add tasks.{i}.{key}: {{type: ...}}, or a shared model.{key}") for i in lacking]
            elif required:
                errors.append(ConfigError(f"missing 'model.{key}'", where="model", hint=f"add model.{key}: {{type: ...}} (see `videollm list {role}`)"
                                          + (f", or give every task its own tasks[i].{key}" if tasks and key in OWN_PARTS else "")))
            continue
        errors += _component_problems(registries[role], model[key], f"model.{key}", supplied)
    multi = cfg.get("tasks") is not None
    if multi:
        errors += _check_tasks_list(cfg)
    if any(e.where and e.where.startswith("tasks") for e in errors):
        return None, errors  # the task list is malformed: its items cannot be walked
    specs = task_specs(cfg)
    for spec in specs:
        errors += _check_task(spec, registries)
        head = registries.heads.get(spec.head.get("type")) if isinstance(spec.head, dict) else None
        position = spec.query_position or model.get("query_position")
        if position == "after" and head is not None and not head.reads_query_after:  # e.g. an online head
            errors.append(ConfigError(f"task '{spec.name}' ({head.__name__}) cannot read a query after the visual units",
                                      where=spec.path("query_position") if spec.query_position else "model.query_position",
                                      hint="keep before (the default): after serves query grounding (nlq, qvhighlights);"
                                           " in a multi-task config set it per task (tasks[i].query_position)"))
    primary, more = primary_metric(cfg, registries)
    errors += more
    if errors:
        return None, errors
    return RunConfig(model, context, specs, train, data, top, primary, cfg), []


def config_problems(cfg: Mapping[str, Any], registries: Registries = REGISTRIES) -> list[ConfigError]:
    """Every problem [`validate_config`][videollm_core.validation.validate_config] would report, as a list (empty: valid)."""
    return read_config(cfg, registries)[1]


def primary_metric(cfg: Mapping[str, Any], registries: Registries = REGISTRIES) -> tuple[tuple[str, bool] | None, list[ConfigError]]:
    """`train.primary_metric` (`TASK/KEY`, or a `KEY` of the first task), the metric that picks the best
    checkpoint, as `(TASK/KEY, higher_is_better)`, with the problem when the metric has no such key
    (checked against `Metric.keys` where the metric section sets nothing but its `type`: other
    arguments, such as `tious`, can change the keys, and the runner checks them at the first evaluation).
    `(None, [])` when it is not set: the first task's `Metric.primary_key` then."""
    train = cfg.get("train")
    wanted = train.get("primary_metric") if isinstance(train, Mapping) else None
    specs = task_specs(cfg)
    if not isinstance(wanted, str) or not wanted or not specs:
        return None, []
    names = [s.name for s in specs]
    task, _, key = wanted.partition("/")
    if task not in names or not key:
        task, key = names[0], wanted
    metric = specs[names.index(task)].metric
    cls = registries.metrics.get(metric.get("type")) if isinstance(metric, dict) else None
    if cls is None or not isinstance(metric, dict):  # no metric, or an unknown one: reported by the task's own checks
        return None, []
    if cls.keys and set(metric) == {"type"} and key not in cls.keys:
        return None, [ConfigError(f"the {task} metric ({metric['type']}) has no key '{key}'", where="train.primary_metric",
                                  hint=f"its keys: {', '.join(f'{task}/{k}' for k in cls.keys)}")]
    return (f"{task}/{key}", bool(cls.higher_is_better)), []


def validate_config(cfg: RunConfig | Mapping[str, Any] | str | os.PathLike, registries: Registries = REGISTRIES) -> RunConfig:
    """Check a config (loaded, or a YAML path) against the schema and the registries; build nothing.

    Returns:
        the [`RunConfig`][videollm_core.sections.RunConfig] (a `RunConfig` is returned as it is).

    Raises:
        ConfigErrors: with every problem found (each names its YAML path and a hint).
    """
    if isinstance(cfg, RunConfig):
        return cfg
    if isinstance(cfg, (str, os.PathLike)):
        from .config import load_config
        from .plugins import configure_config

        raw: Mapping[str, Any] = configure_config(load_config(cfg))
    else:
        raw = cfg
    config, errors = read_config(raw, registries)
    if config is None:
        error = ConfigErrors(errors)
        filename = getattr(raw, "filename", None)
        if filename:  # the YAML paths belong to this file
            error.where = str(filename)
            error.args = (error.render(),)
        raise error
    return config


__all__ = ["TaskSpec", "task_specs", "RunConfig", "read_config", "validate_config", "config_problems", "primary_metric", "unknown_key",
           "TOP_LEVEL_KEYS"]

"""The typed config: [`RunConfig`][videollm_core.sections.RunConfig] (what `validate_config` returns) and
its settings sections, each key declared once, with its type, default and rule.

`train:` ([`TrainConfig`][videollm_core.sections.TrainConfig]), the settings of `data:`
([`DataConfig`][videollm_core.sections.DataConfig]), `model.context`
([`ContextConfig`][videollm_core.sections.ContextConfig]) and the top-level scalars
([`TopConfig`][videollm_core.sections.TopConfig]) are dataclasses whose fields carry their
[`Rule`][videollm_core.rules.Rule] (`metadata["rule"]`): validation checks it, `videollm schema`
writes it, the engine reads the typed object. Plugins add keys through `videollm_config_keys`;
[`with_keys`][videollm_core.sections.with_keys] makes them fields of a subclass.
[`read_section`][videollm_core.sections.read_section] is the one validator.
"""
from __future__ import annotations

import dataclasses
import difflib
from dataclasses import dataclass, field
from typing import Any, Mapping

from .data import ON_ERROR
from .errors import ConfigError
from .task_spec import TaskSpec
from .rules import INT, NONNEG_INT, NONNEG_NUM, POS_INT, POS_NUM, STR, Rule, choice, optional

#: values of `train.scheduler` (`transformers.get_scheduler` names the engine maps them to).
SCHEDULERS = ("cosine", "linear", "constant")
#: values of `train.log_with`: accelerate's experiment trackers (`accelerate.utils.LoggerType`), or none.
TRACKERS = ("tensorboard", "wandb", "mlflow", "comet_ml", "aim", "clearml", "dvclive", "swanlab", "trackio", "all", "none")
_NAMES, _TRACKER = choice(*SCHEDULERS), choice(*TRACKERS)
SCHEDULER = Rule(lambda v: _NAMES.check(v.get("type") if isinstance(v, dict) else v), f"{_NAMES.what} (or {{type: NAME}})",
                 {"anyOf": [_NAMES.json, {"type": "object", "properties": {"type": _NAMES.json}}]})
TRACKER_LIST = Rule(lambda v: _TRACKER.check(v) or (isinstance(v, list) and all(_TRACKER.check(n) for n in v)),
                    f"{_TRACKER.what} (or a list of them)", {"anyOf": [_TRACKER.json, {"type": "array", "items": _TRACKER.json}]})
WINDOW = Rule(lambda v: POS_INT.check(v) and v >= 2, "an integer >= 2", {"type": "integer", "minimum": 2})


def setting(default: Any, rule: Rule, doc: str = "") -> Any:
    """A typed field with its rule and a line for the schema (`default`: a value, or a list copied per object)."""
    meta = {"rule": rule, "doc": doc}
    if default is dataclasses.MISSING:
        return field(metadata=meta)
    return field(default_factory=lambda: list(default), metadata=meta) if isinstance(default, list) else field(default=default, metadata=meta)


@dataclass
class TrainConfig:
    """`train:`: how the runner trains; every key optional. `seed` defaults to the top-level `seed`."""

    max_steps: int | None = setting(None, optional(POS_INT), "optimizer steps (else `epochs` over the first task's training set)")
    epochs: int | None = setting(None, optional(POS_INT), "passes over the first task's training set")
    lr: float = setting(1.0e-3, POS_NUM, "peak learning rate")
    weight_decay: float = setting(0.01, NONNEG_NUM, "AdamW weight decay (not on biases and norms)")
    scheduler: str = setting("cosine", SCHEDULER, "learning-rate schedule (`transformers.get_scheduler`)")
    warmup_steps: int = setting(0, NONNEG_INT, "linear warm-up, in optimizer steps")
    grad_accum: int = setting(1, POS_INT, "micro-batches per optimizer step")
    clip_grad: float | None = setting(1.0, optional(POS_NUM), "max global L2 norm of the gradients; null: off")
    mixed_precision: str = setting("no", choice("no", "bf16", "fp16"), "CUDA only; a CPU runs in fp32")
    eval_every: int = setting(0, NONNEG_INT, "steps between evaluations; 0: at the end only")
    save_every: int = setting(0, NONNEG_INT, "steps between checkpoints; 0: at the end only")
    keep_last: int = setting(2, NONNEG_INT, "checkpoints kept besides the best")
    log_every: int = setting(10, POS_INT, "steps between lines of metrics.jsonl")
    seed: int | None = setting(None, optional(INT), "random seed (default: the top-level seed, else 0)")
    on_nan: str = setting("stop", choice("stop", "skip"), "a non-finite loss stops the run, or skips the step")
    primary_metric: str | None = setting(None, optional(STR), "`TASK/KEY` that picks the best checkpoint")
    log_with: list[str] = setting(["tensorboard"], TRACKER_LIST, "accelerate's trackers; metrics.jsonl is always written")

    def __post_init__(self) -> None:
        if isinstance(self.scheduler, Mapping):
            self.scheduler = str(self.scheduler.get("type", ""))
        trackers = [self.log_with] if isinstance(self.log_with, str) else list(self.log_with)
        self.log_with = [t for t in trackers if t != "none"]


@dataclass
class DataConfig:
    """`data:` of the single-task form: the datasets of each split and how batches are read."""

    batch_size: int = setting(4, POS_INT, "clips per batch")
    num_workers: int = setting(0, NONNEG_INT, "DataLoader worker processes")
    on_error: str = setting("raise", choice(*ON_ERROR), "a broken item stops the run, or is skipped and counted")
    train: dict[str, Any] | None = None
    val: dict[str, Any] | None = None
    test: dict[str, Any] | None = None


@dataclass
class ContextConfig:
    """`model.context`: a bounded attention window of recent tokens plus `sink` first tokens kept for good."""

    window: int = setting(dataclasses.MISSING, WINDOW, "tokens attended at most (<= the LLM's positions)")
    sink: int = setting(dataclasses.MISSING, NONNEG_INT, "first tokens always attended (< window)")

    def problems(self, where: str) -> list[ConfigError]:
        return [] if self.sink < self.window else [ConfigError(f"sink ({self.sink}) must be smaller than window ({self.window})",
                                                               where=f"{where}.sink")]


@dataclass
class TopConfig:
    """The top-level scalars (the sections are read by their own classes)."""

    work_dir: str | None = setting(None, optional(STR), "where the run writes (default: work_dirs/<config name>)")
    seed: int = setting(0, INT, "random seed")


@dataclass
class RunConfig:
    """A checked config, typed: what [`build_pipeline`][videollm_core.pipeline.build_pipeline] and the
    `Runner` take ([`validate_config`][videollm_core.validation.validate_config] makes one).

    Attributes:
        model: the `model:` section (component configs by key, `prompt`, `query_position`).
        context: `model.context`, or None (no bounded window).
        tasks: one `TaskSpec` (`videollm_core.task_spec`) per task (single- and multi-task form).
        train: `train:` with its defaults, plugins' keys as fields (`train.early_stopping`).
        data: the batch settings of `data:` (and the single-task form's datasets).
        top: `work_dir` and `seed`, and the top-level sections plugins declare as fields.
        primary_metric: `(TASK/KEY, higher_is_better)` of `train.primary_metric`, None when unset.
        raw: the mapping it was read from (saved with a model, given to hooks).
    """

    model: dict[str, Any]
    context: ContextConfig | None
    tasks: list[TaskSpec]
    train: Any
    data: DataConfig
    top: Any
    primary_metric: tuple[str, bool] | None
    raw: Mapping[str, Any] = field(repr=False)

    @property
    def filename(self) -> str | None:
        return getattr(self.raw, "filename", None)

    @property
    def seed(self) -> int:
        """The run's seed: `train.seed`, else the top-level `seed` (0 unless set)."""
        return int(self.train.seed if self.train.seed is not None else self.top.seed)


def with_keys(cls: type, rules: Mapping[str, Rule]) -> type:
    """`cls` with the keys plugins declare as fields (value None when absent); `cls` itself when none."""
    own = {f.name for f in dataclasses.fields(cls)}
    extra = [(k, Any, setting(None, r)) for k, r in rules.items() if k not in own]
    return dataclasses.make_dataclass(cls.__name__, extra, bases=(cls,)) if extra else cls


def unknown_key(key: str, known: tuple[str, ...] | list[str], where: str) -> ConfigError:
    """An unknown key, with the closest known ones (or all of them) as the hint."""
    close = difflib.get_close_matches(str(key), list(known), n=3, cutoff=0.6)
    hint = f"did you mean {', '.join(repr(c) for c in close)}?" if close else f"known keys: {', '.join(known)}"
    return ConfigError(f"unknown key '{key}'", where=where, hint=hint)


def mapping_problems(value: Any, where: str, names: tuple[str, ...] | list[str], rules: Mapping[str, Rule],
                     required: tuple[str, ...] = ()) -> list[ConfigError]:
    """Every problem of one mapping at once: unknown keys (with suggestions among `names`), `required`
    keys it lacks, values their rule refuses. `None` is an empty mapping."""
    value = {} if value is None else value
    if not isinstance(value, dict):
        return [ConfigError(f"expected a mapping, got {type(value).__name__} {value!r}", where=where)]
    errors = [unknown_key(k, names, f"{where}.{k}" if where else str(k)) for k in value if k not in names]
    errors += [ConfigError(f"missing '{k}'", where=where, hint=f"{where}: {{{', '.join(f'{n}: ...' for n in rules)}}}")
               for k in required if k not in value]
    return errors + [ConfigError(f"expected {rule.what}, got {value[k]!r}", where=f"{where}.{k}" if where else k)
                     for k, rule in rules.items() if k in value and not rule.check(value[k])]


def read_section(cls: type, value: Any, where: str, known: tuple[str, ...] = ()) -> tuple[Any, list[ConfigError]]:
    """Check a mapping against `cls`'s fields and rules (`mapping_problems`; `known`: keys other code
    reads) -> `(cls(**value), [])`, or `(None, problems)`."""
    fields = {f.name: f for f in dataclasses.fields(cls)}
    rules = {n: f.metadata["rule"] for n, f in fields.items() if "rule" in f.metadata}
    required = tuple(n for n, f in fields.items() if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING)
    errors = mapping_problems(value, where, tuple(dict.fromkeys((*fields, *known))), rules, required)
    if errors:
        return None, errors
    obj = cls(**{k: v for k, v in (value or {}).items() if k in fields})
    return obj, (obj.problems(where) if hasattr(obj, "problems") else [])


def section_schema(cls: type) -> dict[str, dict[str, Any]]:
    """JSON Schema properties of `cls`'s ruled fields (rule, default, line of documentation)."""
    out = {}
    for f in dataclasses.fields(cls):
        if "rule" in f.metadata:
            default = f.default if f.default_factory is dataclasses.MISSING else f.default_factory()
            extra = {} if default is dataclasses.MISSING else {"default": default}
            out[f.name] = {**f.metadata["rule"].json, **extra, **({"description": f.metadata["doc"]} if f.metadata["doc"] else {})}
    return out


__all__ = ["RunConfig", "TrainConfig", "DataConfig", "ContextConfig", "TopConfig", "SCHEDULERS", "TRACKERS", "setting", "with_keys",
           "unknown_key", "mapping_problems", "read_section", "section_schema"]

"""The tasks of a config: `task_specs` turns the single-task and the multi-task forms into
one list of `TaskSpec`, which validation, the pipeline builder and the runner all walk.

In the multi-task form a task may bring its own `encoder:` and `translator:` (the paper's
RQ3 on real features: one LLM shared by tasks whose features differ in width, e.g. EgoVLP's
256-d and SlowFast+CLIP's 2816-d). A task without them uses the shared `model.encoder` and
`model.translator`; a task that sets either gets its own pair of modules, the other one built
from the model's config (the translator's input width follows the encoder, so they go together).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

SPLITS = ("train", "val", "test")
#: the keys of one item of `tasks:`.
TASK_KEYS = ("name", "head", "data", "metric", "prompt", "weight", "encoder", "translator", "query_position", "batch_size")
#: the parts a task may have of its own instead of the model's shared one.
OWN_PARTS = ("encoder", "translator")
#: what a task's item may set in place of the `model:` section (kept in a model folder's config).
OWN_MODEL_KEYS = (*OWN_PARTS, "query_position")


@dataclass
class TaskSpec:
    """One task of a config, in the same shape for the single- and the multi-task form.

    Attributes:
        name: the task's name (metrics are logged as `NAME/KEY`). Single-task form:
            the metric's type (metrics are registered under the task name), else `"task"`.
        head: the head's component config (`{type: ..., ...}`).
        data: `{split: dataset config}` for the splits present (`train`/`val`/`test`).
        metric: the metric's component config, or `None`.
        prompt: the task prompt put before the query text, or `None`.
        weight: the task's loss weight (1.0 unless set).
        prefix: YAML path of the task (`""` single-task, `"tasks.0"` multi-task).
        encoder: the task's own encoder config, or `None` (it uses `model.encoder`).
        translator: the task's own translator config, or `None` (`model.translator`; a
            task with its own encoder still gets its own translator module, see the module doc).
    """

    name: str
    head: dict[str, Any] | None
    data: dict[str, dict[str, Any]] = field(default_factory=dict)
    metric: dict[str, Any] | None = None
    prompt: str | None = None
    weight: float = 1.0
    prefix: str = ""
    encoder: dict[str, Any] | None = None
    translator: dict[str, Any] | None = None
    query_position: str | None = None
    batch_size: int | None = None

    def path(self, part: str) -> str:
        """YAML path of `part` (`"head"`, `"data"`, `"metric"`, `"prompt"`, `"encoder"`...) of this task."""
        if self.prefix:
            return f"{self.prefix}.{part}"
        return {"head": "model.head", "prompt": "model.prompt", "encoder": "model.encoder",
                "translator": "model.translator", "query_position": "model.query_position"}.get(part, part)

    @property
    def owns_input(self) -> bool:
        """Whether the task has its own encoder and translator modules (it sets either)."""
        return self.encoder is not None or self.translator is not None

    def encoder_config(self, cfg: Mapping[str, Any]) -> Any:
        """The encoder config this task reads its features with (its own, else `model.encoder`)."""
        return self.encoder if self.encoder is not None else _mapping(cfg.get("model")).get("encoder")

    def translator_config(self, cfg: Mapping[str, Any]) -> Any:
        """The translator config of this task (its own, else `model.translator`)."""
        return self.translator if self.translator is not None else _mapping(cfg.get("model")).get("translator")

    def input_path(self, part: str) -> str:
        """YAML path of the encoder or translator config this task uses (its own or the model's)."""
        return self.path(part) if getattr(self, part) is not None else f"model.{part}"


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _name_of(type_name: Any) -> str:
    return str(type_name).rpartition(":")[2] if type_name else ""


def task_specs(cfg: Mapping[str, Any]) -> list[TaskSpec]:
    """The config's tasks: one for the single-task form, one per `tasks:` item otherwise.

    Assumes a config that [`validate_config`][videollm_core.validation.validate_config] accepted (it does not re-check types).
    """
    tasks = cfg.get("tasks")
    if tasks:
        specs = []
        for i, item in enumerate(tasks):
            data = item.get("data") or {}
            specs.append(TaskSpec(
                name=str(item.get("name") or f"task{i}"),
                head=item.get("head"),
                data={s: data[s] for s in SPLITS if data.get(s)},
                metric=item.get("metric"),
                prompt=item.get("prompt"),
                weight=float(item.get("weight", 1.0)),
                prefix=f"tasks.{i}",
                encoder=item.get("encoder"),
                translator=item.get("translator"),
                query_position=item.get("query_position"),
                batch_size=item.get("batch_size"),
            ))
        return specs
    model, data = _mapping(cfg.get("model")), _mapping(cfg.get("data"))
    metric = cfg.get("metric")
    name = _name_of(metric.get("type")) if isinstance(metric, dict) else ""
    return [TaskSpec(name=name or "task", head=model.get("head"), data={s: data[s] for s in SPLITS if data.get(s)},
                     metric=metric, prompt=model.get("prompt"))]


__all__ = ["TaskSpec", "task_specs", "SPLITS", "TASK_KEYS", "OWN_PARTS", "OWN_MODEL_KEYS"]

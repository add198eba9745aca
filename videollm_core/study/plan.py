"""A study expanded into runs: one per base config x combination of axis values, plus the controls.

A run's id is made from what it overrides, in a fixed order, so that the same study gives the same
ids on every machine and every `--resume`: `oad__llm=gpt2-s__tuner=lora__seed=0`,
`oad__control=no_llm__seed=1`. Each run gets a folder `DIR/runs/<id>/`:

    plan.json     the run as planned: task, labels, overrides, base, GPUs, research questions
    config.yaml   the complete config (bases merged, overrides applied, work_dir set to `work/`)
    work/         the run's work dir (checkpoints, metrics.jsonl, summary.json, predictions, plots)
    log.txt       everything the run printed, with the study's own lines about it
    result.json   written once the run finished (`worker`); failed.json when it failed
"""
from __future__ import annotations

import hashlib
import itertools
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from ..config import Config, load_config
from ..errors import ConfigError
from ..executor import RunCommand
from ..validation import task_specs
from .spec import Axis, Control, Study

#: research question -> what it asks (the paper's five; `report` draws one table each).
RESEARCH_QUESTIONS = {
    "RQ1": "a frozen LLM reasons over video (against its controls)",
    "RQ2": "LLM architecture x tuning method, per task",
    "RQ3": "one LLM for every task at once",
    "RQ4": "results against LLM size",
    "RQ5": "against task-specific models",
}
#: a run id longer than this is cut and ends with a hash of the whole id.
MAX_ID = 120


@dataclass
class PlannedRun:
    """One run: its id, where it comes from, and what it changes."""

    id: str
    task: str
    base: Path
    variant: str | None
    control: str | None
    labels: dict[str, str]
    overrides: dict[str, Any]
    gpus: int
    tasks: list[str] = field(default_factory=list)
    tuner: str = ""
    rqs: list[str] = field(default_factory=list)

    def config(self, work_dir: str | Path | None = None) -> Config:
        """The complete config of this run (and its `work_dir`)."""
        cfg = load_config(self.base, self.overrides)
        if work_dir is not None:
            cfg["work_dir"] = str(work_dir)
        return cfg

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "task": self.task, "tasks": self.tasks, "base": str(self.base), "variant": self.variant,
                "control": self.control, "labels": self.labels, "overrides": self.overrides, "gpus": self.gpus,
                "tuner": self.tuner, "rqs": self.rqs}


def _run_id(parts: list[str]) -> str:
    text = "__".join(parts)
    if len(text) <= MAX_ID:
        return text
    return text[: MAX_ID - 10] + "-" + hashlib.sha1(text.encode()).hexdigest()[:9]


def _short_keys(axes: list[Axis]) -> dict[str, str]:
    """`model.llm` -> `llm`, unless two axes end alike (then the whole key, dots as `-`)."""
    shorts = [a.short for a in axes]
    return {a.key: a.short if shorts.count(a.short) == 1 else a.key.replace(".", "-") for a in axes}


def _excluded(study: Study, task: str, labels: dict[str, str]) -> bool:
    have = {"task": task, **labels}
    return any(all(have.get(k) == v for k, v in rule.items()) for rule in study.exclude)


def _combinations(axes: list[Axis]) -> Iterator[list[tuple[Axis, str, Any]]]:
    for combo in itertools.product(*[a.values for a in axes]):
        yield [(axis, label, value) for axis, (label, value) in zip(axes, combo)]


def _describe(run: PlannedRun) -> None:
    """Fill in the run's tasks, tuner and research questions from its config."""
    cfg = run.config()
    run.tasks = [s.name for s in task_specs(cfg)]
    tuner = (cfg.get("model") or {}).get("tuner") or {}
    run.tuner = str(tuner.get("type", "")).rpartition(":")[2] if isinstance(tuner, dict) else ""
    if run.control:
        run.rqs = ["RQ1"]
    else:
        run.rqs = (["RQ1"] if run.tuner == "Frozen" else []) + ["RQ2"] + (["RQ3"] if len(run.tasks) > 1 else []) + ["RQ4", "RQ5"]


def plan_runs(study: Study) -> list[PlannedRun]:
    """Every run of `study`, in a stable order (bases as listed, axes as listed, then the controls)."""
    shorts = _short_keys(study.axes)
    runs: list[PlannedRun] = []
    for task, variant, base in study.bases:
        head = [task] + ([f"config={variant}"] if variant else [])
        for combo in _combinations(study.axes):
            labels = {axis.key: label for axis, label, _ in combo}
            if _excluded(study, task, {**labels, **({"config": variant} if variant else {})}):
                continue
            overrides = {**study.options, **{axis.key: value for axis, _, value in combo}}
            parts = head + [f"{shorts[axis.key]}={label}" for axis, label, _ in combo]
            runs.append(PlannedRun(_run_id(parts), task, base, variant, None, labels, overrides, study.gpus_per_run))
        for control in study.controls:
            runs += _control_runs(study, control, task, variant, base, head, shorts)
    ids = [r.id for r in runs]
    if len(set(ids)) != len(ids):
        dup = sorted({i for i in ids if ids.count(i) > 1})[0]
        raise ConfigError(f"two runs get the id {dup!r}", where=str(study.path), hint="give the bases or axis values distinct names")
    for run in runs:
        try:
            _describe(run)
        except ConfigError as e:
            raise e.relocate(f"{study.path}: run {run.id} ({e.where})") from None
    return runs


def _control_runs(study: Study, control: Control, task: str, variant: str | None, base: Path, head: list[str],
                  shorts: dict[str, str]) -> list[PlannedRun]:
    if control.tasks is not None and task not in control.tasks:
        return []
    axes = [a for a in study.axes if a.key in control.vary]
    out = []
    for combo in _combinations(axes):
        labels = {"control": control.name, **{axis.key: label for axis, label, _ in combo}}
        if _excluded(study, task, labels):
            continue
        overrides = {**study.options, **{axis.key: value for axis, _, value in combo}, **control.set}
        parts = head + [f"control={control.name}"] + [f"{shorts[axis.key]}={label}" for axis, label, _ in combo]
        out.append(PlannedRun(_run_id(parts), task, base, variant, control.name, labels, overrides, study.gpus_per_run))
    return out


def run_dir(out: Path, run: PlannedRun) -> Path:
    return out / "runs" / run.id


def command(out: Path, run: PlannedRun, study: Study) -> RunCommand:
    """What an executor starts for `run`: the worker, in the study's `data_root`."""
    folder = run_dir(out, run)
    return RunCommand(run_id=run.id, argv=(sys.executable, "-m", "videollm_core.study.worker", str(folder)),
                      cwd=str(study.data_root), log=str(folder / "log.txt"), gpus=run.gpus)


def write_run(out: Path, run: PlannedRun) -> str:
    """Write `plan.json` and `config.yaml` of `run` (once); returns the run's state:
    `new`, `done` (a result exists for this very config), `pending` (started before, not finished)."""
    folder = run_dir(out, run)
    config = run.config(work_dir=folder / "work").to_yaml()
    written = folder / "config.yaml"
    if written.is_file():
        if written.read_text(encoding="utf-8") != config:
            raise ConfigError(f"run {run.id} was started with another config", where=str(written),
                              hint="the study file changed: write the study to a new --out folder, or delete that run's folder")
        return "done" if (folder / "result.json").is_file() else "pending"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "plan.json").write_text(json.dumps(run.to_json(), indent=1, default=str), encoding="utf-8")
    written.write_text(config, encoding="utf-8")
    return "new"


__all__ = ["PlannedRun", "plan_runs", "write_run", "command", "run_dir", "RESEARCH_QUESTIONS"]

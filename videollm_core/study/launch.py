"""Run a planned study through an executor: resumable, every failure recorded, the others going on.

`DIR/` holds `study.yaml` (a copy of the study file), `runs/<id>/` (`plan`), the
executor's own files under `executor/`, and the report (`report`). A fresh study into a
folder that already holds runs is refused unless `--resume`; with it, runs that have a result are
skipped, runs started before continue from their last checkpoint, and the rest start.
"""
from __future__ import annotations

import json
import shutil
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..engine.logs import progress_bar
from ..errors import ConfigError, UserError
from ..signature import constructor_parameters
from .plan import PlannedRun, command, plan_runs, run_dir, write_run
from .spec import Study
from .worker import record_failure, write_json


@dataclass
class StudyOutcome:
    """What a study did: run ids per state, and the failures with their errors and logs."""

    skipped: list[str] = field(default_factory=list)
    finished: list[str] = field(default_factory=list)
    failed: dict[str, dict[str, Any]] = field(default_factory=dict)
    seconds: float = 0.0


def build_executor(spec: dict[str, Any], jobs: int | None, registries: Any) -> Any:
    """The study's executor (`executor:` of the study file; `--executor`/`--jobs` override it)."""
    cfg = dict(spec)
    cls = registries.executors.lookup(cfg.get("type"), where="executor.type")
    if jobs is not None:
        if "jobs" not in constructor_parameters(cls):
            raise ConfigError(f"the {cfg['type']} executor takes no --jobs", where="--jobs",
                              hint="its settings go in the study file's executor: section (see `videollm list executors "
                                   f"{cfg['type']}`)")
        cfg["jobs"] = jobs
    return registries.executors.build(cfg, where="executor")


def prepare(study: Study, out: Path, runs: list[PlannedRun], resume: bool) -> list[PlannedRun]:
    """Write the study folder and every run's folder; return the runs still to do."""
    existing = out / "runs"
    if existing.is_dir() and any(existing.iterdir()) and not resume:
        raise ConfigError(f"{out} already holds a study's runs", where="--out",
                          hint="--resume continues it (finished runs are skipped); or choose another --out")
    out.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(study.path, out / "study.yaml")
    states = {run.id: write_run(out, run) for run in runs}
    return [run for run in runs if states[run.id] != "done"]


def _record_end(folder: Path, status: int) -> dict[str, Any] | None:
    """The failure record of a run that ended with `status` (`None` when it finished). Writes
    `failed.json` when the worker could not (it was killed, or never started)."""
    if status == 0 and (folder / "result.json").is_file():
        return None
    failed = folder / "failed.json"
    if failed.is_file():
        try:
            return json.loads(failed.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            pass
    return record_failure(folder, status)


def run_study(study: Study, out: Path, executor: Any, *, resume: bool = False) -> StudyOutcome:
    """Run every run of `study` into `out` through `executor`; failures are recorded, not raised."""
    started = time.time()
    runs = plan_runs(study)
    todo = prepare(study, out, runs, resume)
    outcome = StudyOutcome(skipped=[r.id for r in runs if r not in todo])
    lock = threading.Lock()
    bar = progress_bar(len(todo), desc="study", unit="run")

    def on_done(run_id: str, status: int) -> None:
        with lock:
            failure = _record_end(out / "runs" / run_id, status)
            if failure is None:
                outcome.finished.append(run_id)
            else:
                outcome.failed[run_id] = failure
            bar.update(1)  # and one line per run: the bar is silent with --quiet and off a terminal
            word = "done" if failure is None else f"FAILED (status {failure.get('status')})"
            bar.write(f"[{len(outcome.finished) + len(outcome.failed)}/{len(todo)}] {word} {run_id}", file=sys.stdout)

    commands = [command(out, run, study) for run in todo]
    if commands:
        state_dir = out / "executor"
        state_dir.mkdir(exist_ok=True)
        executor.run(commands, on_done, str(state_dir))
    bar.close()
    for run in todo:  # an executor that lost a run (never called on_done): recorded as failed
        if run.id not in outcome.finished and run.id not in outcome.failed:
            outcome.failed[run.id] = _record_end(run_dir(out, run), 1) or {}
    outcome.seconds = round(time.time() - started, 3)
    write_json(out / "outcome.json", {"skipped": outcome.skipped, "finished": outcome.finished, "failed": outcome.failed,
                                       "seconds": outcome.seconds})
    return outcome


def plan_report(study: Study, runs: list[PlannedRun], *, parameters: bool, registries: Any) -> dict[str, Any]:
    """The `--dry-run` plan: every run with its overrides (and parameter counts from a meta-device build)."""
    from ..plugins import configure_config
    from ..validation import validate_config

    entries, cache = [], {}
    for run in runs:
        entry = {"id": run.id, "task": run.task, "tasks": run.tasks, "control": run.control, "overrides": run.overrides,
                 "labels": run.labels, "tuner": run.tuner, "rqs": run.rqs}
        if parameters:
            cfg = configure_config(run.config())
            key = json.dumps({"model": cfg.get("model"), "tasks": cfg.get("tasks"), "data": cfg.get("data")}, sort_keys=True, default=str)
            if key not in cache:
                try:
                    validate_config(cfg)
                    from ..engine.parameters import dry_run

                    cache[key] = dry_run(cfg, registries)
                except UserError as e:
                    raise e.relocate(f"run {run.id}: {e.where}") from None
            entry.update(total=cache[key]["total"], trainable=cache[key]["trainable"])
        entries.append(entry)
    per_rq: dict[str, int] = {}
    for run in runs:
        for rq in run.rqs:
            per_rq[rq] = per_rq.get(rq, 0) + 1
    return {"study": study.name, "runs": entries, "count": len(entries), "per_rq": dict(sorted(per_rq.items())),
            "controls": sum(1 for r in runs if r.control), "executor": study.executor}


__all__ = ["StudyOutcome", "build_executor", "prepare", "run_study", "plan_report"]

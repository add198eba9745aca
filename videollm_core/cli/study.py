"""``videollm study STUDY.yaml`` and ``videollm report DIR``: the paper's study in one command
(:mod:`videollm_core.study`). Exit status: 0 when every run finished, 1 when some run failed (each
listed with its error and log), 2 for a mistake in the study file or the command line."""
from __future__ import annotations

import argparse
import contextlib
import json
import os
from pathlib import Path
from typing import Any, Callable, Iterator

EXIT_RUNS_FAILED = 1


@contextlib.contextmanager
def _inside(folder: Path) -> Iterator[None]:
    """Work in ``folder`` for a while (a study's relative data paths resolve in its ``data_root``)."""
    before = os.getcwd()
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(before)


def _check_data(study: Any, runs: list[Any]) -> list[dict[str, Any]]:
    """Open each base config's data once (first item of every split), from the study's ``data_root``."""
    from ..errors import DataError
    from ..plugins import configure_config
    from .data_check import check_data

    if not study.data_root.is_dir():
        raise DataError(f"data_root {study.data_root} is not a folder", where=f"{study.path}: data_root",
                        hint="point data_root at the folder holding the features and annotations, or plan with --no-data")
    seen, report = set(), []
    with _inside(study.data_root):
        for run in runs:
            if run.base in seen:
                continue
            seen.add(run.base)
            report += check_data(configure_config(run.config()))
    return report


def _format_plan(plan: dict[str, Any]) -> str:
    width = max((len(r["id"]) for r in plan["runs"]), default=2)
    lines = [f"{'run':<{width}}  {'tuner':<12} {'parameters':>15} {'trainable':>13}"]
    for r in plan["runs"]:
        lines.append(f"{r['id']:<{width}}  {r['tuner']:<12} {r.get('total', 0):>15,} {r.get('trainable', 0):>13,}")
    lines.append(f"{plan['count']} runs ({plan['controls']} controls); per research question: "
                 + ", ".join(f"{rq} {n}" for rq, n in plan["per_rq"].items()))
    return "\n".join(lines)


def cmd_study(args: argparse.Namespace) -> int:
    from ..plugins import REGISTRIES
    from ..study.launch import build_executor, plan_report, run_study
    from ..study.plan import plan_runs
    from ..study.report import write_report
    from ..study.spec import read_study

    study = read_study(args.study)
    if args.executor:
        study.executor = study.executor if study.executor.get("type") == args.executor else {"type": args.executor}
    runs = plan_runs(study)
    if args.dry_run:
        plan = plan_report(study, runs, parameters=True, registries=REGISTRIES)
        if not args.no_data:
            plan["data"] = _check_data(study, runs)
        print(json.dumps(plan, indent=1, default=str) if args.json else _format_plan(plan))
        return 0
    if args.json or args.no_data:
        from ..errors import ConfigError

        raise ConfigError("--json and --no-data go with --dry-run", where="videollm study")
    executor = build_executor(study.executor, args.jobs, REGISTRIES)
    out = Path(args.out or Path("work_dirs") / "study" / study.name).resolve()
    outcome = run_study(study, out, executor, resume=args.resume)
    written = write_report(out)
    print(f"{len(outcome.finished)} run(s) finished, {len(outcome.skipped)} already done, {len(outcome.failed)} failed"
          f" in {outcome.seconds:.1f} s")
    for run_id, failure in sorted(outcome.failed.items()):
        print(f"  failed: {run_id}: {failure.get('error', '')}\n          log: {failure.get('log', '')}")
    print(f"outputs: {out} | " + " | ".join(str(p) for p in written.values()))
    return EXIT_RUNS_FAILED if outcome.failed else 0


def cmd_report(args: argparse.Namespace) -> int:
    from ..study.collect import collect
    from ..study.report import write_report

    got = collect(Path(args.dir))
    written = write_report(Path(args.dir), collected=got)
    print(f"{len(got.rows)} finished run(s), {len(got.failed)} failed, {len(got.unfinished)} not finished")
    print("outputs: " + " | ".join(str(p) for p in written.values()))
    return 0


def add_study_commands(sub: Any, add_common: Callable[..., None]) -> None:
    """Add ``study`` and ``report`` to the ``videollm`` subcommands."""
    p = sub.add_parser("study", help="run a study (base configs x axes + controls) locally or on Slurm, then report it")
    p.add_argument("study", help="the study file (see examples/study/)")
    p.add_argument("--out", metavar="DIR", help="where the runs and the report go (default: work_dirs/study/<name>)")
    p.add_argument("--jobs", type=int, metavar="N", help="runs at once (local executor; one GPU each when there are GPUs)")
    p.add_argument("--executor", metavar="local|slurm", help="where the runs run (default: the study file's executor:)")
    p.add_argument("--resume", action="store_true", help="continue a study in DIR: finished runs are skipped, started ones resume")
    p.add_argument("--dry-run", action="store_true", help="print the plan (runs, overrides, parameters, runs per RQ); train nothing")
    p.add_argument("--no-data", action="store_true", help="with --dry-run: do not open the data (plan a study whose data is elsewhere)")
    p.add_argument("--json", action="store_true", help="with --dry-run: the plan as one JSON object")
    p.set_defaults(func=cmd_study)
    add_common(p, suppress=True)

    p = sub.add_parser("report", help="a study folder's finished runs as results.csv, results.md (RQ1-RQ5 tables) and plots")
    p.add_argument("dir", help="the --out folder of `videollm study`")
    p.set_defaults(func=cmd_report)
    add_common(p, suppress=True)


__all__ = ["add_study_commands", "cmd_study", "cmd_report", "EXIT_RUNS_FAILED"]

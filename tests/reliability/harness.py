"""Running one :class:`~mutations.Mutation` through the CLI, in-process or as a subprocess."""
from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from mutations import Mutation


@dataclass
class Outcome:
    code: int
    out: str
    err: str


class WouldTrain(AssertionError):
    """A broken config got past every check and reached training."""


def write_files(mutation: Mutation, folder: Path) -> Path:
    """Write the mutation's files under ``folder``; return the path of the config to run."""
    first = None
    for name, body in mutation.files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(body, bytes):
            path.write_bytes(body)
        else:
            path.write_text(body, encoding="utf-8")
        first = first or path
    return first


def argv(mutation: Mutation, config: Path, work_dir: Path) -> list[str]:
    """A dry run (the config's own ``work_dir`` and, for the examples, every split's data are checked
    too), or a run into ``work_dir``."""
    args = [str(config), "--work-dir", str(work_dir)] if mutation.needs_run else [str(config), "--dry-run"]
    if mutation.id.startswith("paper/") and not mutation.needs_run:
        args.append("--no-data")  # the paper grid's data is not on this machine
    if mutation.options:
        args += ["--cfg-options", *mutation.options]
    return args


def run_in_process(mutation: Mutation, folder: Path) -> Outcome:
    """``videollm_core.cli.commands.run_main`` with stdout/stderr captured; the first training batch is
    never drawn (``Runner._train_iterators`` raises :class:`WouldTrain`)."""
    config = write_files(mutation, folder)
    return run_argv(argv(mutation, config, folder / "work"), label=mutation.id)


def run_argv(args: list[str], label: str = "") -> Outcome:
    """``videollm-run ARGS`` in-process (output captured, training refused as in :func:`run_in_process`)."""
    from videollm_core.cli import commands as cli
    from videollm_core.engine import runner

    out, err = io.StringIO(), io.StringIO()
    saved = runner.Runner._train_iterators

    def refuse(self, *a, **k):
        raise WouldTrain(f"{label or args}: every check passed and training began")

    runner.Runner._train_iterators = refuse
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = cli.run_main(args)
            except SystemExit as e:  # argparse's own usage errors (exit 2, "PROG: error: ...")
                code = e.code if isinstance(e.code, int) else 2
    finally:
        runner.Runner._train_iterators = saved
    return Outcome(code, out.getvalue(), err.getvalue())


def run_subprocess(mutation: Mutation, folder: Path, env: dict[str, str] | None = None, timeout: float = 180) -> Outcome:
    """The installed console script ``videollm-run`` in a fresh process."""
    config = write_files(mutation, folder)
    script = Path(sys.executable).with_name("videollm-run")
    proc = subprocess.run([str(script), *argv(mutation, config, folder / "work")], capture_output=True, text=True,
                          cwd=str(folder), env={**os.environ, **(env or {})}, timeout=timeout)
    return Outcome(proc.returncode, proc.stdout, proc.stderr)

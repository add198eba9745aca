"""The executor role: what starts the runs of a study (`videollm study`) and reports how each ended.

A study (`videollm_core.study`) turns every run into one [`RunCommand`][videollm_core.executor.RunCommand]: a command line
that trains the run and records its result in the run's folder. An executor only starts those
commands somewhere (processes on this machine, a Slurm job array, another scheduler) and reports
each command's exit status; it never reads a config or a metric. Built-ins: `local` and
`slurm` (`videollm list executors`); a plugin registers another in `registries.executors`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence


@dataclass(frozen=True)
class RunCommand:
    """One run of a study, as the executor sees it.

    Attributes:
        run_id: the run's stable id (its folder's name under `STUDY/runs/`).
        argv: the command (`python -m videollm_core.study.worker RUN_DIR`); it trains the run,
            appends everything it prints to `log` and writes the run's result or failure itself.
        cwd: the folder the command runs in (the study's `data_root`: relative data paths resolve there).
        log: the run's log file (the executor appends its own lines about the run there).
        gpus: GPUs the run needs; 0 runs on the CPU, more than 1 launches through `accelerate launch`.
    """

    run_id: str
    argv: tuple[str, ...]
    cwd: str
    log: str
    gpus: int = 0


#: `on_done(run_id, exit_status)`: called once per command as it ends (from the calling thread or another).
DoneCallback = Callable[[str, int], None]


class Executor:
    """Starts a study's commands and waits for all of them.

    Constructor arguments come from the study file's `executor:` section and the command line
    (`--jobs`, `--executor`); subclasses declare the ones they take.
    """

    def run(self, commands: Sequence[RunCommand], on_done: DoneCallback, state_dir: str) -> None:  # pragma: no cover - abstract
        """Run every command (each at most once), calling `on_done` as each ends; return when all have
        ended. A command that cannot be started counts as ended with a non-zero status; the others go on.
        `state_dir` is a folder of the study for the executor's own files (job scripts, scheduler logs)."""
        raise NotImplementedError


__all__ = ["Executor", "RunCommand", "DoneCallback"]

"""The `slurm` executor: a study's runs as Slurm job arrays, submitted and watched through `submitit`.

Built on submitit's own classes: `submitit.AutoExecutor` (`cluster="slurm"`, which wraps
`submitit.SlurmExecutor` and writes the `sbatch` script), its `map_array` (one job array
per call) and the `submitit.slurm.slurm.SlurmJob` objects it returns (`done()`, `result()`,
whose state comes from `sacct` through submitit's shared `SlurmInfoWatcher`). Each array task
runs `run_command` on a compute node, which runs the run's command line and returns its exit
status. submitit is imported only when a study uses this executor (`pip install -e ".[study]"`).

Files: submitit keeps the job scripts, pickles and its own logs (`<job>_0_log.out` / `.err`) in
`STATE_DIR/slurm/`; the run's own output goes to its `log`, where this executor also appends a
line naming the Slurm job and, if the job ended without a result, why.
"""
from __future__ import annotations

import logging
import re
import shutil
import subprocess
import time as _time
from pathlib import Path
from typing import Any, Sequence

from videollm_core.errors import ConfigError
from videollm_core.executor import DoneCallback, Executor, RunCommand

log = logging.getLogger("videollm.executors.slurm")

_TAG = "[videollm slurm]"


def run_command(argv: Sequence[str], cwd: str, log: str) -> int:
    """Run one command on the compute node (what each array task calls); return its exit status.

    Args:
        argv: the command line.
        cwd: the folder it runs in.
        log: the file its stdout and stderr are appended to.
    """
    with open(log, "a", encoding="utf-8") as out:
        try:
            return subprocess.run(list(argv), cwd=cwd, stdout=out, stderr=subprocess.STDOUT, check=False).returncode
        except OSError as error:  # the program or cwd is missing on the node
            out.write(f"{_TAG} could not start {argv[0] if argv else '(empty command)'}: {error}\n")
            return 1


def _append(path: str, line: str) -> None:
    try:
        with open(path, "a", encoding="utf-8") as out:
            out.write(line.rstrip("\n") + "\n")
    except OSError as error:
        log.warning("could not write to %s (%s): %s", path, error, line)


def _summary(error: BaseException) -> str:
    """One line out of one of submitit's multi-line job errors (the trace's last line, or the state)."""
    text = str(error)
    parts = re.split(r"\n-{10,}\n", text)
    lines: list[str] = []
    if len(parts) >= 3:  # FailedJobError: "... with trace:\n----\nTRACE\n----\nYou can check ..."
        lines = [s.strip() for s in parts[1].splitlines() if s.strip()][-1:]
    if not lines:
        found = re.search(r"has not produced any output \(state: [^)]*\)", text)
        lines = [found.group(0)] if found else [s.strip() for s in text.splitlines() if s.strip()][:1]
    line = f"{type(error).__name__}: {lines[0] if lines else '(no message)'}"
    return line if len(line) <= 400 else line[:397] + "..."


class SlurmExecutor(Executor):
    """Submits a study's runs to Slurm as job arrays (one per GPU count) through submitit, and waits.

    Args:
        partition: Slurm partition (`--partition`); None: the cluster's default.
        account: account to charge (`--account`); None: the user's default.
        time: wall-clock limit of each run, in minutes (`--time`).
        mem_gb: memory of each run, in GB (`--mem`); None: the partition's default.
        cpus_per_task: CPU cores of each run (`--cpus-per-task`); None: the partition's default.
        gpus_per_run: GPUs of each run (`--gpus-per-node`); None: each run's own `gpus`.
        array_parallelism: most runs of one array running at once (the `%N` of `--array`).
        constraint: node features required (`--constraint`), e.g. `"a100"`.
        qos: quality of service (`--qos`).
        additional: extra sbatch parameters, `{name: value}` without the leading `--`
            (submitit's `slurm_additional_parameters`), e.g. `{"mail-type": "END"}`.
        poll_seconds: seconds between two rounds of checking the jobs.
    """

    def __init__(
        self,
        partition: str | None = None,
        account: str | None = None,
        time: int = 240,
        mem_gb: int | None = None,
        cpus_per_task: int | None = None,
        gpus_per_run: int | None = None,
        array_parallelism: int = 64,
        constraint: str | None = None,
        qos: str | None = None,
        additional: dict[str, Any] | None = None,
        poll_seconds: float = 15.0,
    ) -> None:
        for name, value, least in (("time", time, 1), ("mem_gb", mem_gb, 1), ("cpus_per_task", cpus_per_task, 1),
                                   ("gpus_per_run", gpus_per_run, 0), ("array_parallelism", array_parallelism, 1)):
            if value is not None and value < least:
                raise ConfigError(f"{name} must be at least {least}, got {value!r}", where=f"executor.{name}")
        if poll_seconds <= 0:
            raise ConfigError(f"poll_seconds must be positive, got {poll_seconds!r}", where="executor.poll_seconds")
        self.partition, self.account, self.time = partition, account, time
        self.mem_gb, self.cpus_per_task, self.gpus_per_run = mem_gb, cpus_per_task, gpus_per_run
        self.array_parallelism, self.constraint, self.qos = array_parallelism, constraint, qos
        self.additional = dict(additional or {})
        self.poll_seconds = float(poll_seconds)

    # -- submission -------------------------------------------------------------------------------

    @staticmethod
    def _submitit() -> Any:
        """The submitit module, once checked that this machine can submit to Slurm."""
        try:
            import submitit
        except ImportError:
            raise ConfigError("the slurm executor needs submitit", where="executor",
                              hint='pip install -e ".[study]"  (or pip install submitit)') from None
        if shutil.which("srun") is None:  # submitit's own test for "on a Slurm cluster"
            raise ConfigError("no Slurm here: srun is not on PATH", where="executor",
                              hint="run the study on a Slurm login node, or use 'executor: {type: local}'")
        return submitit

    def _submitit_executor(self, submitit: Any, folder: Path, gpus: int) -> Any:
        """A fresh `submitit.AutoExecutor` for one array (its resource spec: `gpus` GPUs per run)."""
        ex = submitit.AutoExecutor(folder=folder, cluster="slurm")
        ex.update_parameters(
            name="videollm-study", timeout_min=int(self.time), mem_gb=self.mem_gb, cpus_per_task=self.cpus_per_task,
            gpus_per_node=gpus if gpus > 0 else None,
            slurm_partition=self.partition, slurm_account=self.account, slurm_constraint=self.constraint,
            slurm_qos=self.qos, slurm_array_parallelism=int(self.array_parallelism),
            slurm_additional_parameters=self.additional or None,
        )
        return ex

    def _submit_group(self, submitit: Any, folder: Path, gpus: int, group: list[RunCommand],
                      on_done: DoneCallback) -> list[tuple[RunCommand, Any]]:
        """Submit one array (all of `group` ask for `gpus` GPUs); if that fails, end them all with status 1."""
        try:
            ex = self._submitit_executor(submitit, folder, gpus)
            jobs = ex.map_array(run_command, [list(c.argv) for c in group], [c.cwd for c in group], [c.log for c in group])
        except Exception as error:  # sbatch missing, refused, or answered nonsense
            message = " ".join(str(error).split()) or type(error).__name__
            log.error("could not submit %d run(s) to Slurm: %s", len(group), message)
            for command in group:
                _append(command.log, f"{_TAG} could not submit to Slurm (sbatch): {message}")
                on_done(command.run_id, 1)
            return []
        log.info("submitted %d run(s) (%d GPU(s) each) to Slurm: jobs %s", len(group), gpus,
                 ", ".join(j.job_id for j in jobs))
        for command, job in zip(group, jobs):
            _append(command.log, f"{_TAG} submitted as Slurm job {job.job_id} (submitit's logs: "
                                 f"{job.paths.stdout}, {job.paths.stderr})")
        return list(zip(group, jobs))

    # -- waiting ----------------------------------------------------------------------------------

    @staticmethod
    def _finish(command: RunCommand, job: Any, on_done: DoneCallback) -> None:
        try:
            status = job.result()
            if not isinstance(status, int) or isinstance(status, bool):
                raise TypeError(f"the job returned {status!r}, not an exit status")
        except Exception as error:  # submitit's UncompletedJobError/FailedJobError: failed, cancelled, timed out
            state = job.watcher.get_state(job.job_id, mode="cache")
            _append(command.log, f"{_TAG} Slurm job {job.job_id} failed (state {state}): {_summary(error)}; "
                                 f"submitit's stderr: {job.paths.stderr}")
            status = 1
        on_done(command.run_id, status)

    def run(self, commands: Sequence[RunCommand], on_done: DoneCallback, state_dir: str) -> None:
        """Submit `commands` (one array per GPU count), then call `on_done` as each job ends.

        A run that finished is seen within `poll_seconds` (its result file); one that Slurm ended
        without a result (cancelled, killed, out of memory) only once submitit's `sacct` watcher
        sees it, which backs off from every 2 s up to every 10 minutes.

        Raises:
            ConfigError: submitit is not installed, or this machine has no Slurm (`srun`); nothing was submitted.
        """
        if not commands:
            return
        submitit = self._submitit()
        folder = Path(state_dir) / "slurm"
        folder.mkdir(parents=True, exist_ok=True)
        groups: dict[int, list[RunCommand]] = {}
        for command in commands:
            gpus = self.gpus_per_run if self.gpus_per_run is not None else command.gpus
            groups.setdefault(int(gpus), []).append(command)
        pending: list[tuple[RunCommand, Any]] = []
        for gpus in sorted(groups):
            pending += self._submit_group(submitit, folder, gpus, groups[gpus], on_done)
        first = True
        while pending:
            if not first:
                _time.sleep(self.poll_seconds)
            first = False
            still: list[tuple[RunCommand, Any]] = []
            for command, job in pending:
                if job.done():
                    self._finish(command, job, on_done)
                else:
                    still.append((command, job))
            pending = still


__all__ = ["SlurmExecutor", "run_command"]

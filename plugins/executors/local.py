"""`local`: a study's runs as processes on this machine, up to `jobs` at once, one GPU each.

Each command runs with `subprocess` from a pool of `jobs` threads (`concurrent.futures.ThreadPoolExecutor`);
when the machine has GPUs, a run gets `gpus` of them through `CUDA_VISIBLE_DEVICES` and waits until they
are free. A child dies with the study (it runs `die_with_parent`), so a killed study leaves no orphan
training behind; `videollm study --resume` then continues the runs from their checkpoints.
"""
from __future__ import annotations

import os
import queue
import subprocess
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from typing import Sequence

from videollm_core.errors import ConfigError
from videollm_core.executor import DoneCallback, Executor, RunCommand
from videollm_core.study.worker import child_env


def _visible_gpus() -> list[str]:
    """The GPU ids this process may use: `CUDA_VISIBLE_DEVICES` when set, else every device torch sees."""
    env = os.environ.get("CUDA_VISIBLE_DEVICES")
    if env is not None:
        return [g for g in env.split(",") if g.strip() and g.strip() != "-1"]
    try:
        import torch

        return [str(i) for i in range(torch.cuda.device_count())]
    except Exception:  # no torch build with CUDA: a CPU machine
        return []


def log_line(path: str, text: str) -> None:
    """Append one timestamped line to a run's log."""
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
    with open(path, "a", encoding="utf-8") as f:
        f.write(f"[{stamp}] {text}\n")


class LocalExecutor(Executor):
    """Runs up to `jobs` commands at once on this machine.

    Args:
        jobs: runs at once (`--jobs N`). On a GPU machine each run holds its own GPUs, so at most
            (GPUs // a run's GPUs) run together whatever `jobs` says. On the CPU each run gets
            `cores // jobs` threads (`OMP_NUM_THREADS`, unless the environment sets it).
        gpus: the GPU ids to share out (default: `CUDA_VISIBLE_DEVICES`, else all that torch sees;
            none: every run on the CPU).
    """

    def __init__(self, jobs: int = 1, gpus: list[int] | None = None):
        if int(jobs) < 1:
            raise ConfigError(f"jobs must be at least 1, got {jobs}", where="executor.jobs", hint="--jobs 2 runs two at once")
        self.jobs = int(jobs)
        self.gpus = [str(g) for g in gpus] if gpus is not None else None

    def run(self, commands: Sequence[RunCommand], on_done: DoneCallback, state_dir: str) -> None:
        gpus = self.gpus if self.gpus is not None else _visible_gpus()
        slots = self.jobs if not gpus else max(1, min(self.jobs, len(gpus)))
        free: queue.Queue[str] = queue.Queue()
        for g in gpus:
            free.put(g)
        lock = threading.Lock()

        def one(cmd: RunCommand) -> None:
            need = min(max(int(cmd.gpus), 0), len(gpus)) if gpus else 0
            if gpus and cmd.gpus > len(gpus):
                log_line(cmd.log, f"needs {cmd.gpus} GPUs, this machine has {len(gpus)}: not started")
                on_done(cmd.run_id, 1)
                return
            with lock:  # take all of a run's GPUs at once, so two runs never hold half each
                held = [free.get() for _ in range(need)]
            env = child_env()  # the child asks to die with this process (`die_with_parent`)
            if gpus:
                env["CUDA_VISIBLE_DEVICES"] = ",".join(held)
            # runs at once share the cores instead of each taking all of them (torch reads this at start)
            env.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // slots)))
            try:
                log_line(cmd.log, f"local: {' '.join(cmd.argv)}" + (f" (GPUs {','.join(held)})" if held else ""))
                with open(cmd.log, "a", encoding="utf-8") as out:
                    status = subprocess.run(list(cmd.argv), cwd=cmd.cwd, env=env, stdout=out, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL).returncode
            except OSError as e:
                log_line(cmd.log, f"could not start: {e}")
                status = 1
            finally:
                for g in held:
                    free.put(g)
            on_done(cmd.run_id, status)

        with ThreadPoolExecutor(max_workers=slots, thread_name_prefix="videollm-run") as pool:
            for future in [pool.submit(one, c) for c in commands]:
                future.result()


__all__ = ["LocalExecutor", "log_line"]

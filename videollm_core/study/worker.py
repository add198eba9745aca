"""`python -m videollm_core.study.worker RUN_DIR`: train one planned run, then record how it ended.

What every executor starts ([`videollm_core.executor.RunCommand`][videollm_core.executor.RunCommand]), on this machine or on a
cluster node. It trains `RUN_DIR/config.yaml` into `RUN_DIR/work` with `videollm run` in a
child process (through `accelerate launch` when more than one GPU is visible), everything printed
going to `RUN_DIR/log.txt`. Then:

- the run finished: `result.json` (written atomically, so a reader never sees half of it) with the
  validation metrics at the best checkpoint and at the last step, the best checkpoint, the steps
  and the parameter counts (`read_result`);
- it failed or was stopped: `failed.json` with the exit status, the error line and the log's path.

A second start of a run that has a `work/` folder continues it (`--resume auto`); a run with a
`result.json` is not trained again. The worker itself imports neither torch nor the plugins.
"""
from __future__ import annotations

import ctypes
import itertools
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from ..engine.files import write_text_atomic
from ..engine.logs import read_metrics
from ..paths import read_json

#: the error line a failed `videollm run` prints (`videollm_core.cli.commands`).
ERROR_PREFIX = "error: "


#: set by a study process to its pid in the environment of a child it starts (`child_env`).
PARENT_ENV = "VIDEOLLM_DIE_WITH_PARENT"


def child_env(env: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a child this process starts (`env`, else ours) naming us its parent (`die_with_parent`)."""
    return {**(os.environ if env is None else env), PARENT_ENV: str(os.getpid())}


def die_with_parent() -> None:
    """Run first by a child a study started (the worker, its training command): Linux sends the child
    SIGTERM when its parent dies (`PR_SET_PDEATHSIG`), so a killed study leaves no orphan training
    behind (the runner saves a checkpoint on SIGTERM). The child asks for it itself, after `exec`: a
    `preexec_fn` runs between fork and exec, where a thread-pool parent (the local executor) can leave
    a lock held and the child hangs before it starts. A parent gone before the request stops it at once.
    (Under `accelerate launch` the signal comes from the launcher, the processes' own parent.)"""
    parent = os.environ.pop(PARENT_ENV, None)
    if parent is None or not sys.platform.startswith("linux"):
        return
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)
    except (OSError, AttributeError):
        return
    try:
        os.kill(int(parent), 0)  # the study process still there? (a child of `accelerate launch` has another parent)
    except ProcessLookupError:
        os.kill(os.getpid(), signal.SIGTERM)
    except (OSError, ValueError):
        pass


def write_json(path: Path, obj: dict[str, Any]) -> None:
    write_text_atomic(path, json.dumps(obj, indent=1, sort_keys=True, default=str), path.name)


def training_command(run_dir: Path) -> list[str]:
    """`videollm run CONFIG --work-dir work/ --quiet` (`--resume auto` after an earlier start), under
    `accelerate launch` when `CUDA_VISIBLE_DEVICES` names several GPUs."""
    work = run_dir / "work"
    argv = ["-m", "videollm_core.cli", "run", str(run_dir / "config.yaml"), "--work-dir", str(work), "--quiet"]
    if (work / "run.json").is_file():
        argv += ["--resume", "auto"]
    gpus = [g for g in os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",") if g.strip()]
    if len(gpus) > 1:
        return [sys.executable, "-m", "accelerate.commands.launch", "--num_processes", str(len(gpus)), *argv]
    return [sys.executable, *argv]


def read_result(work: Path) -> dict[str, Any] | None:
    """The metrics of a finished run's work dir, or `None` when it is not finished (no summary, or
    interrupted by a signal). `metrics` are the validation scores at the best checkpoint (at the last
    evaluation when the config names no best metric); `final` those of the last evaluation."""
    summary_file = work / "summary.json"
    if not summary_file.is_file():
        return None
    summary = read_json(summary_file, "run summary", dict)
    if summary.get("interrupted") is not None:
        return None
    done = summary.get("step") == summary.get("max_steps") or summary.get("stopped_early")
    if not done:
        return None
    vals = [r for r in read_metrics(work / "metrics.jsonl") if r.get("split") == "val"]
    scores = lambda r: {k: v for k, v in r.items() if k not in ("step", "split")}  # noqa: E731
    best = summary.get("best") or None
    at_best = [r for r in vals if best and r.get("step") == best.get("step")]
    chosen = at_best[-1] if at_best else (vals[-1] if vals else {})
    return {"metrics": scores(chosen), "metrics_step": chosen.get("step"), "final": scores(vals[-1]) if vals else {},
            "best": best, "step": summary.get("step"), "parameters": summary.get("parameters")}


def error_line(log: Path) -> str:
    """The last `error: ...` message of a log with its indented detail lines (joined by ` | `), else
    the log's last non-empty line."""
    try:
        lines = [ln.rstrip() for ln in log.read_text(encoding="utf-8", errors="replace").splitlines()[-200:] if ln.strip()]
    except OSError:
        return ""
    starts = [i for i, ln in enumerate(lines) if ln.startswith(ERROR_PREFIX)]
    if not starts:
        return (lines or [""])[-1][:1000]
    first = starts[-1]
    message = [lines[first]] + [ln.strip() for ln in itertools.takewhile(lambda ln: ln[:1].isspace() or ln.startswith("- "), lines[first + 1:first + 9])]
    return " | ".join(message)[:1000]


def record_failure(folder: Path, status: int, seconds: float | None = None) -> dict[str, Any]:
    """Write `failed.json` of the run in `folder`: its exit status (1 for a run that exited 0 without
    finishing), the error line of its log and the log's path; returns the record."""
    log = folder / "log.txt"
    record = {"status": status or 1, "error": error_line(log) or "the run stopped before its last step", "log": str(log),
              **({"seconds": seconds} if seconds is not None else {})}
    write_json(folder / "failed.json", record)
    return record


def execute(run_dir: str | os.PathLike) -> int:
    """Train the run of `run_dir` (if it has no result yet) and record its outcome; returns the exit status."""
    folder = Path(run_dir).resolve()
    if (folder / "result.json").is_file():
        return 0
    (folder / "failed.json").unlink(missing_ok=True)
    log = folder / "log.txt"
    argv = training_command(folder)
    started = time.time()
    with open(log, "a", encoding="utf-8") as out:
        out.write(f"$ {' '.join(argv)}\n")
        out.flush()
        child = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=child_env())
        # SIGTERM/SIGINT to the worker (an executor stopping it, Slurm's time limit) go on to the training,
        # which saves a checkpoint and stops; the worker then records the run as not finished.
        forward = lambda signum, frame: child.send_signal(signum)  # noqa: E731
        previous = {s: signal.signal(s, forward) for s in (signal.SIGTERM, signal.SIGINT)}
        try:
            status = child.wait()
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)
    seconds = round(time.time() - started, 3)
    result = read_result(folder / "work") if status == 0 else None
    if result is None:
        return record_failure(folder, status, seconds)["status"]
    write_json(folder / "result.json", {**result, "seconds": seconds})
    return 0


def main(argv: list[str] | None = None) -> int:
    die_with_parent()
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m videollm_core.study.worker RUN_DIR", file=sys.stderr)
        return 2
    return execute(args[0])


if __name__ == "__main__":
    sys.exit(main())

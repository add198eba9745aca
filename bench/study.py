"""What a study costs beyond its runs, and what ``--jobs 2`` buys on this machine.

Two measurements in one invocation:

1. **Overhead per run.** A study of ``--runs`` copies of one config (``--config``, default
   ``examples/oad.yaml`` with ``train.max_steps`` = ``--steps``, about 10 s of training on 2 cores)
   runs with ``--jobs 1``. Each run's worker records its training process's wall time
   (``result.json: seconds``); the study's own cost per run is ``(study wall time - sum of the runs'
   training times) / runs``: planning, writing the run folders, starting the worker, reading the
   result, the report at the end. Reported in seconds and as a share of a run's training time.
2. **Parallel runs.** ``--study`` (default ``examples/study/demo.yaml``) with ``--jobs 1`` and with
   ``--jobs 2``, one after the other, each into a fresh folder: wall times and their ratio
   (``--skip-demo`` leaves this out).

    python bench/study.py [--runs 6] [--steps 400] [--study examples/study/demo.yaml] [--skip-demo] [--keep DIR]

Prints one JSON object.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _study(args: list[str]) -> float:
    """Wall time (s) of ``videollm study ARGS`` in a fresh process; raises when it fails."""
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "videollm_core.cli", "study", *args, "--quiet"], capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"study failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return time.perf_counter() - start


def overhead(config: Path, runs: int, steps: int, tmp: Path) -> dict[str, float]:
    study = tmp / "copies.yaml"
    study.write_text(f"study: copies\nbase: {{run: {config}}}\ndata_root: {ROOT}\n"
                     f"options: {{train.max_steps: {steps}, train.eval_every: {steps}, train.save_every: {steps}}}\n"
                     f"axes: {{seed: {list(range(runs))}}}\n", encoding="utf-8")
    out = tmp / "copies"
    wall = _study([str(study), "--out", str(out), "--jobs", "1"])
    trained = [json.loads(p.read_text())["seconds"] for p in sorted(out.glob("runs/*/result.json"))]
    assert len(trained) == runs, trained
    per_run = (wall - sum(trained)) / runs
    mean = sum(trained) / runs
    return {"runs": runs, "steps_per_run": steps, "run_training_s_mean": round(mean, 3), "study_wall_s": round(wall, 3),
            "overhead_s_per_run": round(per_run, 3), "overhead_pct_of_run": round(100 * per_run / mean, 2)}


def parallel(study: Path, tmp: Path, keep: Path | None = None) -> dict[str, float]:
    one = _study([str(study), "--out", str(tmp / "jobs1"), "--jobs", "1"])
    second = keep or tmp / "jobs2"
    two = _study([str(study), "--out", str(second), "--jobs", "2"])
    runs = len(list(second.glob("runs/*/result.json")))
    return {"study": str(study.relative_to(ROOT)) if study.is_relative_to(ROOT) else str(study), "runs": runs,
            "jobs1_wall_s": round(one, 1), "jobs2_wall_s": round(two, 1), "speedup": round(one / two, 2)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=ROOT / "examples" / "oad.yaml")
    parser.add_argument("--runs", type=int, default=6)
    parser.add_argument("--steps", type=int, default=400, help="train.max_steps of each copy (400: about 10 s on 2 cores)")
    parser.add_argument("--study", type=Path, default=ROOT / "examples" / "study" / "demo.yaml")
    parser.add_argument("--skip-demo", action="store_true", help="measure the overhead only")
    parser.add_argument("--keep", type=Path, help="write the --jobs 2 study here and keep it (examples/study/to_docs.py reads it)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="videollm-bench-study-") as tmp:
        report = {"overhead": overhead(args.config.resolve(), args.runs, args.steps, Path(tmp))}
        if not args.skip_demo:
            report["parallel"] = parallel(args.study.resolve(), Path(tmp), args.keep.resolve() if args.keep else None)
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Regenerate ``docs/img/tasks/TASK.png``: one prediction plot per task, from its demo run.

Each ``examples/TASK.yaml`` is trained as written (demo data, a few hundred steps on a CPU) in
a temporary work dir; the ``plots`` plugin draws ``plots/TASK_predictions.png`` at the
evaluation, which is copied here, shrunk to at most ``--width`` pixels and saved as an
8-bit palette PNG, so that each picture stays well under 150 KB.

Usage: ``python docs/tools/task_plots.py [--tasks oad nlq ...] [--width 900] [--steps N]``
(``--steps`` shortens every run, for a quick look; the committed pictures use the examples'
own step counts). About 4 minutes for the nine tasks on 2 CPU cores; online captioning draws no
plot (its predictions are sentences), so eight pictures come out.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
OUT = REPO / "docs" / "img" / "tasks"
TASKS = ("oad", "anticipation", "lta", "online_caption", "moment_query", "nlq", "qvhighlights",
         "action_segmentation", "dense_caption")
MAX_BYTES = 150_000


def shrink(src: Path, dst: Path, width: int) -> int:
    """Save ``src`` as ``dst`` at most ``width`` pixels wide, 8-bit palette; the size in bytes."""
    from PIL import Image

    image = Image.open(src).convert("RGB")
    if image.width > width:
        image = image.resize((width, round(image.height * width / image.width)), Image.LANCZOS)
    image.quantize(colors=128, method=Image.Quantize.MEDIANCUT).save(dst, optimize=True)
    return dst.stat().st_size


def run_task(task: str, work: Path, steps: int | None) -> Path | None:
    """Train ``examples/TASK.yaml`` in ``work``; the prediction plot it drew (None: its metric draws none)."""
    options = [f"train.max_steps={steps}", f"train.eval_every={steps}"] if steps else []
    cmd = [sys.executable, "-m", "videollm_core.cli", "run", f"examples/{task}.yaml", "--work-dir", str(work),
           "--quiet"] + (["--cfg-options", *options] if options else [])
    done = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{task}: the demo run failed (exit {done.returncode})\n{done.stderr[-2000:]}")
    plot = work / "plots" / f"{task}_predictions.png"
    return plot if plot.is_file() else None


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--tasks", nargs="+", default=list(TASKS), choices=TASKS)
    p.add_argument("--width", type=int, default=900)
    p.add_argument("--steps", type=int, default=None)
    args = p.parse_args(argv)
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="videollm-task-plots-") as tmp:
        for task in args.tasks:
            plot = run_task(task, Path(tmp) / task, args.steps)
            if plot is None:
                print(f"{task}: no plot (its metric has no plot method)", flush=True)
                continue
            size = shrink(plot, OUT / f"{task}.png", args.width)
            print(f"{task}: docs/img/tasks/{task}.png ({size / 1000:.0f} KB)", flush=True)
            if size > MAX_BYTES:
                raise SystemExit(f"{task}: {size} bytes, over {MAX_BYTES}; lower --width")


if __name__ == "__main__":
    main()

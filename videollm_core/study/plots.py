"""The study's pictures: RQ4's scaling curves and RQ2's LLM x tuning heat maps (matplotlib, Agg canvas,
no pyplot state, headless)."""
from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any


def _figure(width: float, height: float, panels: int = 1):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), constrained_layout=True)
    FigureCanvasAgg(fig)
    return fig, fig.subplots(1, panels, squeeze=False)[0]


def scaling_plot(path: Path, curves: dict[str, dict[tuple[str, str], list[tuple[tuple[int, str], Any]]]], primary: dict[str, str]) -> Path:
    """One panel per task: the primary metric (mean, error bar: std over seeds) against the LLM's parameters
    on a log axis, one line per (family, tuning)."""
    from matplotlib import colormaps

    tasks = [t for t, by in curves.items() if by]
    families = sorted({f for by in curves.values() for f, _ in by})
    tunings = sorted({t for by in curves.values() for _, t in by})
    colour = {f: colormaps["tab10"](i % 10) for i, f in enumerate(families)}  # a colour per family...
    style = {t: (["o", "s", "^", "D", "v", "P"][i % 6], ["-", "--", ":", "-."][i % 4]) for i, t in enumerate(tunings)}  # ...a line per tuning
    fig, axes = _figure(4.6 * len(tasks), 3.6, len(tasks))
    for ax, task in zip(axes, tasks):
        for (family, tuning), points in curves[task].items():
            kept = [(n, c) for (n, _), c in points if not math.isnan(c.mean)]
            if kept:
                ax.errorbar([n for n, _ in kept], [c.mean for _, c in kept], yerr=[c.std for _, c in kept], capsize=3,
                            color=colour[family], marker=style[tuning][0], linestyle=style[tuning][1], label=f"{family}, {tuning}")
        ax.set_xscale("log")
        ax.set_xlabel("LLM parameters")
        ax.set_ylabel(primary[task])
        ax.set_title(task)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=7)
    fig.savefig(path, dpi=110)
    return path


def heat_maps(out: Path, grids: dict[str, tuple[list[str], list[str], list[list[Any]]]], primary: dict[str, str]) -> dict[str, Path]:
    """`rq2_<task>.png` per task: LLMs (rows) x tuning schemes (columns), each cell's mean written in it."""
    written = {}
    for task, (llms, tunings, grid) in grids.items():
        fig, axes = _figure(1.6 + 1.3 * len(tunings), 1.2 + 0.45 * len(llms))
        ax = axes[0]
        values = [[c.mean for c in row] for row in grid]
        image = ax.imshow(values, cmap="viridis", aspect="auto")
        ax.set_xticks(range(len(tunings)), tunings)
        ax.set_yticks(range(len(llms)), llms)
        finite = [v for row in values for v in row if not math.isnan(v)]
        middle = (min(finite) + max(finite)) / 2 if finite else 0.0
        for i, row in enumerate(grid):
            for j, cell in enumerate(row):
                ax.text(j, i, str(cell), ha="center", va="center", fontsize=7,
                        color="white" if not math.isnan(cell.mean) and cell.mean < middle else "black")
        ax.set_title(f"{task}: {primary[task]}")
        fig.colorbar(image, ax=ax)
        path = out / f"rq2_{re.sub(r'[^A-Za-z0-9_.-]+', '-', task)}.png"
        fig.savefig(path, dpi=110)
        written[f"rq2_{task}"] = path
    return written


__all__ = ["scaling_plot", "heat_maps"]

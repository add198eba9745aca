"""`videollm report DIR`: a study's finished runs as `results.csv`, `results.md` and the paper's tables.

`results.csv` has one row per finished run with every metric; `results.md` has, per task, the
runs with that task's metrics, then one section per research question in the paper's shape:

- RQ1: the frozen LLM (basic tuning) against the controls (no LLM, random weights...);
- RQ2: LLM x tuning scheme, per task (and a heat map per task, `rq2_<task>.png`);
- RQ3: each task trained alone against the multitask model that shares one LLM;
- RQ4: the metric against the LLM's parameters, per family (`rq4_scaling.png`, log axis);
- RQ5: our best run per task beside task-specific models' numbers.

Seeds are folded into mean ± sample standard deviation (`n` runs). Each task is compared on its
primary metric: the one that picked the best checkpoint (`train.best_metric`). Where the paper's
own number is known (`references`), it is shown beside ours with its source.
"""
from __future__ import annotations

import csv
import io
import math
import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from .collect import NO_LLM, Collected, Row, collect
from .references import lookup
from ..engine.files import write_text_atomic


@dataclass
class Cell:
    """A metric over the seeds of one group of runs."""

    mean: float
    std: float
    n: int

    def __str__(self) -> str:
        if math.isnan(self.mean):
            return "n/a"
        return f"{self.mean:.2f} ± {self.std:.2f}" if self.n > 1 else f"{self.mean:.2f}"


def fold(values: Iterable[float]) -> Cell:
    vals = [v for v in values if not math.isnan(v)]
    if not vals:
        return Cell(math.nan, 0.0, 0)
    return Cell(statistics.fmean(vals), statistics.stdev(vals) if len(vals) > 1 else 0.0, len(vals))


def _table(header: list[str], rows: list[list[Any]]) -> str:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(out)


def _params(n: int | None) -> str:
    if not n:
        return "0" if n == 0 else "?"
    for unit, size in (("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if n >= size:
            return f"{n / size:.3g}{unit}"
    return str(n)


def primary_metrics(rows: list[Row]) -> dict[str, str]:
    """task name -> the metric compared in the tables: the most common `train.best_metric` of its
    single-task runs, else its first metric."""
    out: dict[str, str] = {}
    for task in sorted({t for r in rows for t in r.tasks}):
        single = [r for r in rows if r.tasks == [task]]
        picked = Counter(r.primary for r in single if r.primary).most_common(1)
        keys = [k for r in rows for k in r.metrics if k.startswith(task + "/")]
        out[task] = picked[0][0] if picked else (keys[0] if keys else "")
    return out


def _cells(rows: list[Row], key: str) -> Cell:
    return fold(r.metrics.get(key, math.nan) for r in rows)


def _paper_lines(task: str, rq: str, rows: list[Row]) -> list[str]:
    """The paper's numbers for `task` under `rq`, each with our best group's value on the same key."""
    lines = []
    for p in lookup(task, rq=rq):
        groups = _by([r for r in rows if r.tasks == [task] and not r.control and p.record_key in r.metrics], lambda r: (r.llm, r.tuning))
        ours = max(((k, _cells(g, p.record_key)) for k, g in groups.items()), key=lambda kv: kv[1].mean, default=None)
        here = f"; this study's best: {ours[1]} ({ours[0][0]}, {ours[0][1]})" if ours else ""
        lines.append(f"- paper: {p.value:g} {p.record_key} ({p.model}; {p.dataset} {p.split}){here}. Source: {p.source}")
    return lines


def _by(rows: Iterable[Row], key) -> dict[Any, list[Row]]:
    out: dict[Any, list[Row]] = defaultdict(list)
    for r in rows:
        out[key(r)].append(r)
    return out


def llm_sizes(rows: list[Row]) -> dict[str, int]:
    """LLM name -> its parameters without what a tuner adds (the smallest count over its runs: LoRA's
    adapters sit inside the LLM), so that every tuning scheme of one LLM sits at one size."""
    sizes: dict[str, int] = {}
    for r in rows:
        if r.llm_parameters is not None:
            sizes[r.llm] = min(sizes.get(r.llm, r.llm_parameters), r.llm_parameters)
    return sizes


def _llm_order(rows: list[Row]) -> list[str]:
    sizes, family = llm_sizes(rows), {r.llm: r.family for r in rows}
    return sorted(family, key=lambda name: (family[name], sizes.get(name, 0)))


def rq1(rows: list[Row], primary: dict[str, str]) -> str:
    parts = []
    for task, metric in primary.items():
        own = [r for r in rows if r.tasks == [task] and (r.control or r.tuning in ("basic", "frozen"))]
        if not any(r.control for r in own):
            continue
        lines = []
        for (control, llm), group in sorted(_by(own, lambda r: (r.control or "", r.llm)).items()):
            lines.append([control or "frozen LLM (basic tuning)", llm, _params(group[0].llm_parameters), _cells(group, metric)])
        parts.append(f"**{task}** ({metric})\n\n" + _table(["model", "LLM", "LLM parameters", metric], lines)
                     + "".join("\n" + ln for ln in _paper_lines(task, "RQ1", rows)))
    return "\n\n".join(parts) or "No controls in this study."


def rq2(rows: list[Row], primary: dict[str, str]) -> tuple[str, dict[str, tuple[list[str], list[str], list[list[Cell]]]]]:
    parts, grids = [], {}
    for task, metric in primary.items():
        own = [r for r in rows if r.tasks == [task] and not r.control]
        if not own:
            continue
        llms, tunings = _llm_order(own), list(dict.fromkeys(r.tuning for r in own))
        grid = [[_cells([r for r in own if r.llm == llm and r.tuning == t], metric) for t in tunings] for llm in llms]
        grids[task] = (llms, tunings, grid)
        sizes = llm_sizes(own)
        body = [[llm, _params(sizes.get(llm)), *grid[i]] for i, llm in enumerate(llms)]
        parts.append(f"**{task}** ({metric}; rows: LLM, columns: tuning)\n\n" + _table(["LLM", "parameters", *tunings], body)
                     + "".join("\n" + ln for ln in _paper_lines(task, "RQ2", rows)))
    return "\n\n".join(parts) or "No finished single-task run.", grids


def rq3(rows: list[Row], primary: dict[str, str]) -> str:
    multi = [r for r in rows if len(r.tasks) > 1 and not r.control]
    if not multi:
        return "No multitask run in this study: add a base config with `tasks:` to compare."
    body = []
    for task, metric in primary.items():
        for (llm, tuning), group in sorted(_by([r for r in multi if task in r.tasks], lambda r: (r.llm, r.tuning)).items()):
            alone = [r for r in rows if r.tasks == [task] and not r.control and r.llm == llm and r.tuning == tuning]
            a, m = _cells(alone, metric), _cells(group, metric)
            diff = f"{m.mean - a.mean:+.2f}" if a.n and m.n else "n/a"
            body.append([task, llm, tuning, metric, a, m, diff])
    return _table(["task", "LLM", "tuning", "metric", "alone", "multitask", "difference"], body)


Curve = list[tuple[tuple[int, str], Cell]]


def scaling(rows: list[Row], primary: dict[str, str]) -> dict[str, dict[tuple[str, str], Curve]]:
    """task -> (family, tuning) -> [((LLM parameters, LLM), cell)] sorted by size: RQ4's curves."""
    out: dict[str, dict[tuple[str, str], Curve]] = {}
    for task, metric in primary.items():
        own = [r for r in rows if r.tasks == [task] and not r.control and r.family != NO_LLM and r.llm_parameters]
        curves, size = {}, llm_sizes(own)
        for (family, tuning), group in sorted(_by(own, lambda r: (r.family, r.tuning)).items()):
            by_llm = _by(group, lambda r: r.llm)
            curves[(family, tuning)] = sorted(((size[llm], llm), _cells(g, metric)) for llm, g in by_llm.items())
        out[task] = curves
    return out


def rq4(curves: dict[str, dict[tuple[str, str], Curve]], primary: dict[str, str]) -> str:
    parts = []
    for task, by_family in curves.items():
        body, notes = [], []
        for (family, tuning), points in by_family.items():
            body += [[family, tuning, llm, _params(n), c] for (n, llm), c in points]
            if len(points) > 1:
                means = [c.mean for _, c in points]
                rises = all(b > a for a, b in zip(means, means[1:]))
                (n, llm), best = max(points, key=lambda p: p[1].mean)
                notes.append(f"- {family}, {tuning}: {'rises with every size step' if rises else 'does not rise with every size step'}"
                             f" (best: {llm}, {_params(n)}, {best})")
        if body:
            parts.append(f"**{task}** ({primary[task]})\n\n" + _table(["family", "tuning", "LLM", "LLM parameters", primary[task]], body)
                         + "".join("\n" + ln for ln in notes))
    return "\n\n".join(parts) or "No LLM of more than one size in this study."


def rq5(rows: list[Row], primary: dict[str, str]) -> str:
    body = []
    for task, metric in primary.items():
        own = [r for r in rows if r.tasks == [task] and not r.control]
        if own:
            groups = _by(own, lambda r: (r.llm, r.tuning))
            (llm, tuning), best = max(groups.items(), key=lambda kv: _cells(kv[1], metric).mean)
            body.append([task, f"ours: {llm}, {tuning}", metric, _cells(best, metric), "this study"])
        quoted = lookup(task, rq="RQ5")
        body += [[task, p.model, p.record_key, f"{p.value:g}", p.source] for p in quoted]
        if own and not quoted:
            body.append([task, "task-specific models", "", "none quoted", "add them to videollm_core/study/paper_numbers.yaml"])
    return _table(["task", "model", "metric", "value", "source"], body) if body else "Nothing to compare."


def results_csv(rows: list[Row]) -> str:
    keys = sorted({k for r in rows for k in r.metrics})
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["id", "task", "control", "llm", "family", "llm_parameters", "parameters", "trainable", "tuning", "seed",
                     "seconds", *keys])
    for r in rows:
        writer.writerow([r.id, r.task, r.control or "", r.llm, r.family, r.llm_parameters, r.parameters, r.trainable, r.tuning,
                         r.seed, r.seconds, *[r.metrics.get(k, "") for k in keys]])
    return buf.getvalue()


def runs_tables(rows: list[Row]) -> str:
    parts = []
    for task, group in sorted(_by(rows, lambda r: r.task).items()):
        keys = sorted({k for r in group for k in r.metrics})
        body = [[r.control or "", r.llm, _params(r.llm_parameters), _params(r.trainable), r.tuning, r.seed,
                 *[f"{r.metrics[k]:.2f}" if k in r.metrics else "" for k in keys]] for r in group]
        parts.append(f"**{task}**\n\n" + _table(["control", "LLM", "LLM params", "trainable", "tuning", "seed", *keys], body))
    return "\n\n".join(parts)


def write_report(out: Path, *, plots: bool = True, collected: Collected | None = None) -> dict[str, Path]:
    """Write `results.csv`, `results.md` and the plots into `out`; returns what was written."""
    got = collected or collect(out)
    rows, primary = got.rows, primary_metrics(got.rows)
    rq2_text, grids = rq2(rows, primary)
    curves = scaling(rows, primary)
    pictures: dict[str, Path] = {}
    if plots and rows:
        from .plots import heat_maps, scaling_plot

        pictures.update(heat_maps(out, grids, primary))
        if any(len(points) > 1 for by in curves.values() for points in by.values()):
            pictures["rq4"] = scaling_plot(out / "rq4_scaling.png", curves, primary)
    images = lambda keys: "".join(f"\n\n![{k}]({pictures[k].name})" for k in keys if k in pictures)  # noqa: E731
    status = [f"{len(rows)} of {got.planned} runs finished, {len(got.failed)} failed, {len(got.unfinished)} not finished."]
    status += [f"- failed: `{rid}`: {f.get('error', '')} (log: {f.get('log', '')})" for rid, f in sorted(got.failed.items())]
    sections = [("Runs", runs_tables(rows) or "No finished run."),
                ("RQ1: a frozen LLM against its controls", rq1(rows, primary)),
                ("RQ2: LLM x tuning, per task", rq2_text + images(sorted(k for k in pictures if k.startswith("rq2_")))),
                ("RQ3: one LLM for every task", rq3(rows, primary)),
                ("RQ4: results against LLM size", rq4(curves, primary) + images(["rq4"])),
                ("RQ5: against task-specific models", rq5(rows, primary))]
    text = "\n\n".join(["# Study results", "\n".join(status)] + [f"## {title}\n\n{body}" for title, body in sections]) + "\n"
    return {"csv": write_text_atomic(out / "results.csv", results_csv(rows), "results.csv"),
            "md": write_text_atomic(out / "results.md", text, "results.md"), **pictures}


__all__ = ["write_report", "primary_metrics", "fold", "Cell", "results_csv"]

"""Draw ``docs/img/streaming.svg``: per-unit latency against stream length, with the bounded
cache (``model.context: {window, sink}``) and without it (a sliding window re-computed for
every unit, StreamingLLM's baseline), with the process's resident memory beside it.

The numbers are read from the ``## Streaming`` section of ``docs/benchmarks.md``, which
``bench/streaming.py`` writes (and which calls this script after it), so the picture always
shows the tables printed under it.

    python bench/plot_streaming.py [--doc docs/benchmarks.md] [--out docs/img/streaming.svg]
"""
from __future__ import annotations

import argparse
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHAPE = re.compile(r"^\*\*(?P<name>[^*]+)\*\* \(re-computation of the last (?P<window>\d+) tokens: (?P<ms>[\d.]+) ms per unit\)",
                   re.M)
ROW = re.compile(r"^\| (?P<units>\d+) \| (?P<ms>[\d.]+) \| [\d.]+x \| (?P<cache>[\d.]+) \| (?P<rss>[\d.]+) \|", re.M)


def read_section(doc: Path) -> dict[str, dict]:
    """``{shape: {"window", "recompute_ms", "units", "stream_ms", "rss_mb"}}`` from the Streaming section."""
    text = doc.read_text(encoding="utf-8")
    section = re.search(r"^## Streaming\n(.*?)(?=^## |^### |\Z)", text, re.S | re.M)
    if section is None:
        raise SystemExit(f"{doc}: no '## Streaming' section (run bench/streaming.py)")
    shapes = list(SHAPE.finditer(section.group(1)))
    results = {}
    for i, m in enumerate(shapes):
        end = shapes[i + 1].start() if i + 1 < len(shapes) else len(section.group(1))
        rows = [r.groupdict() for r in ROW.finditer(section.group(1)[m.end():end])]
        results[m.group("name")] = {"window": int(m.group("window")), "recompute_ms": float(m.group("ms")),
                                    "units": [int(r["units"]) for r in rows], "stream_ms": [float(r["ms"]) for r in rows],
                                    "rss_mb": [float(r["rss"]) for r in rows]}
    if not results or not all(r["units"] for r in results.values()):
        raise SystemExit(f"{doc}: the Streaming section has no table rows to draw")
    return results


def draw(results: dict[str, dict], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    matplotlib.rcParams.update({"svg.fonttype": "none", "font.size": 9, "font.family": "sans-serif"})
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9, 3.6))
    latency, memory = fig.subplots(1, 2, gridspec_kw={"width_ratios": [3, 2]})
    colors = ["#3f51b5", "#e65100", "#2e7d32", "#6a1b9a"]
    for color, (name, r) in zip(colors, results.items()):
        latency.plot(r["units"], r["stream_ms"], marker="o", color=color, label=f"{name}: bounded cache")
        latency.plot(r["units"], [r["recompute_ms"]] * len(r["units"]), linestyle="--", color=color,
                     label=f"{name}: no cache, re-compute {r['window']} tokens")
        memory.plot(r["units"], r["rss_mb"], marker="o", color=color, label=name)
    for ax in (latency, memory):
        ax.set_xscale("log", base=2)
        ax.set_xticks(results[next(iter(results))]["units"])
        ax.set_xticklabels([f"{u:,}" for u in results[next(iter(results))]["units"]])
        ax.set_xlabel("units in the stream so far")
        ax.grid(alpha=0.3, which="both")
    latency.set_yscale("log")
    latency.set_ylabel("ms per unit (log scale)")
    latency.set_title("latency of one more unit")
    latency.legend(fontsize=7, loc="center right")
    memory.set_ylim(0, max(max(r["rss_mb"]) for r in results.values()) * 1.3)
    memory.set_ylabel("resident memory (MB)")
    memory.set_title("process memory, bounded cache")
    memory.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(str(out), format=out.suffix.lstrip(".") or "svg", metadata={"Date": None})


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--doc", type=Path, default=ROOT / "docs" / "benchmarks.md")
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "img" / "streaming.svg")
    args = ap.parse_args(argv)
    draw(read_section(args.doc), args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()

"""Streaming cost of every task: each example's pipeline fed unit by unit through ``pipeline.stream()``.

The nine examples (``examples/<task>.yaml``: oad, anticipation, lta, online_caption, moment_query,
nlq, qvhighlights, action_segmentation, dense_caption) are built from their configs with random
weights (no training: the cost of a stream does not depend on the weights' values) and fed
``--steps`` random feature steps one step per ``push`` (as ``videollm stream`` does), then
``flush``. Where the token stream (task prompt, query, visual tokens) is longer than the LLM's
position table, ``model.context: {window: n_positions, sink: prompt + query tokens (>= 4)}`` is
set. The GPT-2-shaped 6-layer model of ``bench/streaming.py`` (hidden 384, an online action
detection head, ``window: 1024, sink: 4``) is measured the same way for reference.

Per task (each in a forked child process, so that its memory is its own):

- ``units_per_s``: units answered per second of the whole stream (opening, pushes, flush);
- ``latency_ms_p50`` / ``latency_ms_p99``: wall time of the pushes that completed a unit, each
  including the conversion of the head's outputs into answers (``cli.models.unit_answers``);
- ``first_answer_ms``: from opening the stream (prompt and query prefill) to the end of the
  first push that answered (caption heads: a non-empty caption), with the input pushed as
  fast as the stream takes it (a live source adds the unit's duration);
- ``peak_rss_growth_mb``: the largest anonymous resident memory of the task's process (resident set
  minus file-backed pages, so not the shared libraries a forked child maps in; sampled after
  opening the stream and after every push) minus the same before the pipeline was built: weights,
  cache, activations, the allocator's slack (not ``tracemalloc``, which does not see tensors);
- caption heads: ``caption_tokens_per_s``, tokens decoded (LM-head rows) per second spent in
  ``llm.generate``. Online captioning generates a caption at every unit; dense captioning's
  per-unit answers are proposal scores, and every ``--dense-every`` units the events decoded
  from those units are captioned from the stream's cache (the head's own ``predict``).

    python bench/tasks_stream.py [--steps 2000] [--out tasks_stream.json] [--md table.md]
"""
from __future__ import annotations

import argparse
import gc
import json
import math
import multiprocessing
import os
import platform
import statistics
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from streaming import FEATURE_DIM, SHAPES, _pipeline  # noqa: E402  (bench/streaming.py's model)

ROOT = Path(__file__).resolve().parents[1]
TASKS = ("oad", "anticipation", "lta", "online_caption", "moment_query", "nlq", "qvhighlights", "action_segmentation",
         "dense_caption")
#: query texts for the query tasks, in the examples' tokenizer vocabularies.
QUERIES = {"nlq": "where did i put the knife", "qvhighlights": "a man cuts vegetables in the kitchen"}
REFERENCE = "gpt2_6layer_oad"
CAPTION_TASKS = ("online_caption", "dense_caption")


def _anon_mb() -> float:
    """Anonymous resident memory of this process now, MB: resident minus file-backed pages (``/proc/self/statm``),
    so the shared libraries a forked child faults in do not count (0 where unknown)."""
    try:
        fields = Path("/proc/self/statm").read_text().split()
        return (int(fields[1]) - int(fields[2])) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        return 0.0


@contextmanager
def _generation_clock(llm: Any) -> Iterator[dict[str, float]]:
    """Seconds spent in ``llm.generate`` and tokens decoded there (LM-head rows), counted while inside it."""
    stats = {"seconds": 0.0, "tokens": 0.0}
    generate, lm_logits = llm.generate, llm.lm_logits
    inside = [False]

    def timed_generate(*args: Any, **kwargs: Any) -> Any:
        inside[0], t0 = True, time.perf_counter()
        try:
            return generate(*args, **kwargs)
        finally:
            stats["seconds"] += time.perf_counter() - t0
            inside[0] = False

    def counted_logits(hidden: torch.Tensor) -> torch.Tensor:
        if inside[0]:
            stats["tokens"] += hidden.reshape(-1, hidden.shape[-1]).shape[0]
        return lm_logits(hidden)

    llm.generate, llm.lm_logits = timed_generate, counted_logits
    try:
        yield stats
    finally:
        del llm.generate, llm.lm_logits  # back to the class's methods


class _DenseCaptioner:
    """Every ``every`` units, caption the events the dense-caption head decodes from those units."""

    def __init__(self, head: Any, every: int):
        self.head, self.every, self.parts = head, every, []

    def __call__(self, outputs: dict[str, Any] | None, final: bool) -> int:
        """Add a push's ``outputs``; returns the number of captioned events (0 between decodes)."""
        from videollm_core import VideoBatch

        if outputs is not None:
            self.parts.append(outputs)
        units = sum(p["unit_mask"].shape[1] for p in self.parts)
        if not self.parts or (units < self.every and not final):
            return 0
        merged = {key: torch.cat([p[key] for p in self.parts], 1) for key in ("proposal_logits", "hidden", "spans", "unit_mask")}
        merged["stream_cache"] = self.parts[-1]["stream_cache"]
        self.parts = []
        batch = VideoBatch(features=torch.zeros(1, 0, 1), mask=torch.zeros(1, 0, dtype=torch.bool),
                           timestamps=torch.zeros(1, 0, 2), meta=[{"video_id": "stream0"}])
        entries = self.head.predict(merged, batch)
        return sum(bool(e["sentence"]) for e in entries[0]["events"])


def stream_cost(pipeline: Any, task: str, query: str | None, feats: torch.Tensor, dense_every: int) -> dict[str, Any]:
    """Push ``feats`` one step at a time through ``pipeline.stream()``, then flush.

    Args:
        pipeline: the pipeline, in ``eval()`` mode.
        task: the task whose head answers.
        query: the query text of query tasks, else None.
        feats: ``[T, Df]`` feature steps.
        dense_every: dense captioning captions the events of every this many units.

    Returns:
        The figures of the module docstring (ms, units/s, tokens/s) plus ``stream_s`` (s), ``cli_answers``
        (answers ``videollm stream`` would print) and ``peak_anon_mb`` (MB). Times cover the stream's calls
        and the answers only: the memory is sampled between pushes, untimed.
    """
    from videollm_core.cli.models import unit_answers

    head = pipeline.heads[task]
    caption = _DenseCaptioner(head, dense_every) if head.task == "dense_caption" else None
    latencies, answers, first, peak = [], 0, None, _anon_mb()
    with torch.no_grad(), _generation_clock(pipeline.llm) as gen:
        t0 = time.perf_counter()
        stream = pipeline.stream(task=task, query=query)
        elapsed = time.perf_counter() - t0
        for i in range(feats.shape[0] + 1):
            t0, before = time.perf_counter(), stream.units
            outputs = stream.push(feats[i : i + 1]) if i < feats.shape[0] else stream.flush()
            answered = outputs is not None
            if answered:
                answers += len(unit_answers(outputs, before, stream.units - before, 3))
                if head.task == "online_caption":
                    answered = any(outputs.get("captions") or [])
            if caption is not None:
                answered = caption(outputs, final=i == feats.shape[0]) > 0
            took = time.perf_counter() - t0
            elapsed += took
            if stream.units > before:
                latencies.append(took * 1e3)
            if answered and first is None:
                first = elapsed * 1e3
            peak = max(peak, _anon_mb())
    q = statistics.quantiles(latencies, n=100, method="inclusive") if len(latencies) > 1 else latencies * 99
    row = {"units": stream.units, "units_per_s": stream.units / elapsed, "latency_ms_p50": statistics.median(latencies),
           "latency_ms_p99": q[98], "first_answer_ms": first, "cli_answers": answers, "stream_s": elapsed,
           "peak_anon_mb": peak}
    if head.task in CAPTION_TASKS:
        row.update(caption_tokens=int(gen["tokens"]), generate_s=gen["seconds"],
                   caption_tokens_per_s=gen["tokens"] / gen["seconds"] if gen["seconds"] > 0 else None)
    return row


def example_config(name: str, steps: int) -> tuple[dict[str, Any], str | None, dict[str, Any] | None]:
    """The config of ``examples/<name>.yaml`` for a stream of ``steps`` feature steps.

    Args:
        name: the example (a task name).
        steps: feature steps the stream will receive.

    Returns:
        ``(config, query, context)``: ``model.context`` (``{window, sink}`` tokens, also returned) is set when the
        prompt, the query and the visual tokens need more positions than the LLM's table holds; else context is None.
    """
    from videollm_core import build_pipeline, load_config

    path = ROOT / "examples" / f"{name}.yaml"
    cfg = load_config(path)
    pipeline = build_pipeline(cfg).eval()
    task, query = pipeline.task_name(None), QUERIES.get(name)
    prefix = sum(s.embeds.shape[1] for s in pipeline.text_segments(task, [query] if query else None, 1))
    llm_cfg = cfg["model"]["llm"]["config"]
    limit = int(llm_cfg.get("n_positions") or llm_cfg.get("max_position_embeddings"))
    tokens = prefix + math.ceil(steps / int(getattr(pipeline.encoder, "unit_size", 1))) * pipeline.translator.tokens_per_unit
    if tokens <= limit:
        return cfg, query, None
    context = {"window": limit, "sink": max(4, prefix)}
    return load_config(path, {"model.context": context}), query, context


def _measure_task(name: str, steps: int, dense_every: int, threads: int) -> dict[str, Any]:
    """Build one pipeline and stream ``steps`` random feature steps through it (see the module docstring)."""
    from videollm_core import build_pipeline

    torch.set_num_threads(threads)
    if name == REFERENCE:
        cfg, query, context, dim = None, None, {"window": 1024, "sink": 4}, FEATURE_DIM
    else:
        cfg, query, context = example_config(name, steps)
        dim = int(cfg["model"]["encoder"]["in_dim"])
    feats = torch.randn(steps, dim, generator=torch.Generator().manual_seed(1))
    gc.collect()
    base = _anon_mb()
    torch.manual_seed(0)
    pipeline = _pipeline(SHAPES["GPT-2-shaped"], context) if cfg is None else build_pipeline(cfg).eval()
    row = {"task": name, "steps": steps, "context": context, "query": query,
           **stream_cost(pipeline, pipeline.task_name(None), query, feats, dense_every)}
    row["peak_rss_growth_mb"] = max(0.0, row.pop("peak_anon_mb") - base)
    return row


def _child(conn: Any, fn: Callable[..., dict], args: tuple) -> None:
    try:
        conn.send(("ok", fn(*args)))
    except BaseException as e:  # reported by the parent
        conn.send(("error", f"{type(e).__name__}: {e}"))
    finally:
        conn.close()


def isolated(fn: Callable[..., dict], *args: Any) -> dict:
    """``fn(*args)`` in a forked child process (its own peak memory), else in this process."""
    if "fork" not in multiprocessing.get_all_start_methods():
        return fn(*args)
    ctx = multiprocessing.get_context("fork")
    recv, send = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(send, fn, args))
    proc.start()
    send.close()
    try:
        status, value = recv.recv()
    except EOFError:  # the child died without a word (a crash)
        status, value = "error", "no result"
    proc.join()
    if status != "ok":
        raise RuntimeError(f"{fn.__name__}{args}: {value} (exit code {proc.exitcode})")
    return value


def _fmt(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def render(rows: list[dict[str, Any]]) -> str:
    """The Markdown table of :func:`main`'s rows."""
    lines = ["| task (example) | units | `model.context` | units/s | latency p50 (ms) | latency p99 (ms) "
             "| first answer (ms) | peak RSS growth (MB) | caption tokens/s |",
             "| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for r in rows:
        name = "GPT-2-shaped, 6 layers, hidden 384 (oad head)" if r["task"] == REFERENCE else f"{r['task']}"
        ctx = "-" if not r["context"] else f"{r['context']['window']} / {r['context']['sink']}"
        lines.append(f"| {name} | {r['units']:,} | {ctx} | {_fmt(r['units_per_s'])} | {_fmt(r['latency_ms_p50'], 2)} "
                     f"| {_fmt(r['latency_ms_p99'], 2)} | {_fmt(r['first_answer_ms'])} | {_fmt(r['peak_rss_growth_mb'])} "
                     f"| {_fmt(r.get('caption_tokens_per_s'))} |")
    return "\n".join(lines)


def _warm_up() -> None:
    """Import (and run once) what every task's child needs, before the children fork: the lazy imports
    (transformers' model classes, the plugins) are then shared, not counted in each task's memory."""
    from videollm_core.cli.models import unit_answers  # noqa: F401

    from videollm_core import build_pipeline

    cfg, _, _ = example_config("oad", 2)
    stream_cost(build_pipeline(cfg).eval(), "oad", None, torch.randn(2, int(cfg["model"]["encoder"]["in_dim"])), 1)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=2000, help="feature steps per stream (default 2000)")
    ap.add_argument("--no-reference", action="store_true", help="leave out the 6-layer GPT-2-shaped reference model")
    ap.add_argument("--tasks", nargs="+", default=list(TASKS), choices=TASKS)
    ap.add_argument("--dense-every", type=int, default=64, help="dense captioning: caption the events of every N units")
    ap.add_argument("--threads", type=int, default=1, help="torch intra-op threads (default 1, as bench/streaming.py)")
    ap.add_argument("--out", type=Path, help="write the JSON here")
    ap.add_argument("--md", type=Path, help="write the Markdown table here")
    args = ap.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    torch.set_num_threads(args.threads)
    _warm_up()

    load = os.getloadavg()[0]
    started, rows = time.perf_counter(), []
    for name in list(args.tasks) + ([] if args.no_reference else [REFERENCE]):
        rows.append(isolated(_measure_task, name, args.steps, args.dense_every, args.threads))
        r = rows[-1]
        print(f"{name:20s} {r['units']:6d} units  {r['units_per_s']:8.1f} units/s  p50 {r['latency_ms_p50']:7.2f} ms  "
              f"p99 {r['latency_ms_p99']:7.2f} ms  first {_fmt(r['first_answer_ms'])} ms  "
              f"+{r['peak_rss_growth_mb']:.1f} MB", file=sys.stderr, flush=True)
    result = {"machine": f"{platform.machine()}, {os.cpu_count()} cores, {args.threads} torch thread(s)",
              "load_average_1min_start": load, "load_average_1min_end": os.getloadavg()[0],
              "total_s": time.perf_counter() - started, "dense_every": args.dense_every, "rows": rows}
    text = json.dumps(result, indent=1)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")
    table = render(rows)
    if args.md:
        args.md.write_text(table + "\n", encoding="utf-8")
    print(text if not args.out else table)


if __name__ == "__main__":
    main()

"""Per-unit latency and memory of streaming under a bounded context (``model.context: {window:
1024, sink: 4}``, ``pipeline.stream().push`` of one unit through the constant-size cache) at
1,024 to 65,536 units, against StreamingLLM's baseline, a sliding window with re-computation
(the LLM re-run over the last 1,024 tokens for every new unit), for a GPT-2-shaped and a
LLaMA-shaped LLM (6 layers, hidden 384, a 1,024-position table, random weights). (The paper
configs' parameter counts: ``bench/params.py``, docs/paper-configs.md.)

    python bench/streaming.py                # writes the "## Streaming" section of docs/benchmarks.md
    python bench/streaming.py --units 1024 4096 --no-write

Everything is measured in the same run, on the same model, batch 1; the ratios are what matter.
"""
from __future__ import annotations

import argparse
import os
import platform
import re
import statistics
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
SHAPES = {
    "GPT-2-shaped": {"model_type": "gpt2", "n_layer": 6, "n_embd": 384, "n_head": 6, "n_positions": 1024,
                     "vocab_size": 1000, "bos_token_id": None, "eos_token_id": None},
    "LLaMA-shaped": {"model_type": "llama", "num_hidden_layers": 6, "hidden_size": 384, "intermediate_size": 1536,
                     "num_attention_heads": 6, "max_position_embeddings": 1024, "vocab_size": 1000,
                     "bos_token_id": None, "eos_token_id": None, "pad_token_id": None},
}
FEATURE_DIM = 256


def _pipeline(config: dict, context: dict | None):
    from videollm_core.pipeline import build_pipeline

    cfg = {"model": {"encoder": {"type": "TemporalUnitEncoder", "in_dim": FEATURE_DIM, "unit_size": 1},
                     "translator": {"type": "LinearTranslator"},
                     "llm": {"type": "HFCausalLM", "config": dict(config), "tokenizer": {"words": ["online", "action", "detection"]}},
                     "tuner": {"type": "Frozen"},
                     "head": {"type": "OnlineActionDetectionHead", "num_classes": 100},
                     "prompt": "online action detection"},
           "metric": {"type": "oad"}}
    if context is not None:
        cfg["model"]["context"] = context
    return build_pipeline(cfg).eval()


def _rss_mb() -> float:
    """Resident memory of this process now, MB (Linux ``/proc``; 0 elsewhere)."""
    try:
        return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError):
        return 0.0


def _median_seconds(fn, reps: int) -> float:
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def measure(config: dict, units: list[int], reps: int, window: int, sink: int) -> dict:
    """One stream growing to ``max(units)``; at each length: the median of ``reps`` one-unit pushes,
    the cache's bytes and the process RSS. Then the baseline: one forward over ``window`` tokens."""
    from videollm_core import VideoBatch

    torch.manual_seed(0)
    bounded = _pipeline(config, {"window": window, "sink": sink})
    feats = torch.randn(4096, FEATURE_DIM)
    stream, rows = bounded.stream(), []
    pos = [0]

    def push(n: int) -> None:
        idx = torch.arange(pos[0], pos[0] + n) % feats.shape[0]
        with torch.no_grad():
            stream.push(feats[idx])
        pos[0] += n

    for n in sorted(units):
        while pos[0] < n - 1:  # reach n-1 units quickly, many units per push (exact under the policy)
            push(min(window, n - 1 - pos[0]))
        push(1)  # warm-up at this length
        cached = _median_seconds(lambda: push(1), reps)
        rows.append({"units": n, "stream_ms": cached * 1e3, "cache_mb": stream.cache.kv.nbytes / 2**20, "rss_mb": _rss_mb()})
        print(f"  {n:6d} units: stream {cached * 1e3:8.2f} ms/unit, cache {rows[-1]['cache_mb']:.1f} MB, "
              f"RSS {rows[-1]['rss_mb']:.0f} MB", flush=True)
    plain = _pipeline(config, None)
    plain.load_state_dict(bounded.state_dict())
    n = window - 3  # the prompt's 3 tokens + window-3 units = the last `window` tokens
    start = torch.arange(n, dtype=torch.float32)
    batch = VideoBatch(features=feats[None, :n], mask=torch.ones(1, n, dtype=torch.bool),
                       timestamps=torch.stack([start, start + 1], -1)[None])

    def recompute():
        with torch.no_grad():
            plain(batch)

    recompute()  # warm-up
    base = _median_seconds(recompute, max(3, reps // 3))
    print(f"  sliding window with re-computation ({window} tokens): {base * 1e3:.1f} ms/unit", flush=True)
    return {"rows": rows, "recompute_ms": base * 1e3}


def render(results: dict[str, dict], threads: int, window: int, sink: int) -> str:
    lines = ["## Streaming", "",
             f"`model.context: {{window: {window}, sink: {sink}}}`: per-unit latency of `pipeline.stream().push(one unit)`",
             "through the constant-size cache as the stream grows, the cache's size and the process's resident",
             "memory, against StreamingLLM's baseline, a sliding window with re-computation (the LLM and head",
             f"re-run over the last {window} tokens for every new unit). Batch 1, random weights, 6 layers, hidden 384,",
             f"a {window}-position table, fp32, {threads} CPU thread(s) ({platform.processor() or platform.machine()}), medians;",
             "all measured in one run of `python bench/streaming.py` (1-minute load average at the start:",
             f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; absolute times move with load, the ratios much less).", "",
             "![Per-unit latency against stream length: flat with the bounded cache, one to two orders of magnitude "
             "higher when the window is re-computed for every unit; memory flat](img/streaming.svg)", ""]
    for name, res in results.items():
        rows, base = res["rows"], res["recompute_ms"]
        lines += [f"**{name}** (re-computation of the last {window} tokens: {base:.1f} ms per unit)", "",
                  "| units | stream (ms/unit) | vs first length | cache (MB) | RSS (MB) | speed-up vs re-computation |",
                  "| ---: | ---: | ---: | ---: | ---: | ---: |"]
        lines += [f"| {r['units']} | {r['stream_ms']:.2f} | {r['stream_ms'] / rows[0]['stream_ms']:.2f}x | {r['cache_mb']:.1f} "
                  f"| {r['rss_mb']:.0f} | {base / r['stream_ms']:.1f}x |" for r in rows]
        lines.append("")
    lines += ["Reading: the per-unit cost and the memory do not grow with the length of the stream: the cache is",
              "pre-allocated once per layer and never grows (evicted tokens leave it, the sinks stay; a sequence is",
              "compacted once every 64 tokens), the process's RSS moves by a few percent (the allocator), not with",
              "the length; re-computing a window costs a full forward pass over it for every unit. Single rows move",
              "with the machine's load (other processes share its cores): compare the rows of one run, and rerun",
              "when one stands out. Streaming outputs equal the batch forward's under the same policy",
              "(tests/pipeline/test_context.py).", "",
              "Parameter counts of the paper-scale configs: [Paper configurations](paper-configs.md) (`bench/params.py`).", ""]
    return "\n".join(lines)


def write_section(text: str, path: Path) -> None:
    """Replace (or append) the ``## Streaming`` section of ``path`` up to its first subsection, keeping the rest."""
    old = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n"
    pattern = re.compile(r"^## Streaming\n.*?(?=^#{2,3} |\Z)", re.S | re.M)  # its "### Every task" part stays
    new = pattern.sub(lambda _: text + "\n", old) if pattern.search(old) else old.rstrip("\n") + "\n\n" + text + "\n"
    path.write_text(new, encoding="utf-8")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--units", type=int, nargs="+", default=[1024, 4096, 16384, 65536])
    ap.add_argument("--window", type=int, default=1024)
    ap.add_argument("--sink", type=int, default=4)
    ap.add_argument("--reps", type=int, default=10)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    results = {}
    for name, config in SHAPES.items():
        print(name, flush=True)
        results[name] = measure(config, args.units, args.reps, args.window, args.sink)
    text = render(results, args.threads, args.window, args.sink)
    print(text)
    if not args.no_write:
        write_section(text, ROOT / "docs" / "benchmarks.md")
        import plot_streaming  # bench/ is on sys.path when this file runs as a script

        plot_streaming.main([])  # docs/img/streaming.svg from the tables just written


if __name__ == "__main__":
    main()

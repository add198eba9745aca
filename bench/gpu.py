"""One benchmark run on the first GPU available (``--smoke``: the same steps, tiny shapes, on CPU):
training throughput and MFU of the OPT-1.3B LoRA paper config, streaming latency, feature
extraction, one-GPU launches through the accelerate templates. Run it through ``bench/gpu.sh``
(it installs what is missing from a wheel folder first); see docs/benchmarks.md, "GPU".

    bash bench/gpu.sh [--out FILE] [--docs]     # a CUDA GPU (sized for about 5 minutes on one H100)
    bash bench/gpu.sh --smoke [--out FILE]      # CPU, tiny shapes, about 20 s on 2 cores

Every model has random weights built from its architecture; nothing is downloaded.

* ``train``: ``examples/paper/oad/opt-1.3b_lora.yaml`` with ``model.llm.pretrained`` replaced by
  the shipped architecture of ``facebook/opt-1.3b`` (``config:``: 24 layers, hidden 2048; smoke: 2
  layers, hidden 64), its EK100 features by the EK100 demo data (same layout, 256-d, 16 s windows
  = 64 units, plus the 3 prompt tokens), ``train.mixed_precision: bf16`` (the runner falls back to
  fp32 on CPU). :class:`~videollm_core.engine.runner.Runner` trains it (accelerate's loop:
  autocast forward, loss, backward, clipping, AdamW, schedule): ``warmup`` steps, then ``steps``
  steps timed between the runner's ``videollm_step_end`` hooks (after ``torch.cuda.synchronize``).
* ``stream``: the same pipeline with ``model.context: {window: 1024, sink: 8}``, eval, bf16
  autocast on CUDA, batch 1; the stream grows to ``1k`` then ``16k`` units in pushes of 1,024
  units, and at each length ``reps`` one-unit pushes are timed one by one (as ``bench/streaming.py``).
* ``extract``: ``videollm extract``'s :class:`~videollm_plugins.features.extract.Extraction` over
  synthetic 25 fps 240x240 mp4 files (PyAV decoding included) at 4 steps/s, with a ViT-B/16-shaped
  backbone (``ViTConfig()``; smoke: 2 layers, hidden 64) saved by ``save_pretrained``; one
  warm-up video first.
* ``launch``: ``accelerate launch --config_file examples/accelerate/<template> --num_processes 1
  -m videollm_core.cli run CONFIG`` for a few steps, CONFIG the ``train`` config; templates
  ``single_gpu.yaml`` (with ``--cpu`` in smoke mode), ``fsdp.yaml`` (wrapping ``OPTDecoderLayer``)
  and ``deepspeed_zero2.yaml``; each launch's output goes beside the JSON (``<stem>.<launch>.log``).
  FSDP and DeepSpeed need CUDA: skipped on CPU.

MFU (PaLM, Chowdhery et al. 2022, appendix B): model FLOPs per step = 6 * N * T; ``N``: the
pipeline's parameters that multiply activations, trainable and frozen alike (all but the token and
position embedding tables, lookups; OPT's LM head shares the token table and the OAD head never
runs it); ``T``: the step's tokens (prompt + units, padding excluded); the attention term
12*L*H*Q*T is left out (67 tokens per sample). Frozen weights get no weight gradient: the hardware
does about 4*N*T of the 6*N*T. ``mfu = 6*N*T / step_seconds / peak``, the card's dense bf16 peak
from ``gpu/report.py`` PEAK_BF16; null for an unknown card or the CPU.

Figures (``--out FILE``, default ``$TMPDIR/videollm-bench-gpu.json``; the JSON's layout: ``gpu/report.py``),
every key always present, null with its reason in ``skipped`` when not measured:

    device                                      the card's name (``cpu`` with --smoke)
    train.ms_per_step                           median optimizer step, ms
    train.samples_per_s, train.tokens_per_s     over the timed steps (tokens: prompt + units, no padding)
    train.tflops_per_s, train.mfu               6*N*T per second in 1e12 FLOP/s; that over the card's peak (0-1)
    stream.units_per_s.{1k,16k}                 one-unit pushes per second at 1,024 / 16,384 units
    stream.p50_ms.{1k,16k}, stream.p99_ms.{..}  per-unit latency percentiles, ms
    extract.frames_per_s                        frames embedded per second of Extraction.run, decoding included
    launch.{single_gpu,fsdp,deepspeed}.samples_per_s   the runner's own logged rate, last half of the steps
    launch.{single_gpu,fsdp,deepspeed}.wall_s          the whole launch (start, build, steps, checkpoint), s

A part that raises leaves its figures null ("failed: ...", listed in ``failed``), the others go on,
and the exit code is 1.
"""
from __future__ import annotations

import argparse
import contextlib
import copy
import datetime
import json
import math
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from gpu.launch import launch_skip_reason, measure_launch
from gpu.report import KEYS, LAUNCHES, LENGTHS, PEAK_BF16, Results, append_to_docs, peak_bf16, render

ROOT = Path(__file__).resolve().parents[1]
PAPER_CONFIG = ROOT / "examples" / "paper" / "oad" / "opt-1.3b_lora.yaml"
DOCS = ROOT / "docs" / "benchmarks.md"
#: the two sizes. ``llm``: overrides of the OPT-1.3B architecture; ``batch``: None = the config's 16.
SHAPES = {
    "full": {"llm": {}, "batch": None, "workers": None, "demo_videos": 16, "warmup": 3, "steps": 10, "reps": 300,
             "vit": {}, "videos": 4, "seconds": 30.0, "extract_batch": 32, "launch_steps": 6, "launch_timeout": 180},
    "smoke": {"llm": {"hidden_size": 64, "ffn_dim": 256, "num_hidden_layers": 2, "num_attention_heads": 2,
                      "word_embed_proj_dim": 64, "vocab_size": 1000},
              "batch": 4, "workers": 0, "demo_videos": 4, "warmup": 2, "steps": 6, "reps": 100,
              "vit": {"hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 128},
              "videos": 2, "seconds": 2.0, "extract_batch": 8, "launch_steps": 4, "launch_timeout": 150},
}
EXTRACT_FPS = 4.0


def bench_config(shape: dict[str, Any], work: Path) -> dict[str, Any]:
    """The paper config with random OPT-1.3B weights (``config:``), demo data and bf16 (see the docstring)."""
    from videollm_core.config import load_config, plain_data
    from videollm_plugins.llms.architectures import known_architecture

    cfg = plain_data(load_config(PAPER_CONFIG))
    llm = cfg["model"]["llm"]
    arch = known_architecture(llm.pop("pretrained"))
    arch.update(shape["llm"])
    llm.update(config=arch, tokenizer={"words": cfg["model"]["prompt"].split()})
    paper = cfg["data"]["train"]
    cfg["data"] = {"train": {"type": paper["type"], "split": paper["split"], "window": paper["window"],
                             "demo": {"num_videos": shape["demo_videos"], "seed": 0}},
                   "batch_size": shape["batch"] or cfg["data"]["batch_size"],
                   "num_workers": cfg["data"]["num_workers"] if shape["workers"] is None else shape["workers"]}
    cfg["train"].update(mixed_precision="bf16", warmup_steps=0, eval_every=0, save_every=0, log_every=10**6)
    cfg["work_dir"] = str(work / "work_dir")
    return cfg


def matmul_params(pipeline: Any) -> int:
    """``N`` of the MFU formula: distinct parameters of ``pipeline`` outside ``nn.Embedding`` tables."""
    from torch import nn

    tables = {id(p) for m in pipeline.modules() if isinstance(m, nn.Embedding) for p in m.parameters()}
    return sum(p.numel() for p in pipeline.parameters() if id(p) not in tables)


def release_memory() -> None:
    """Give the finished part's CUDA memory back (the launches run in other processes)."""
    import gc

    import torch

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def sync() -> None:
    import torch

    if torch.cuda.is_available():
        torch.cuda.synchronize()


def measure_train(cfg_path: Path, shape: dict[str, Any], peak: float | None, res: Results) -> None:
    """The runner's optimizer steps: ms/step, samples/s, tokens/s, model TFLOP/s and MFU (see the docstring)."""
    import torch

    import videollm_core
    from videollm_core.config import load_config
    from videollm_core.engine.runner import Runner
    from videollm_core.plugins import get_plugin_manager, preserved_plugin_state

    class StepClock:
        """A plugin recording when each optimizer step's kernels are done (the runner's ``videollm_step_end``)."""

        def __init__(self) -> None:
            self.times: list[float] = []

        @videollm_core.hookimpl
        def videollm_step_end(self, runner, step, logs):
            sync()
            self.times.append(time.perf_counter())

    warmup, steps = shape["warmup"], shape["steps"]
    cfg = load_config(cfg_path, [f"train.max_steps={warmup + steps}"])
    clock = StepClock()
    calls: list[tuple[int, Any]] = []

    def count(module, args, kwargs):  # HFCausalLM.forward(embeds [B, S, E], mask [B, S], ...)
        embeds = args[0] if args else kwargs["embeds"]
        mask = args[1] if len(args) > 1 else kwargs["mask"]
        calls.append((int(embeds.shape[0]), mask.detach().sum()))  # no host sync here

    with preserved_plugin_state(), tempfile.TemporaryDirectory() as work:  # the clock is unregistered after
        get_plugin_manager().register(clock, name="gpu_bench_clock")
        runner = Runner(cfg, work_dir=work)
        runner.pipeline.llm.register_forward_pre_hook(count, with_kwargs=True)
        runner.train()
    if len(calls) != warmup + steps or len(clock.times) != warmup + steps:
        raise RuntimeError(f"expected one LLM call and one step end per step, got {len(calls)} and {len(clock.times)}")
    gaps = [b - a for a, b in zip(clock.times[warmup - 1:], clock.times[warmup:])]
    timed = calls[warmup:]
    seconds, samples, tokens = sum(gaps), sum(b for b, _ in timed), sum(int(t) for _, t in timed)
    n = matmul_params(runner.pipeline)
    flops = 6 * n * tokens / seconds
    res.figures.update({"train.ms_per_step": 1e3 * statistics.median(gaps), "train.samples_per_s": samples / seconds,
                        "train.tokens_per_s": tokens / seconds, "train.tflops_per_s": flops / 1e12})
    if peak is not None:
        res.figures["train.mfu"] = flops / peak
    res.setup["train"] = {"precision": runner.accelerator.mixed_precision, "matmul_params": n,
                          "trainable_params": sum(p.numel() for p in runner.pipeline.parameters() if p.requires_grad),
                          "tokens_per_step": tokens / steps, "samples_per_step": samples / steps, "warmup": warmup, "steps": steps,
                          "step_ms": [round(1e3 * g, 3) for g in gaps],
                          "max_memory_gb": torch.cuda.max_memory_allocated() / 2**30 if torch.cuda.is_available() else None}
    print(f"[gpu] train: {res.figures['train.ms_per_step']:.1f} ms/step, {samples / seconds:.1f} samples/s, "
          f"{flops / 1e12:.2f} model TFLOP/s (N={n / 1e9:.3f}B, {tokens / steps:.0f} tokens/step)", flush=True)


def measure_stream(cfg_path: Path, shape: dict[str, Any], res: Results) -> None:
    """Per-unit latency of one-unit pushes at 1k and 16k units under ``{window: 1024, sink: 8}``."""
    import numpy as np
    import torch

    from videollm_core.config import load_config
    from videollm_core.pipeline import build_pipeline

    cfg = load_config(cfg_path, ["model.context.window=1024", "model.context.sink=8"])
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    torch.manual_seed(0)
    pipeline = build_pipeline(cfg, device=device).eval()
    autocast = (lambda: torch.autocast("cuda", dtype=torch.bfloat16)) if device.type == "cuda" else contextlib.nullcontext
    feats = torch.randn(4096, cfg["model"]["encoder"]["in_dim"], device=device)
    with autocast():
        stream = pipeline.stream()  # the prompt's keys/values: the cache takes autocast's dtype from them
    pos = [0]

    def push(n: int) -> None:
        idx = torch.arange(pos[0], pos[0] + n, device=device) % feats.shape[0]
        with torch.no_grad(), autocast():
            stream.push(feats[idx])
        pos[0] += n

    window, out = 1024, {}
    for label, n in LENGTHS.items():
        while pos[0] < n - 1:
            push(min(window, n - 1 - pos[0]))
        push(1)  # warm-up at this length
        sync()
        lat = []
        for _ in range(shape["reps"]):
            start = time.perf_counter()
            push(1)
            sync()
            lat.append(time.perf_counter() - start)
        ms = np.array(lat) * 1e3
        res.figures.update({f"stream.units_per_s.{label}": len(lat) / sum(lat), f"stream.p50_ms.{label}": float(np.percentile(ms, 50)),
                            f"stream.p99_ms.{label}": float(np.percentile(ms, 99))})
        out[label] = {"units": n, "reached": pos[0], "reps": len(lat), "max_ms": float(ms.max())}
        print(f"[gpu] stream at {n} units: p50 {np.percentile(ms, 50):.2f} ms, p99 {np.percentile(ms, 99):.2f} ms, "
              f"{len(lat) / sum(lat):.1f} units/s", flush=True)
    res.setup["stream"] = {"precision": "bf16 autocast" if device.type == "cuda" else "fp32", "window": window, "sink": 8,
                           "cache_mb": stream.cache.kv.nbytes / 2**20, **out}


def measure_extract(shape: dict[str, Any], res: Results) -> None:
    """Frames embedded per second by ``Extraction.run`` (decoding, preprocessing, forward, writes)."""
    import numpy as np
    import torch
    from transformers import ViTConfig, ViTModel

    from videollm_plugins.features.extract import Extraction, extract_video

    sys.path.insert(0, str(ROOT / "tests" / "features"))
    from feature_layouts import write_mp4  # the tests' PyAV writer, as bench/extract.py uses it

    device = "cuda" if torch.cuda.is_available() else "cpu"
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for i in range(shape["videos"]):
            write_mp4(tmp / "videos" / f"video{i:02d}.mp4", int(shape["seconds"] * 25), rate=25, size=240, seed=i)
        warm = write_mp4(tmp / "warm" / "warm.mp4", 25, rate=25, size=240, seed=99)
        torch.manual_seed(0)
        ViTModel(ViTConfig(**shape["vit"])).save_pretrained(tmp / "vit")
        run = Extraction(str(tmp / "vit"), tmp / "videos", tmp / "out", EXTRACT_FPS, batch_size=shape["extract_batch"],
                         device=device, progress=False)
        extract_video(run.backbone, warm, EXTRACT_FPS)
        sync()
        start = time.perf_counter()
        stats = run.run()
        sync()
        seconds = time.perf_counter() - start
        if stats["done"] != shape["videos"] or stats["failed"]:
            raise RuntimeError(f"extraction did not process every video: {stats}")
        frames = sum(int(np.load(p).shape[0]) for p in (tmp / "out").glob("*.npy"))
    res.figures["extract.frames_per_s"] = frames / seconds
    res.setup["extract"] = {"backbone": {"model_type": "vit", **ViTConfig(**shape["vit"]).to_diff_dict()}, "device": device,
                            "videos": shape["videos"], "video_seconds": shape["seconds"], "fps": EXTRACT_FPS, "frames": frames,
                            "decoded_frames": int(shape["videos"] * shape["seconds"] * 25), "seconds": seconds}
    print(f"[gpu] extract: {frames} frames in {seconds:.2f} s = {frames / seconds:.1f} frames/s", flush=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--smoke", action="store_true", help="tiny shapes on CPU (checks every step; the numbers mean nothing)")
    ap.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "videollm-bench-gpu.json", help="the JSON file")
    ap.add_argument("--only", nargs="+", choices=["train", "stream", "extract", "launch"], help="run these parts only")
    ap.add_argument("--threads", type=int, default=None, help="CPU threads (default: all; smoke: 1, the cores may be shared)")
    ap.add_argument("--docs", action="store_true", help="append the table to the GPU section of docs/benchmarks.md")
    args = ap.parse_args(argv)
    if args.smoke:
        os.environ["CUDA_VISIBLE_DEVICES"] = ""  # CPU even on a GPU machine
        os.environ.setdefault("OMP_NUM_THREADS", str(args.threads or 1))
    for key in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        os.environ.setdefault(key, "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import torch

    if args.threads or args.smoke:
        torch.set_num_threads(args.threads or 1)
    if not args.smoke and not torch.cuda.is_available():
        print("no CUDA GPU here: run `bash bench/gpu.sh --smoke` for the CPU check", file=sys.stderr)
        return 2
    mode, shape = ("smoke", SHAPES["smoke"]) if args.smoke else ("full", SHAPES["full"])
    res = Results()
    name = "cpu" if args.smoke else torch.cuda.get_device_name(0)
    peak = None if args.smoke else peak_bf16(name)
    res.figures["device"] = name
    print(f"[gpu] device: {name}", flush=True)
    import accelerate
    import transformers

    res.setup.update(mode=mode, date=datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
                     config=str(PAPER_CONFIG.relative_to(ROOT)), shape=shape, peak_bf16_flops=peak, threads=torch.get_num_threads(),
                     host={"python": platform.python_version(), "cpus": os.cpu_count(), "load_1m": os.getloadavg()[0]},
                     versions={"torch": torch.__version__, "cuda": torch.version.cuda, "transformers": transformers.__version__,
                               "accelerate": accelerate.__version__})
    if peak is None:
        res.skip(["train.mfu"], "the CPU run is fp32 and has no bf16 peak" if args.smoke else
                 f"no bf16 peak FLOP/s known for {name!r} (table: {', '.join(p for p, _ in PEAK_BF16)}); "
                 "train.tflops_per_s is the achieved rate")
    parts = set(args.only or ["train", "stream", "extract", "launch"])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="videollm-bench-gpu-") as tmp:
        work = Path(tmp)
        cfg_path = work / "opt-1.3b_lora_bench.yaml"
        import yaml

        cfg = bench_config(shape, work)
        cfg_path.write_text(yaml.safe_dump(cfg, sort_keys=False), encoding="utf-8")
        res.setup["llm"] = copy.deepcopy(cfg["model"]["llm"]["config"])
        groups = {"train": [k for k in KEYS if k.startswith("train.")], "stream": [k for k in KEYS if k.startswith("stream.")],
                  "extract": ["extract.frames_per_s"]}
        for part, fn in (("train", lambda: measure_train(cfg_path, shape, peak, res)),
                         ("stream", lambda: measure_stream(cfg_path, shape, res)), ("extract", lambda: measure_extract(shape, res))):
            if part in parts:
                with res.section(part, groups[part]):
                    fn()
                release_memory()
            else:
                res.skip(groups[part], "not run (--only)")
        for launch in LAUNCHES:
            keys = [f"launch.{launch}.samples_per_s", f"launch.{launch}.wall_s"]
            reason = "not run (--only)" if "launch" not in parts else launch_skip_reason(launch, args.smoke)
            if reason:
                res.skip(keys, reason)
                continue
            with res.section(f"launch {launch}", keys):
                log_path = args.out.with_name(f"{args.out.stem}.{launch}.log")
                measure_launch(launch, cfg_path, shape, args.smoke, work, log_path, res)
    res.setup["seconds"] = time.perf_counter() - start
    bad = [k for k, v in res.figures.items() if isinstance(v, float) and not math.isfinite(v)]
    for key in bad:
        res.figures[key] = None
    res.fail(bad, "not finite")
    args.out.write_text(json.dumps(res.to_json(), indent=1) + "\n", encoding="utf-8")
    table = render(res)
    print("\n" + table)
    print(f"[gpu] wrote {args.out} ({res.setup['seconds']:.0f} s){'; FAILED: ' + ', '.join(res.failed) if res.failed else ''}",
          flush=True)
    if args.docs:
        if args.smoke:
            print("[gpu] --docs ignored with --smoke: CPU smoke figures do not go into the docs", flush=True)
        else:
            append_to_docs(table, DOCS)
    return 1 if res.failed else 0


if __name__ == "__main__":
    sys.exit(main())

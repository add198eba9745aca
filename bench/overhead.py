"""Runner overhead: the same pipeline trained through the Runner and through a plain PyTorch loop.

Both sides use the same config (default ``examples/oad.yaml``: a 2-layer GPT-2, demo data),
the same AdamW / cosine schedule / clipping and the same batch size; data loading is
included on both sides (DataLoader, ``num_workers`` from the config). The runner side is
timed between its ``videollm_step_end`` hooks; the first ``--warmup`` steps are dropped.

    python bench/overhead.py [--config examples/oad.yaml] [--steps 60] [--warmup 10]

Prints one JSON line: ms per step for both, and the runner's overhead in %.
"""
from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time

import torch

import videollm_core


class StepClock:
    """A plugin recording the wall time of every optimizer step's end."""

    def __init__(self):
        self.times: list[float] = []

    @videollm_core.hookimpl
    def videollm_step_end(self, runner, step, logs):
        self.times.append(time.perf_counter())


def runner_ms(cfg, steps: int, warmup: int) -> float:
    from videollm_core.plugins import get_plugin_manager
    from videollm_core.engine.runner import Runner

    clock = StepClock()
    get_plugin_manager().register(clock, name="bench_clock")
    cfg["train"].update(max_steps=steps, eval_every=0, save_every=0, log_every=10 ** 9)
    with tempfile.TemporaryDirectory() as work:
        runner = Runner(cfg, work_dir=work)
        runner._has_val = lambda: False  # time training steps only
        runner.train()
    gaps = [b - a for a, b in zip(clock.times[warmup:], clock.times[warmup + 1:])]
    return 1000 * statistics.median(gaps)


def plain_ms(cfg, steps: int, warmup: int) -> float:
    """The hand-written loop: DataLoader, forward, loss, backward, clip, step, schedule."""
    from torch.utils.data import DataLoader

    from videollm_core.validation import task_specs
    from videollm_core.engine.optim import build_scheduler
    from videollm_core.pipeline import build_pipeline
    from videollm_core.plugins import REGISTRIES

    spec = task_specs(cfg)[0]
    train = cfg["train"]
    ds = REGISTRIES.datasets.build(spec.data["train"], default_args={"feature_dim": cfg["model"]["encoder"]["in_dim"]})
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")  # where the runner trains too
    model = build_pipeline(cfg, head_args={spec.name: ds.head_args()}, device=device)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=train["lr"])
    sched = build_scheduler(opt, train.get("scheduler", "cosine"), train.get("warmup_steps", 0), steps)
    loader = DataLoader(ds, batch_size=cfg["data"]["batch_size"], shuffle=True, collate_fn=ds.collate,
                        num_workers=cfg["data"].get("num_workers", 0), drop_last=True)
    model.train()
    times, done = [], 0
    while done < steps:
        for batch in loader:
            batch = batch.to(device)
            out = model(batch, spec.name)
            loss = model.loss(out, batch, spec.name)["loss"]
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, train.get("clip_grad") or 1.0)
            opt.step()
            sched.step()
            opt.zero_grad(set_to_none=True)
            times.append(time.perf_counter())
            done += 1
            if done == steps:
                break
    gaps = [b - a for a, b in zip(times[warmup:], times[warmup + 1:])]
    return 1000 * statistics.median(gaps)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--config", default="examples/oad.yaml")
    p.add_argument("--steps", type=int, default=60)
    p.add_argument("--warmup", type=int, default=10)
    p.add_argument("--cfg-options", nargs="*", default=[], metavar="KEY=VALUE",
                   help="config overrides, e.g. a larger LLM: model.llm.config.n_layer=6 model.llm.config.n_embd=384")
    args = p.parse_args()
    from videollm_core.config import load_config

    torch.manual_seed(0)
    plain = plain_ms(load_config(args.config, args.cfg_options), args.steps, args.warmup)
    ran = runner_ms(load_config(args.config, args.cfg_options), args.steps, args.warmup)
    print(json.dumps({"config": args.config, "overrides": args.cfg_options, "steps": args.steps, "plain_ms_per_step": round(plain, 2),
                      "runner_ms_per_step": round(ran, 2), "overhead_pct": round(100 * (ran - plain) / plain, 1),
                      "threads": torch.get_num_threads()}))


if __name__ == "__main__":
    main()

"""Runner overhead: the same pipeline trained through the Runner and through a plain PyTorch loop, interleaved.

Both sides train the same config (default ``examples/oad.yaml``: a 2-layer GPT-2, demo data; one
task, ``train.grad_accum`` 1) from the same initial weights, with the same optimizer and schedule
builders, ``clip_grad``, device and batches in the same order (the runner's dataset and batch
sampler); data loading is inside both timings (DataLoader, ``num_workers`` from the config).
They alternate in one process: ``Runner.train`` runs ``--warmup`` steps, the plain loop its
``--warmup`` steps, then ``--pairs`` times a block of ``--block`` runner steps and a block of
``--block`` plain steps (A B A B ...). The plain blocks run inside the runner's
``videollm_step_end`` hook, so the runner's loop, hooks and progress bar run as in a real run;
a runner block is timed from the end of one plain block to the hook of its last step, so it
holds every line of the runner's per-step path once per step. Both sides of a pair see the
machine's load of the same moment; the overhead of a pair is ``100 * (runner - plain) / plain``.

    python bench/overhead.py [--config examples/oad.yaml] [--pairs 100] [--block 3] [--warmup 10] [--threads N]
    python bench/overhead.py --cfg-options model.llm.config.n_layer=6 model.llm.config.n_embd=384 model.llm.config.n_head=6

Prints one JSON line: ``overhead_pct_median`` and ``overhead_pct_iqr`` (interquartile range) of
the per-pair overheads (%), a distribution-free 95 % confidence interval of that median
(``overhead_pct_median_ci95``: what the run can resolve), the median per-step difference (ms),
both sides' ms per step (medians over blocks) and minor page faults per step, and every pair's
overhead. Both loops share one heap: by default the script pins glibc's mmap and trim thresholds
(``--malloc steady``, :func:`steady_malloc`), because with glibc's dynamic thresholds a step of a
6-layer model takes thousands of page faults (freed memory returned to the kernel and zeroed again)
in numbers that depend on the heap's history, and interleaving gave one side more of them than
the other. Evaluation and
checkpoints are off (``train.eval_every`` / ``save_every`` 0; the runner's one extra step after
the last pair, which logs and saves a checkpoint, is not timed) and so is metrics logging unless
``--log-every N`` (then a loss reduction, ``.item()`` and a ``metrics.jsonl`` / TensorBoard write
every N steps land in some runner blocks).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import tempfile
import time
from typing import Any

import torch

import videollm_core


class PlainLoop:
    """The hand-written loop: DataLoader, forward, loss, backward, clip, step, schedule.

    It uses the runner's settings (the validated ``RunConfig``: lr, weight decay, schedule, ``clip_grad``,
    batch size, workers, seed), optimizer and scheduler builders and batch sampler, so that
    both sides do the same arithmetic on the same batches in the same order.

    Args:
        cfg: the config (one task, ``train.grad_accum`` 1).
        dataset: the task's training set (the runner's own).
        total_steps: the schedule's length (the runner's ``max_steps``).
        device: where the model trains (the runner's device).
        state: initial weights (the runner's), else the config's initialisation.
    """

    def __init__(self, cfg: dict, dataset: Any, total_steps: int, device: torch.device, state: dict | None = None):
        from torch.utils.data import DataLoader

        from videollm_core.engine.optim import build_optimizer, build_scheduler
        from videollm_core.engine.sampling import StepBatchSampler
        from videollm_core.pipeline import build_pipeline
        from videollm_core.validation import validate_config

        config = validate_config(cfg)
        s, spec = config.train, config.tasks[0]
        self.task, self.device, self.clip = spec.name, device, s.clip_grad
        self.model = build_pipeline(cfg, head_args={spec.name: dataset.head_args()}, device=device)
        if state is not None:
            self.model.load_state_dict(state)
        self.params = [p for p in self.model.parameters() if p.requires_grad]
        self.opt = build_optimizer(self.model, s.lr, s.weight_decay)
        self.sched = build_scheduler(self.opt, s.scheduler, s.warmup_steps, total_steps)
        sampler = StepBatchSampler(len(dataset), int(config.data.batch_size), seed=config.seed)  # the runner's first task's
        self._batches = iter(DataLoader(dataset, batch_sampler=sampler, collate_fn=dataset.collate,
                                        num_workers=int(config.data.num_workers)))
        self.model.train()

    def run(self, steps: int) -> float:
        """Train ``steps`` optimizer steps; returns their wall time in seconds."""
        t0 = time.perf_counter()
        for _ in range(steps):
            batch = next(self._batches).to(self.device)
            out = self.model(batch, self.task)
            loss = self.model.loss(out, batch, self.task)["loss"]
            loss.backward()
            if self.clip:
                torch.nn.utils.clip_grad_norm_(self.params, float(self.clip))
            self.opt.step()
            self.sched.step()
            self.opt.zero_grad(set_to_none=True)
        return time.perf_counter() - t0


def minor_faults() -> int:
    """Minor page faults of this process so far (pages the kernel had to map and zero; 0 where unknown)."""
    try:
        import resource

        return int(resource.getrusage(resource.RUSAGE_SELF).ru_minflt)
    except (ImportError, OSError):
        return 0


def steady_malloc() -> bool:
    """glibc: a fixed mmap threshold (32 MiB) and no trimming of the heap, so that freed tensor memory stays
    mapped and is reused instead of being returned to the kernel and faulted in (zeroed) again at the next
    step. True when set (a glibc process), else False and nothing changes."""
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        m_trim_threshold, m_mmap_threshold = -1, -3  # <malloc.h>
        return bool(libc.mallopt(m_mmap_threshold, 32 << 20)) and bool(libc.mallopt(m_trim_threshold, 1 << 30))
    except (OSError, AttributeError):
        return False


class Interleave:
    """A plugin that, from the runner's ``videollm_step_end`` hook, runs the plain loop's blocks and times both sides.

    Args:
        plain: the plain loop.
        warmup: runner steps, then plain steps, run untimed first.
        block: steps per timed block (each side).
        pairs: timed pairs of blocks (later steps are not timed).
    """

    def __init__(self, plain: PlainLoop, warmup: int, block: int, pairs: int):
        self.plain, self.warmup, self.block, self.last = plain, warmup, block, warmup + pairs * block
        self.mark, self.faults_mark = 0.0, 0
        #: ``(runner_s, plain_s)`` of each timed pair of blocks.
        self.pairs: list[tuple[float, float]] = []
        #: ``(runner, plain)`` minor page faults of each timed pair of blocks.
        self.faults: list[tuple[int, int]] = []

    @videollm_core.hookimpl
    def videollm_step_end(self, runner, step, logs):
        now, faults = time.perf_counter(), minor_faults()
        if step == self.warmup:
            self.plain.run(self.warmup)
        elif self.warmup < step <= self.last and (step - self.warmup) % self.block == 0:
            before = minor_faults()
            self.pairs.append((now - self.mark, self.plain.run(self.block)))
            self.faults.append((faults - self.faults_mark, minor_faults() - before))
        else:
            return
        self.faults_mark, self.mark = minor_faults(), time.perf_counter()


def quartiles(values: list[float]) -> tuple[float, float, float]:
    """``(q1, median, q3)`` of ``values`` (inclusive method: within the data's range)."""
    if len(values) == 1:
        return values[0], values[0], values[0]
    q1, q2, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return q1, q2, q3


def median_ci(values: list[float], level: float = 0.95) -> tuple[float, float] | None:
    """A distribution-free confidence interval of the median: the order statistics ``x(j), x(n-j+1)`` with
    ``P(Binomial(n, 1/2) < j) <= (1 - level) / 2`` (coverage at least ``level``); None when ``n`` is too small (< 6)."""
    xs, n = sorted(values), len(values)
    tail, j = 0.0, 0
    while j < n // 2 and tail + math.comb(n, j) / 2 ** n <= (1 - level) / 2:
        tail += math.comb(n, j) / 2 ** n
        j += 1
    return (xs[j - 1], xs[n - j]) if j else None


def measure(cfg: dict, pairs: int, block: int, warmup: int, log_every: int | None = None) -> dict[str, Any]:
    """Interleave ``pairs`` blocks of ``block`` runner steps and plain steps after ``warmup`` steps of each side.

    Args:
        cfg: the config (one task, ``train.grad_accum`` 1); its ``train`` section is changed in place.
        pairs, block, warmup: as the command line's options (counts of pairs and of optimizer steps).
        log_every: the runner logs its metrics every this many steps (None: never).

    Returns:
        The JSON fields of the module docstring: overheads in % of the plain loop's time, times in ms per
        optimizer step, page faults per step.
    """
    from videollm_core.engine.runner import Runner
    from videollm_core.plugins import get_plugin_manager
    from videollm_core.validation import validate_config

    config = validate_config(cfg)
    if len(config.tasks) != 1 or config.train.grad_accum != 1:
        raise SystemExit("bench/overhead.py compares one task with train.grad_accum 1 (the plain loop's shape)")
    total = warmup + pairs * block + 1  # the runner's last step (it logs, untimed) comes after the last pair
    cfg["train"].update(max_steps=total, eval_every=0, save_every=0, log_every=log_every or 10 ** 9)
    with tempfile.TemporaryDirectory() as work:
        torch.manual_seed(0)
        runner = Runner(cfg, work_dir=work)
        runner._has_val = lambda: False  # time training steps only
        plain = PlainLoop(cfg, runner.dataset(runner.specs[0], "train"), total, runner.accelerator.device,
                          state=runner.pipeline.state_dict())
        clock = Interleave(plain, warmup, block, pairs)
        manager = get_plugin_manager()
        manager.register(clock, name="bench_interleave")
        try:
            runner.train()
        finally:
            manager.pm.unregister(clock)
    runner_ms = [1000 * r / block for r, _ in clock.pairs]
    plain_ms = [1000 * p / block for _, p in clock.pairs]
    overhead = [100 * (r - p) / p for r, p in zip(runner_ms, plain_ms)]
    q1, median, q3 = quartiles(overhead)
    ci = median_ci(overhead)
    return {"overhead_pct_median": round(median, 2), "overhead_pct_iqr": round(q3 - q1, 2),
            "overhead_pct_q1_q3": [round(q1, 2), round(q3, 2)],
            "overhead_pct_median_ci95": None if ci is None else [round(ci[0], 2), round(ci[1], 2)],
            "overhead_ms_per_step_median": round(statistics.median(r - p for r, p in zip(runner_ms, plain_ms)), 3),
            "runner_ms_per_step": round(statistics.median(runner_ms), 3), "plain_ms_per_step": round(statistics.median(plain_ms), 3),
            "runner_minor_faults_per_step": round(statistics.median(r for r, _ in clock.faults) / block),
            "plain_minor_faults_per_step": round(statistics.median(p for _, p in clock.faults) / block),
            "pairs": len(overhead), "block": block, "warmup": warmup,
            "per_pair_overhead_pct": [round(o, 2) for o in overhead]}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--config", default="examples/oad.yaml")
    p.add_argument("--pairs", type=int, default=100, help="timed (runner block, plain block) pairs (>= 1; default 100)")
    p.add_argument("--block", type=int, default=3, help="optimizer steps per block (default 3)")
    p.add_argument("--warmup", type=int, default=10, help="untimed steps of each side first (default 10)")
    p.add_argument("--log-every", type=int, default=None, help="runner logs its metrics every N steps (default: never)")
    p.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's)")
    p.add_argument("--malloc", choices=("steady", "default"), default="steady",
                   help="steady (default): glibc keeps freed memory mapped (see steady_malloc); default: glibc's own dynamic "
                        "thresholds, under which the two loops sharing one heap take different numbers of page faults")
    p.add_argument("--cfg-options", nargs="*", default=[], metavar="KEY=VALUE",
                   help="config overrides, e.g. a larger LLM: model.llm.config.n_layer=6 model.llm.config.n_embd=384")
    args = p.parse_args()
    if min(args.pairs, args.block, args.warmup) < 1:
        p.error("--pairs, --block and --warmup must be >= 1")
    from videollm_core.config import load_config

    if args.threads:
        torch.set_num_threads(args.threads)
    malloc = "steady" if args.malloc == "steady" and steady_malloc() else "default"
    load = os.getloadavg()[0]
    result = measure(load_config(args.config, args.cfg_options), args.pairs, args.block, args.warmup, args.log_every)
    print(json.dumps({"config": args.config, "overrides": args.cfg_options, **result, "log_every": args.log_every, "malloc": malloc,
                      "threads": torch.get_num_threads(), "cores": os.cpu_count(),
                      "load_average_1min": [round(load, 2), round(os.getloadavg()[0], 2)]}))


if __name__ == "__main__":
    main()

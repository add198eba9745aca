"""Train the runner-test config from a JSON file in a fresh process (SIGKILL / SIGTERM / accelerate tests).

usage: python run_train.py CONFIG.json OUT.json [--resume auto]
Writes the final metrics and, per process, the trainable weights' checksum to OUT.json
(``OUT.rankN.json`` on rank N > 0).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from helpers import setup_plugins  # noqa: E402


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("config")
    p.add_argument("out")
    p.add_argument("--resume", default=None)
    args = p.parse_args()
    setup_plugins()
    from videollm_core.engine.runner import Runner

    cfg = json.loads(Path(args.config).read_text())
    runner = Runner(cfg)
    metrics = runner.train(resume=args.resume)
    rank = runner.accelerator.process_index
    weights = {k: v.double().sum().item() for k, v in runner.pipeline.trainable_state_dict().items()}
    out = Path(args.out) if rank == 0 else Path(args.out).with_suffix(f".rank{rank}.json")
    out.write_text(json.dumps({"metrics": metrics, "weights": weights, "step": runner.step,
                               "interrupted": runner.interrupted, "world": runner.accelerator.num_processes}))
    return 0


if __name__ == "__main__":
    sys.exit(main())

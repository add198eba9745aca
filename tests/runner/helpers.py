"""Shared pieces of the runner tests: the tiny config and the plugin setup."""
from __future__ import annotations

import copy
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

import runner_testplug  # noqa: E402

LLM = {"type": "HFCausalLM", "config": {"model_type": "gpt2", "n_layer": 2, "n_embd": 32, "n_head": 2, "vocab_size": 64,
                                          "n_positions": 64, "bos_token_id": None, "eos_token_id": None},
       "tokenizer": {"words": ["proto", "task"]}}


def setup_plugins():
    """Register the test plugin with the process-wide manager (once)."""
    from videollm_core.plugins import get_plugin_manager

    manager = get_plugin_manager()
    manager.load()
    if "runner_testplug" not in manager.infos:
        manager.register(runner_testplug, name="runner_testplug")
    return manager


def make_config(work_dir, *, tasks: int = 1, **train) -> dict:
    """A tiny single-task (or ``tasks``-task) config; ``train`` overrides ``train:`` keys."""
    data = {"train": {"type": "ProtoDataset", "num_videos": 16, "seed": 0},
            "val": {"type": "ProtoDataset", "num_videos": 6, "seed": 1}}
    cfg = {
        "work_dir": str(work_dir),
        "seed": 0,
        "model": {"encoder": {"type": "TemporalUnitEncoder", "in_dim": 16, "unit_size": 1},
                  "translator": {"type": "LinearTranslator"}, "llm": copy.deepcopy(LLM), "tuner": {"type": "Frozen"}},
        "data": {"batch_size": 4, "num_workers": 0},
        "train": {"max_steps": 12, "lr": 5e-3, "scheduler": "cosine", "warmup_steps": 2, "eval_every": 4,
                  "save_every": 4, "log_every": 2, "keep_last": 2, "seed": 0, **train},
    }
    if tasks == 1:
        cfg["model"]["head"] = {"type": "ProtoHead"}
        cfg["data"].update(data)
        cfg["metric"] = {"type": "proto"}
    else:
        cfg["tasks"] = [{"name": f"t{i}", "head": {"type": "ProtoHead", "num_classes": 3 + i},
                         "data": {"train": {**data["train"], "num_classes": 3 + i}, "val": {**data["val"], "num_classes": 3 + i}},
                         "metric": {"type": "proto"}, "weight": 1.0 + i} for i in range(tasks)]
    return cfg

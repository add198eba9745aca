"""End to end, per task of "Tasks I": train the example config on its demo data through the
Runner (tiny random-init GPT-2, CPU), then check the official predictions file, metrics.jsonl
and that the metric ends far above chance. Each case states the chance level and the threshold.
"""
from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from videollm_core.config import load_config
from videollm_core.runner import Runner

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def train_example(name: str, tmp_path: Path, monkeypatch, **overrides) -> tuple[dict, Path]:
    monkeypatch.setenv("VIDEOLLM_CACHE", str(tmp_path / "cache"))
    cfg = load_config(EXAMPLES / f"{name}.yaml", {"work_dir": str(tmp_path / "work"), "train.log_every": 1000, **overrides})
    metrics = Runner(cfg).train()
    work = tmp_path / "work"
    lines = [json.loads(line) for line in (work / "metrics.jsonl").read_text().splitlines() if line.strip()]
    assert lines, "metrics.jsonl is empty"
    return metrics, work


def test_online_caption_learns_the_narrations(tmp_path, monkeypatch):
    metrics, work = train_example("online_caption", tmp_path, monkeypatch, **{"train.max_steps": 80, "train.eval_every": 80})
    sub = json.loads((work / "predictions" / "online_caption_val.json").read_text())
    assert sub["challenge"] == "ego4d_online_narration" and all(r["caption"] for r in sub["results"])
    # chance: captions that know the grammar but not the video -- the ground-truth narrations shuffled
    # across narrations -- scored with the same metric.
    from videollm_plugins.tasks.online_caption.dataset import Ego4DNarrationDataset
    from videollm_plugins.tasks.online_caption.metric import OnlineCaptionMetric

    ds = Ego4DNarrationDataset(split="val", demo={"num_videos": 12, "seed": 0, "feature_dim": 32})
    gt = ds.ground_truth()
    texts = [v[0] for v in gt.values()]
    random.Random(0).shuffle(texts)
    chance = OnlineCaptionMetric().evaluate({"results": [{"narration_id": k, "caption": t} for k, t in zip(gt, texts)]}, gt)
    # measured chance on this demo: CIDEr ~ 210, BLEU@4 ~ 35 (4 verbs x 5 nouns: random pairs share words).
    # threshold: the model must beat that prior by a wide margin, close to the 1000 (CIDEr) of perfect captions.
    assert metrics["online_caption/CIDEr"] > max(600.0, chance["CIDEr"] + 300.0), (metrics, chance)
    assert metrics["online_caption/BLEU@4"] > chance["BLEU@4"] + 25.0, (metrics, chance)

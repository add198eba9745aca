"""End to end: ``examples/action_segmentation.yaml`` trains on demo Breakfast data through the
Runner and segments far above chance.

Chance: predicting the most frequent frame label of the demo test videos for every frame
(computed below, about 20 % Acc, F1@50 near 0). Thresholds: Acc >= 80 and F1@50 >= 60.
"""
from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from videollm_core.config import load_config
from videollm_core.runner import Runner
from videollm_plugins.tasks.action_segmentation import layout
from videollm_plugins.tasks.action_segmentation.metric import ActionSegmentationMetric

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "action_segmentation.yaml"


def test_example_trains_far_above_chance(tmp_path, monkeypatch):
    monkeypatch.setenv("VIDEOLLM_CACHE", str(tmp_path / "cache"))
    cfg = load_config(EXAMPLE, {"work_dir": str(tmp_path / "work")})
    scores = Runner(cfg).train()
    scores = {k.split("/")[-1]: v for k, v in scores.items()}
    work = tmp_path / "work"
    assert (work / "metrics.jsonl").is_file()
    pred_dir = work / "predictions" / "action_segmentation_val"
    files = sorted(pred_dir.iterdir())
    assert files and files[0].read_text().startswith(layout.RECOGNITION_HEADER)
    # chance: the majority frame label everywhere, scored by the same metric
    metric = ActionSegmentationMetric()
    gt = metric.load_ground_truth(next((tmp_path / "cache" / "demo").glob("action_segmentation-*")) / "splits" / "test.split1.bundle")
    majority = Counter(x for labels in gt.values() for x in labels).most_common(1)[0][0]
    chance = metric.evaluate({v: [majority] * len(labels) for v, labels in gt.items()}, gt)
    assert chance["Acc"] < 40 and chance["F1@50"] < 20
    assert scores["Acc"] >= 80.0, scores
    assert scores["F1@50"] >= 60.0, scores
    # the official result folder scores the same through the file readers
    again = metric.evaluate(metric.load_predictions(pred_dir), gt)
    assert again["Acc"] == pytest.approx(scores["Acc"])

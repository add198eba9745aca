"""End to end: ``examples/action_segmentation.yaml`` trains on demo Breakfast data through the
Runner and segments far above chance *and* above two controls that lack the temporal context.

The demo (:mod:`videollm_plugins.tasks.action_segmentation.demo`) shows only a step's visual
primitive: every ``pour_*`` step looks like ``pour``, every ``stir_*`` like ``stir``, every
``spoon_*`` like ``spoon``; which one it is follows from the activity, shown only by the
first step of that activity (a video holds 2-3 activities in a row). Thresholds (frame
accuracy ``Acc``, MS-TCN's metric, in points):

* chance -- the majority frame label everywhere (computed below, about 20 % Acc, F1@50 near 0);
  the example must reach Acc >= 80 and F1@50 >= 60;
* (a) context-free baseline -- a one-hidden-layer MLP (:func:`controls.fit_step_baseline`) on
  each unit's own pooled steps (exactly what one visual token holds; stronger than per-frame,
  whose noise is not averaged), each frame taking its unit's class: it can name the shared
  primitives' most frequent label only (measured about 52 Acc);
* (b) shuffled stream -- the same example trained and evaluated on a copy of the demo whose
  10-step units are permuted inside each video (:func:`controls.unit_permutation`; frame
  labels move with their features, so every unit keeps its content and label and only the
  order is gone): it can still tell which activities a video holds, not which one a step
  belongs to (measured about 65 Acc);
* the pipeline (measured about 89 Acc, 80 steps) must beat both by ``MARGIN`` points.
"""
from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from controls import fit_step_baseline, pool_units, train_example, unit_permutation
from videollm_plugins.tasks.action_segmentation import formats
from videollm_plugins.tasks.action_segmentation.dataset import BreakfastDataset
from videollm_plugins.tasks.action_segmentation.metric import ActionSegmentationMetric

MARGIN = 10.0  # Acc points the pipeline must gain over each control
UNIT = 10  # the example encoder's unit_size
DIM = 32  # the example encoder's in_dim


def _baseline_acc(root: Path, metric: ActionSegmentationMetric) -> float:
    """Acc of the context-free MLP on each unit's pooled steps (trained on the train split)."""
    train = BreakfastDataset(str(root), split="train", feature_dim=DIM)
    test = BreakfastDataset(str(root), split="test", feature_dim=DIM)

    def unit_labels(ids: np.ndarray) -> np.ndarray:  # the majority frame label of each unit, as the head trains
        return np.array([np.bincount(ids[i: i + UNIT]).argmax() for i in range(0, len(ids), UNIT)])

    predict = fit_step_baseline([pool_units(v["features"], UNIT) for v in train.videos], [unit_labels(v["frame_ids"]) for v in train.videos],
                                num_classes=len(train.class_names()), hidden=64, seed=0)
    preds = {}
    for v in test.videos:
        units = predict(pool_units(v["features"], UNIT)).argmax(-1)
        frames = np.minimum(np.arange(len(v["frame_ids"])) // UNIT, len(units) - 1)
        names = test.class_names()
        preds[v["video_id"]] = [names[c] for c in units[frames]]
    return metric.evaluate(preds, test.ground_truth())["Acc"]


def _shuffled_copy(root: Path, dst: Path) -> Path:
    """The demo tree with the units of every video permuted; frame labels move with their features."""
    shutil.copytree(root, dst)
    for gt in sorted((dst / "groundTruth").glob("*.txt")):
        vid = formats.video_id_of(gt.name)
        labels = formats.read_frame_labels(gt)
        feats = np.load(dst / "features" / f"{vid}.npy")  # [Df, F]
        assert feats.shape[1] == len(labels)
        perm = unit_permutation(vid, len(labels), UNIT)
        np.save(dst / "features" / f"{vid}.npy", np.ascontiguousarray(feats[:, perm]))
        formats.write_frame_labels([labels[i] for i in perm], gt)
    return dst


@pytest.mark.slow
def test_example_beats_chance_and_the_context_free_controls(tmp_path, monkeypatch):
    monkeypatch.setenv("VIDEOLLM_CACHE", str(tmp_path / "cache"))
    scores, work, _ = train_example("action_segmentation", tmp_path, monkeypatch)
    scores = {k.split("/")[-1]: v for k, v in scores.items()}
    pred_dir = work / "predictions" / "action_segmentation_val"
    files = sorted(pred_dir.iterdir())
    assert files and files[0].read_text().startswith(formats.RECOGNITION_HEADER)
    # chance: the majority frame label everywhere, scored by the same metric
    metric = ActionSegmentationMetric()
    root = next((tmp_path / "cache" / "demo").glob("action_segmentation-*"))
    gt = metric.load_ground_truth(root / "splits" / "test.split1.bundle")
    majority = Counter(x for labels in gt.values() for x in labels).most_common(1)[0][0]
    chance = metric.evaluate({v: [majority] * len(labels) for v, labels in gt.items()}, gt)
    assert chance["Acc"] < 40 and chance["F1@50"] < 20
    assert scores["Acc"] >= 80.0, scores
    assert scores["F1@50"] >= 60.0, scores
    # the official result folder scores the same through the file readers
    again = metric.evaluate(metric.load_predictions(pred_dir), gt)
    assert again["Acc"] == pytest.approx(scores["Acc"])

    baseline = _baseline_acc(root, metric)
    shuffled_root = _shuffled_copy(root, tmp_path / "shuffled")
    data = {f"data.{s}.{k}": v for s in ("train", "val") for k, v in (("demo", None), ("data_root", str(shuffled_root)))}
    shuffled = train_example("action_segmentation", tmp_path, monkeypatch, work_name="work_shuffled", **data)[0]
    shuffled_acc = shuffled["action_segmentation/Acc"]
    print(f"\naction segmentation Acc: pipeline {scores['Acc']:.1f}, context-free unit MLP {baseline:.1f}, "
          f"shuffled stream {shuffled_acc:.1f} (margin {MARGIN})")
    assert scores["Acc"] >= baseline + MARGIN, (scores, baseline)
    assert scores["Acc"] >= shuffled_acc + MARGIN, (scores, shuffled_acc)

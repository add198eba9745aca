"""End to end: ``examples/online_caption.yaml`` trains on demo Ego4D narrations through the
Runner and narrates above chance *and* above two controls that lack the order of the steps.

The demo (:mod:`videollm_plugins.tasks.online_caption.demo`) tells a narration's noun in every
step of its window but its verb only by two motion phases *in order* (``takes`` is phase 0
then 1, ``puts`` 1 then 0, ``cuts`` 1 then 2...). Numbers (exact-match accuracy of the narrations, in points, and
the official CIDEr printed beside it):

* chance -- the ground-truth narrations shuffled across narrations (knows the grammar, not the
  video), scored by the same metric: the example must beat its CIDEr by 300;
* (a) context-free baseline -- a one-hidden-layer MLP (:func:`controls.fit_step_baseline`) on the
  window's pooled steps choosing among the training narrations: it finds the noun and the two
  phases but not their order (a coin between ``takes`` and ``puts``: measured about 47 %);
* (b) shuffled stream -- the same example trained and evaluated on a copy of the demo whose steps
  are permuted inside each narration window (:func:`controls.permutation_within`; the windows
  keep their content, the narrations stay): order is gone, but for the chance that the
  permuted window still ends in the second phase (measured about 57 %);
* the pipeline (measured about 81 %, CIDEr about 840) must beat both by ``MARGIN`` points of
  exact-match accuracy.
"""
from __future__ import annotations

import json
import random
import shutil
from pathlib import Path

import numpy as np
import pytest

from controls import fit_step_baseline, permutation_within, train_example
from videollm_plugins.tasks.online_caption.dataset import Ego4DNarrationDataset
from videollm_plugins.tasks.online_caption.metric import OnlineCaptionMetric

MARGIN = 15.0  # exact-match points the pipeline must gain over each control
DEMO = {"num_videos": 24, "seed": 0, "feature_dim": 32}  # as in the example


def _norm(text: str) -> str:
    return " ".join(text.lower().split())


def _exact(captions: dict[str, str], gt: dict[str, list[str]]) -> float:
    return 100.0 * float(np.mean([_norm(captions.get(k, "")) == _norm(refs[0]) for k, refs in gt.items()]))


def _baseline(train: Ego4DNarrationDataset, val: Ego4DNarrationDataset) -> dict[str, str]:
    """Captions of the context-free control: an MLP on each window's mean step picks a training narration."""
    texts = sorted({n.text for n in train.items})
    pooled = [train[i]["features"].mean(0, keepdims=True) for i in range(len(train))]
    labels = [np.array([texts.index(train.items[i].text)]) for i in range(len(train))]
    predict = fit_step_baseline(pooled, labels, num_classes=len(texts), hidden=64, seed=0)
    return {n.narration_id: texts[int(predict(val[i]["features"].mean(0, keepdims=True)).argmax())] for i, n in enumerate(val.items)}


def _shuffled_copy(root: Path, dst: Path, fps: float) -> Path:
    """The demo tree with the steps of every narration window permuted inside that window."""
    shutil.copytree(root, dst)
    bounds: dict[str, list[int]] = {}
    for split in ("train", "val"):
        ds = Ego4DNarrationDataset(split=split, demo=DEMO, feature_dim=DEMO["feature_dim"])
        for i, n in enumerate(ds.items):
            ts = ds[i]["timestamps"]
            bounds.setdefault(n.video_uid, []).extend([int(round(ts[0, 0] * fps)), int(round(ts[-1, 1] * fps))])
    for vid, edges in bounds.items():
        path = dst / "features" / f"{vid}.npy"
        feats = np.load(path)
        np.save(path, np.ascontiguousarray(feats[permutation_within(vid, len(feats), edges)]))
    return dst


@pytest.mark.slow
def test_online_caption_needs_the_order_of_the_steps(tmp_path, monkeypatch):
    monkeypatch.setenv("VIDEOLLM_CACHE", str(tmp_path / "cache"))
    metrics, work, _ = train_example("online_caption", tmp_path, monkeypatch)
    sub = json.loads((work / "predictions" / "online_caption_val.json").read_text())
    assert sub["challenge"] == "ego4d_online_narration" and all(r["caption"] for r in sub["results"])
    train = Ego4DNarrationDataset(split="train", demo=DEMO, feature_dim=DEMO["feature_dim"])
    val = Ego4DNarrationDataset(split="val", demo=DEMO, feature_dim=DEMO["feature_dim"])
    gt = val.ground_truth()
    metric = OnlineCaptionMetric()
    # chance: the ground-truth narrations shuffled across narrations
    texts = [v[0] for v in gt.values()]
    random.Random(0).shuffle(texts)
    chance = metric.evaluate({"results": [{"narration_id": k, "caption": t} for k, t in zip(gt, texts)]}, gt)
    assert metrics["online_caption/CIDEr"] > chance["CIDEr"] + 300.0, (metrics, chance)
    pipeline = _exact({r["narration_id"]: r["caption"] for r in sub["results"]}, gt)

    base_captions = _baseline(train, val)
    baseline = _exact(base_captions, gt)
    base_cider = metric.evaluate({"results": [{"narration_id": k, "caption": t} for k, t in base_captions.items()]}, gt)["CIDEr"]

    root = next((tmp_path / "cache" / "demo").glob("online_caption-*"))
    shuffled_root = _shuffled_copy(root, tmp_path / "shuffled", val.fps)
    data = {f"data.{s}.{k}": v for s in ("train", "val") for k, v in (
        ("demo", None), ("annotations", str(shuffled_root / "narration.json")), ("features_dir", str(shuffled_root / "features")),
        ("videos", str(shuffled_root / f"{s}_videos.txt")), ("fps", val.fps))}
    shuffled_metrics, shuffled_work, _ = train_example("online_caption", tmp_path, monkeypatch, work_name="work_shuffled", **data)
    shuffled_sub = json.loads((shuffled_work / "predictions" / "online_caption_val.json").read_text())
    shuffled = _exact({r["narration_id"]: r["caption"] for r in shuffled_sub["results"]}, gt)
    print(f"\nonline captioning exact match (CIDEr): pipeline {pipeline:.1f} ({metrics['online_caption/CIDEr']:.0f}), "
          f"context-free window MLP {baseline:.1f} ({base_cider:.0f}), shuffled stream {shuffled:.1f} "
          f"({shuffled_metrics['online_caption/CIDEr']:.0f}) (margin {MARGIN})")
    assert pipeline >= baseline + MARGIN, (pipeline, baseline)
    assert pipeline >= shuffled + MARGIN, (pipeline, shuffled)

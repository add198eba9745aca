"""End to end: ``examples/dense_caption.yaml`` (the flagship) trains on demo data through the
Runner, writes the densevid submission and captions that name the planted events.

Chance levels and thresholds:

* naming -- a caption drawn from the 6 demo event captions names the right event with
  probability 1/6 (17 %); the threshold is 90 % of the predicted events that overlap a
  ground-truth event (tIoU >= 0.5) carrying exactly its caption, and no caption may
  repeat a word twice in a row ("a person person ...");
* localisation -- one whole-video proposal per video (computed below) reaches less than
  10 % recall and precision at tIoU 0.5; the thresholds are Recall >= 80 and
  Precision >= 80 (densevid, averaged over tIoU 0.3/0.5/0.7/0.9; the example scores
  about 89 / 90, the 1 s feature stride bounds the tIoU 0.9 term);
* captions x localisation -- METEOR >= 70 and SODA_c >= 70 (a whole-video proposal with
  the right words still scores near 0 at tIoU >= 0.3 on these 2-4-event videos).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from videollm_core.config import load_config
from videollm_core.runner import Runner
from videollm_plugins.tasks.common.detection import tiou_matrix
from videollm_plugins.tasks.dense_caption.densevid import localisation_scores
from videollm_plugins.tasks.dense_caption.metric import DenseCaptionMetric

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "dense_caption.yaml"


def _norm(text: str) -> str:
    return " ".join(text.lower().replace(".", " ").split())


def test_flagship_example_names_the_planted_events(tmp_path, monkeypatch):
    monkeypatch.setenv("VIDEOLLM_CACHE", str(tmp_path / "cache"))
    cfg = load_config(EXAMPLE, {"work_dir": str(tmp_path / "work")})
    scores = {k.split("/")[-1]: v for k, v in Runner(cfg).train().items()}
    assert set(DenseCaptionMetric.keys) <= set(scores)
    work = tmp_path / "work"
    assert (work / "metrics.jsonl").is_file()
    submission = json.loads((work / "predictions" / "dense_caption_val.json").read_text())
    assert submission["version"] == "VERSION 1.0"
    demo = next((tmp_path / "cache" / "demo").glob("dense_caption-*"))
    refs = [json.loads((demo / f"{n}.json").read_text()) for n in ("val_1", "val_2")]
    named = total = 0
    for vid, preds in submission["results"].items():
        gt = refs[0][vid]
        for p in preds:
            words = _norm(p["sentence"]).split()
            assert all(a != b for a, b in zip(words, words[1:])), p["sentence"]
            ious = tiou_matrix([p["timestamp"]], gt["timestamps"])[0]
            if ious.max() >= 0.5:
                total += 1
                named += _norm(p["sentence"]) == _norm(gt["sentences"][int(np.argmax(ious))])
    assert total >= 20 and named / total >= 0.9, (named, total)
    whole = {vid: [{"timestamp": [0.0, r["duration"]], "sentence": "x"}] for vid, r in refs[0].items()}
    assert max(localisation_scores(whole, refs, 0.5)) < 0.1
    assert scores["Recall"] >= 80.0 and scores["Precision"] >= 80.0, scores
    assert scores["METEOR"] >= 70.0 and scores["SODA_c"] >= 70.0, scores
    assert (work / "plots" / "dense_caption_predictions.png").is_file()

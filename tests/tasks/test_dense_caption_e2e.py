"""End to end: ``examples/dense_caption.yaml`` (the flagship) trains on demo data through the
Runner, writes the densevid submission, and captions events above two controls that lack the
video's context.

The demo (:mod:`videollm_plugins.tasks.dense_caption.demo`) captions every event
``"a person <verb> the <ingredient>"``; an event's own features show its verb, but the
ingredient only appears in the routine's first event (``takes``), seconds earlier.

The compared number is *event accuracy*: the share of ``val_1`` events whose best-overlapping
prediction has tIoU >= 0.5 and exactly their caption (localisation and the whole caption).

* (a) context-free baseline -- a one-hidden-layer MLP (:func:`controls.fit_step_baseline`) on each
  event's own pooled steps, choosing among the training captions, *given the ground-truth
  segments* (perfect localisation, so only the caption counts against it): it names the
  ingredient of the ``takes`` events only (measured about 41 %);
* (b) shuffled stream -- the same example trained and evaluated on a copy of the demo whose
  2-step units are permuted inside each video (:func:`controls.unit_permutation`; the events
  stay): without the order, neither the events nor their context can be found (measured about 4 %);
* the pipeline (measured about 84 %) must beat both by ``MARGIN`` points.

Also checked against chance: a caption drawn from the 30 demo captions is right 1 in 30 times,
and one whole-video proposal per video reaches under 10 % recall and precision at tIoU 0.5
(computed below), against Recall and Precision >= 70 (densevid, averaged over tIoU
0.3/0.5/0.7/0.9; the 1 s feature stride bounds the tIoU 0.9 term) and METEOR and SODA_c >= 60
for the example; at most ``MAX_DOUBLED`` % of captions may repeat a word twice in a row
("a person person ..."). Which caption stutters, and the exact scores, change with the torch
thread count and the processor (the order of float sums), so nothing here asserts exact text.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from controls import fit_step_baseline, train_example, unit_permutation
from videollm_plugins.tasks.common.captioning import meteor_available
from videollm_plugins.tasks.common.detection import tiou_matrix
from videollm_plugins.tasks.dense_caption.dataset import ActivityNetCaptionsDataset
from videollm_plugins.tasks.dense_caption.metric import DenseCaptionMetric, localisation_scores

MARGIN = 15.0  # event-accuracy points the pipeline must gain over each control
MAX_DOUBLED = 5.0  # % of predicted captions allowed to repeat a word ("the the"): greedy decoding of a tiny LLM
UNIT = 2  # the example encoder's unit_size
DIM = 32  # the example encoder's in_dim


def _norm(text: str) -> str:
    return " ".join(text.lower().replace(".", " ").split())


def event_accuracy(results: dict[str, list[dict]], reference: dict[str, dict]) -> float:
    """Share (%) of reference events whose best-tIoU prediction overlaps by >= 0.5 and has exactly their caption."""
    hits = []
    for vid, ref in reference.items():
        preds = results.get(vid, [])
        for stamp, sentence in zip(ref["timestamps"], ref["sentences"]):
            if not preds:
                hits.append(False)
                continue
            ious = tiou_matrix([stamp], [p["timestamp"] for p in preds])[0]
            best = int(np.argmax(ious))
            hits.append(bool(ious[best] >= 0.5 and _norm(preds[best]["sentence"]) == _norm(sentence)))
    return 100.0 * float(np.mean(hits))


def doubled_word_share(results: dict[str, list[dict]]) -> float:
    """Share (%) of predicted captions that repeat a word twice in a row ("a person washes the the carrot")."""
    captions = [_norm(p["sentence"]).split() for preds in results.values() for p in preds]
    return 100.0 * float(np.mean([any(a == b for a, b in zip(w, w[1:])) for w in captions])) if captions else 0.0


def _event_features(sample: dict) -> list[np.ndarray]:
    """Mean of the steps whose centre lies in each target event of a dataset sample."""
    centres = sample["timestamps"].mean(-1)
    out = []
    for s, e in sample["targets"]["events"]:
        inside = (centres >= s) & (centres <= e)
        out.append(sample["features"][inside if inside.any() else [int(np.abs(centres - (s + e) / 2).argmin())]].mean(0))
    return out


def _baseline(root: Path, reference: dict[str, dict]) -> float:
    """Event accuracy of the context-free MLP captioning the ground-truth segments of ``val``."""
    train = ActivityNetCaptionsDataset([str(root / "train.json")], str(root / "features"), seconds_per_step=1.0, feature_dim=DIM)
    val = ActivityNetCaptionsDataset([str(root / "val_1.json")], str(root / "features"), seconds_per_step=1.0, feature_dim=DIM)
    samples = [train[i] for i in range(len(train))]
    texts = sorted({_norm(c) for s in samples for c in s["targets"]["captions"]})
    x = [np.stack(_event_features(s)) for s in samples]
    y = [np.array([texts.index(_norm(c)) for c in s["targets"]["captions"]]) for s in samples]
    predict = fit_step_baseline(x, y, num_classes=len(texts), hidden=64, seed=0)
    results = {}
    for i in range(len(val)):
        s = val[i]
        choice = predict(np.stack(_event_features(s))).argmax(-1)
        results[s["meta"]["video_id"]] = [{"timestamp": [float(a), float(b)], "sentence": texts[c]}
                                          for (a, b), c in zip(s["targets"]["events"], choice)]
    return event_accuracy(results, reference)


def _shuffled_copy(root: Path, dst: Path) -> Path:
    """The demo tree with the 2-step units of every video permuted (the reference files unchanged)."""
    shutil.copytree(root, dst)
    for path in sorted((dst / "features").glob("*.npy")):
        feats = np.load(path)
        np.save(path, np.ascontiguousarray(feats[unit_permutation(path.stem, len(feats), UNIT)]))
    return dst


@pytest.mark.slow
def test_flagship_example_captions_from_context(tmp_path, monkeypatch):
    monkeypatch.setenv("VIDEOLLM_CACHE", str(tmp_path / "cache"))
    scores, work, _ = train_example("dense_caption", tmp_path, monkeypatch)
    scores = {k.split("/")[-1]: v for k, v in scores.items()}
    assert set(DenseCaptionMetric.keys) <= set(scores)
    submission = json.loads((work / "predictions" / "dense_caption_val.json").read_text())
    assert submission["version"] == "VERSION 1.0"
    root = next((tmp_path / "cache" / "demo").glob("dense_caption-*"))
    refs = [json.loads((root / f"{n}.json").read_text()) for n in ("val_1", "val_2")]
    stutter = doubled_word_share(submission["results"])
    assert stutter <= MAX_DOUBLED, (stutter, MAX_DOUBLED)
    whole = {vid: [{"timestamp": [0.0, r["duration"]], "sentence": "x"}] for vid, r in refs[0].items()}
    assert max(localisation_scores(whole, refs, 0.5)) < 0.1
    assert scores["Recall"] >= 70.0 and scores["Precision"] >= 70.0, scores
    assert scores["SODA_c"] >= 60.0, scores
    if meteor_available():  # METEOR needs Java
        assert scores["METEOR"] >= 60.0, scores
    assert (work / "plots" / "dense_caption_predictions.png").is_file()

    pipeline = event_accuracy(submission["results"], refs[0])
    baseline = _baseline(root, refs[0])
    shuffled_root = _shuffled_copy(root, tmp_path / "shuffled")
    data = {"data.train.annotations": [str(shuffled_root / "train.json")],
            "data.val.annotations": [str(shuffled_root / "val_1.json"), str(shuffled_root / "val_2.json")],
            **{f"data.{s}.{k}": v for s in ("train", "val") for k, v in
               (("demo", None), ("features_dir", str(shuffled_root / "features")), ("seconds_per_step", 1.0))}}
    _, shuffled_work, _ = train_example("dense_caption", tmp_path, monkeypatch, work_name="work_shuffled", **data)
    shuffled_sub = json.loads((shuffled_work / "predictions" / "dense_caption_val.json").read_text())
    shuffled = event_accuracy(shuffled_sub["results"], refs[0])
    print(f"\ndense captioning event accuracy: pipeline {pipeline:.1f}, context-free event MLP on true segments {baseline:.1f}, "
          f"shuffled stream {shuffled:.1f} (margin {MARGIN}); doubled words in {stutter:.1f} % of captions; scores {scores}")
    assert pipeline >= baseline + MARGIN, (pipeline, baseline)
    assert pipeline >= shuffled + MARGIN, (pipeline, shuffled)

"""Online action detection end to end (issue 11): ``examples/oad.yaml`` trained through the Runner
on the EK100 demo, against two controls trained and evaluated on the same data with the same budget.

The demo (``plugins/tasks/common/ek100_demo_data.py``) shows a segment's verb only in its first
steps and its object afterwards, and every noun goes with every verb: at most foreground steps
the action is the verb seen earlier plus the object now. So

* the context-free control -- a logistic regression per action / verb / noun on the raw
  feature step -- knows the noun but must guess the verb;
* the shuffled control -- the same pipeline and budget on a copy whose feature steps are
  permuted inside each video, per-step labels moved with them -- keeps every step's content
  (a context-free model scores the same on it) but loses the order that ties a step to its cue.

The pipeline must beat both by :data:`MARGIN` points of per-frame mAP.
"""
from __future__ import annotations

import numpy as np

from controls import assert_beats_controls, ek100_overrides, evaluate_entries, fit_step_baseline, shuffled_ek100, train_example
from videollm_plugins.tasks.oad.dataset import EK100OADDataset
from videollm_plugins.tasks.oad.metric import OADMetric

DEMO = {"num_videos": 16, "seed": 0, "feature_dim": 32}
#: points of per-frame mAP by which the pipeline must beat each control.
MARGIN = 15.0
LABELS = ("action", "verb", "noun")


def _dataset(split: str, **paths: str) -> EK100OADDataset:
    """Whole videos of the demo split, or of the files in ``paths`` (annotations, features_dir)."""
    return EK100OADDataset(split=split, window=None, **(paths or {"demo": DEMO}))


def step_baseline_scores(train: EK100OADDataset, val: EK100OADDataset) -> dict[str, float]:
    """The context-free control: one logistic regression per label space on single steps, scored by the OAD metric."""
    heads = train.head_args()
    sizes = {"action": heads["num_classes"], "verb": heads["num_verbs"], "noun": heads["num_nouns"]}
    feats = [f for f, _ in train._videos.values()]
    predict = {k: fit_step_baseline(feats, [lab[k] for _, lab in train._videos.values()], num_classes=sizes[k]) for k in LABELS}
    entries = [{"video_id": vid, "first_step": 0, "fps": val.fps, **{k: p(f) for k, p in predict.items()}}
               for vid, (f, _) in val._videos.items()]
    return evaluate_entries(OADMetric(**val.metric_args()), entries, val.ground_truth())


def test_shuffled_copy_moves_labels_with_their_steps(tmp_path, monkeypatch):
    monkeypatch.setenv("VIDEOLLM_CACHE", str(tmp_path / "cache"))
    val = _dataset("validation")
    root = val.source.annotations.parents[1]
    perms = shuffled_ek100(root, tmp_path / "shuffled", fps=val.fps, move_labels=True)
    shuffled = _dataset("validation", annotations=str(tmp_path / "shuffled" / "rulstm_ek100" / "validation.csv"),
                       features_dir=str(tmp_path / "shuffled" / "features"))
    assert set(shuffled._videos) == set(val._videos)
    for vid, (feats, labels) in val._videos.items():
        perm, (feats2, labels2) = perms[vid], shuffled._videos[vid]
        assert not np.array_equal(perm, np.arange(len(perm)))
        assert np.array_equal(feats[perm], feats2)
        for key in LABELS:
            assert np.array_equal(labels[key][perm], labels2[key]), (vid, key)


def test_oad_beats_the_context_free_and_shuffled_controls(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    monkeypatch.setenv("VIDEOLLM_CACHE", str(cache))
    metrics, work, _ = train_example("oad", tmp_path, monkeypatch)
    written = sorted((work / "predictions").glob("oad_val*"))  # the score file (JSON or compact folder)
    assert len(written) == 1, written
    scores = OADMetric().load_predictions(written[0])
    assert scores.fps == 4.0
    video = scores[next(iter(scores))]
    assert video["action"].shape[1] == 41 and video["verb"].shape[1] == 11 and video["noun"].shape[1] == 5

    train, val = _dataset("training"), _dataset("validation")
    baseline = step_baseline_scores(train, val)

    shuffled_ek100(val.source.annotations.parents[1], tmp_path / "shuffled", fps=val.fps, move_labels=True)
    shuffled, _, _ = train_example("oad", tmp_path, monkeypatch, work_name="work_shuffled", **ek100_overrides(tmp_path / "shuffled"))

    print(f"\nOAD verb top-5 recall: pipeline {metrics['oad/verb/mean_top5_recall']:.1f}, baseline "
          f"{baseline['verb/mean_top5_recall']:.1f}, shuffled {shuffled['oad/verb/mean_top5_recall']:.1f}")
    assert_beats_controls("OAD per-frame mAP", metrics["oad/mAP"], baseline["mAP"], shuffled["oad/mAP"], MARGIN)
    # the object is in the step itself: every model names it
    assert min(metrics["oad/noun/mean_top5_recall"], baseline["noun/mean_top5_recall"]) > 90.0, (metrics, baseline)

"""Long-term anticipation end to end (issue 11): ``examples/lta.yaml`` trained through the Runner on
the Ego4D-LTA demo, against two controls trained and evaluated on the same data with the same budget.

In the demo (``plugins/tasks/lta/demo.py``) the recipes are different orders of the same
actions, so the current action is followed by a different action in every recipe; the two
observed actions together fix the recipe and so the next 20. Hence

* the context-free control -- a logistic regression from the last observed feature step to
  each of the Z future verbs / nouns, decoded into K candidates exactly as the head decodes
  (argmax, then samples) -- knows the current action but must guess the recipe;
* the shuffled control -- the same pipeline and budget on a copy whose feature steps are
  permuted inside each video (the future actions, targets of the whole window, stay) --
  observes steps of the same actions in no usable order.

ED@20 is lower-better: the pipeline must be below both by :data:`MARGIN` (action edit distance).
"""
from __future__ import annotations

import json

import numpy as np
import torch

from controls import assert_beats_controls, evaluate_entries, fit_step_baseline, shuffle_features, train_example
from videollm_plugins.tasks.lta.dataset import Ego4DLTADataset
from videollm_plugins.tasks.lta.head import LongTermAnticipationHead
from videollm_plugins.tasks.lta.metric import LTAMetric

#: edit distance (of 1.0 at worst) by which the pipeline must beat each control.
MARGIN = 0.3


def step_baseline_scores(train: Ego4DLTADataset, val: Ego4DLTADataset) -> dict[str, float]:
    """The context-free control: per future position, a logistic regression on the last observed step."""
    sizes = train.head_args()
    train_samples, val_samples = [train[i] for i in range(len(train))], [val[i] for i in range(len(val))]
    last = [np.asarray(s["features"][-1:]) for s in train_samples]
    head = LongTermAnticipationHead(1, **sizes)  # its K-candidate decoding, nothing learnt
    generator = torch.Generator().manual_seed(0)
    candidates = {}
    for key, num in (("verb", sizes["num_verbs"]), ("noun", sizes["num_nouns"])):
        predict = fit_step_baseline(last, [np.asarray(s["targets"][f"{key}s"]).reshape(1, -1) for s in train_samples], num_classes=num)
        probs = np.concatenate([predict(np.asarray(s["features"][-1:])) for s in val_samples])  # [B, Z, C]
        candidates[key] = head._candidates(torch.from_numpy(probs).clamp_min(1e-9).log(), generator)
    entries = [{"key": s["meta"]["key"], "verb": candidates["verb"][i].tolist(), "noun": candidates["noun"][i].tolist()}
               for i, s in enumerate(val_samples)]
    return evaluate_entries(LTAMetric(**val.metric_args()), entries, val.ground_truth())


def test_lta_beats_the_context_free_and_shuffled_controls(tmp_path, monkeypatch):
    monkeypatch.setenv("VIDEOLLM_CACHE", str(tmp_path / "cache"))
    metrics, work, runner = train_example("lta", tmp_path, monkeypatch)
    sub = json.loads((work / "predictions" / "lta_val.json").read_text())
    key, entry = next(iter(sub.items()))
    assert key.startswith("demo-clip-") and len(entry["verb"]) == 5 and all(len(s) == 20 for s in entry["noun"])

    data = runner.cfg["data"]
    args = {k: data["val"][k] for k in ("num_input_actions", "demo")}
    train, val = Ego4DLTADataset(split="train", **args), Ego4DLTADataset(split="val", **args)
    baseline = step_baseline_scores(train, val)

    shuffled = tmp_path / "shuffled"
    shuffle_features(val.annotations.parent, shuffled)
    paths = {f"data.{s}.{k}": str(v) for s in ("train", "val")
             for k, v in (("annotations", shuffled / f"fho_lta_{s}.json"), ("features_dir", shuffled / "features"))}
    shuffled_metrics, _, _ = train_example("lta", tmp_path, monkeypatch, work_name="work_shuffled", **paths)

    print(f"\nLTA ED@20/verb: pipeline {metrics['lta/ED@20/verb']:.3f}, baseline {baseline['ED@20/verb']:.3f}, "
          f"shuffled {shuffled_metrics['lta/ED@20/verb']:.3f}")
    assert_beats_controls("LTA ED@20/action", metrics["lta/ED@20/action"], baseline["ED@20/action"],
                          shuffled_metrics["lta/ED@20/action"], MARGIN, lower_is_better=True)

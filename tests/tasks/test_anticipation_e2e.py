"""Action anticipation end to end (issue 11): ``examples/anticipation.yaml`` trained through the
Runner on the EK100 demo, against two controls trained and evaluated on the same data with the
same budget.

In the demo (``plugins/tasks/common/ek100_demo_data.py``) the next action follows the previous one
through a fixed successor (probability 0.9), and the previous action is its verb -- shown only
in its first steps -- plus its object, shown afterwards. The last step observed ``tau_a`` = 1 s
before a segment lies in the previous segment's object phase, so

* the context-free control -- a logistic regression per verb / noun / action on that last
  observed feature step alone -- knows the previous object but not the previous verb, so it
  must spread its top-5 over the successors of all ``num_verbs`` actions with that object;
* the shuffled control -- the same pipeline and budget on a copy whose feature steps are
  permuted inside each video (the segments, i.e. the targets, stay) -- observes the same
  kind of steps but no longer the ones just before the segment.

The pipeline must beat both by :data:`MARGIN` points of action class-mean top-5 recall. Nouns
cannot separate them: the demo has 4 objects, so every top-5 holds the right one (100).
"""
from __future__ import annotations

import json

import numpy as np

from controls import assert_beats_controls, ek100_overrides, evaluate_entries, fit_step_baseline, shuffled_ek100, train_example
from videollm_plugins.tasks.anticipation.dataset import EK100AnticipationDataset
from videollm_plugins.tasks.anticipation.metric import AnticipationMetric

#: points of action class-mean top-5 recall by which the pipeline must beat each control.
MARGIN = 15.0
KEYS = ("verb", "noun", "action")


def step_baseline_scores(train: EK100AnticipationDataset, val: EK100AnticipationDataset) -> dict[str, float]:
    """The context-free control: one logistic regression per label space from the last observed step."""
    def last_steps(ds: EK100AnticipationDataset) -> list[dict]:
        return [s for s in (ds[i] for i in range(len(ds))) if s["meta"]["observed"]]

    seen, sizes = last_steps(train), train.head_args()
    predict = {k: fit_step_baseline([s["features"][-1:] for s in seen], [np.reshape(s["targets"][k], 1) for s in seen],
                                    num_classes=sizes[f"num_{k}s"]) for k in KEYS}
    entries = []
    for i in range(len(val)):
        s = val[i]
        probs = {k: p(s["features"][-1:])[0] * float(s["meta"]["observed"]) for k, p in predict.items()}  # unobserved: zeros, as the head
        entries.append({"narration_id": s["meta"]["narration_id"], "video_id": s["meta"]["video_id"], **probs})
    return evaluate_entries(AnticipationMetric(**val.metric_args()), entries, val.ground_truth())


def test_anticipation_beats_the_context_free_and_shuffled_controls(tmp_path, monkeypatch):
    monkeypatch.setenv("VIDEOLLM_CACHE", str(tmp_path / "cache"))
    metrics, work, runner = train_example("anticipation", tmp_path, monkeypatch)
    sub = json.loads((work / "predictions" / "anticipation_val.json").read_text())
    assert sub["version"] == "0.2" and sub["challenge"] == "action_anticipation" and {"sls_pt", "sls_tl", "sls_td"} <= set(sub)
    entry = next(iter(sub["results"].values()))
    assert len(entry["verb"]) == 10 and len(entry["noun"]) == 4 and 1 <= len(entry["action"]) <= 100

    data = runner.cfg["data"]
    args = {k: data["val"][k] for k in ("tau_a", "observation", "demo")}
    train = EK100AnticipationDataset(split="training", **args)
    val = EK100AnticipationDataset(split="validation", **args)
    baseline = step_baseline_scores(train, val)

    shuffled_ek100(val.source.annotations.parents[1], tmp_path / "shuffled", fps=val.source.fps, move_labels=False)
    shuffled, _, _ = train_example("anticipation", tmp_path, monkeypatch, work_name="work_shuffled", **ek100_overrides(tmp_path / "shuffled"))

    print(f"\nanticipation verb top-5 recall: pipeline {metrics['anticipation/verb/overall']:.1f}, baseline "
          f"{baseline['verb/overall']:.1f}, shuffled {shuffled['anticipation/verb/overall']:.1f}")
    assert_beats_controls("anticipation action top-5 recall", metrics["anticipation/action/overall"], baseline["action/overall"],
                          shuffled["anticipation/action/overall"], MARGIN)

"""The paper's RQ3 on the demo data (issue 22): ``examples/multitask.yaml`` trains ONE LLM for online
action detection (32-d features) and QVHighlights (48-d features, each task with its own encoder and
translator); every task must stay within 10 % of the same task trained alone and beat its control.

Per task the test prints three numbers, the multitask model, the task alone and the control:

* OAD, action top-5 recall (the paper's OAD number): alone = ``examples/oad.yaml``; control = the
  context-free per-step logistic regression of ``tests/tasks/test_oad_e2e.py``.
* QVHighlights, MR-full-mAP: alone = ``examples/qvhighlights.yaml`` on the same 48-d demo; control =
  the multitask model with every val query swapped for another video's (it cannot ground the query).
"""
from __future__ import annotations

import pytest
import torch

from controls import evaluate_entries, train_example
from test_oad_e2e import _dataset, step_baseline_scores
from videollm_plugins.tasks.qvhighlights.dataset import QVHighlightsDataset
from videollm_plugins.tasks.qvhighlights.metric import QVHighlightsMetric

#: the multitask result must reach this fraction of the single-task one.
WITHIN = 0.9
#: points by which each task must beat its control.
MARGIN = {"oad": 10.0, "qvhighlights": 15.0}
QVH_48 = {f"data.{s}.demo.feature_dim": 48 for s in ("train", "val")}


def query_swapped_score(pipeline, demo: dict) -> float:
    """MR-full-mAP of ``pipeline``'s qvhighlights task with every val query replaced by the next one's."""
    val = QVHighlightsDataset(split="val", demo=demo)
    texts = [r["query"] for r in val.rows]
    val.rows = [dict(r, query=texts[(i + 1) % len(texts)]) for i, r in enumerate(val.rows)]
    entries = []
    pipeline.eval()
    with torch.no_grad():
        for s in range(0, len(val), 16):
            batch = val.collate([val[i] for i in range(s, min(len(val), s + 16))])
            entries += pipeline.predict(pipeline(batch, task="qvhighlights"), batch, task="qvhighlights")
    return evaluate_entries(QVHighlightsMetric(), entries, QVHighlightsDataset(split="val", demo=demo).ground_truth())["MR-full-mAP"]


@pytest.mark.slow
def test_one_llm_for_two_widths_stays_within_ten_percent_of_each_task_alone(tmp_path, monkeypatch):
    multi, _, runner = train_example("multitask", tmp_path, monkeypatch, work_name="multi")
    oad_alone, _, _ = train_example("oad", tmp_path, monkeypatch, work_name="oad")
    qvh_alone, _, _ = train_example("qvhighlights", tmp_path, monkeypatch, work_name="qvh", **QVH_48, **{"model.encoder.in_dim": 48})
    demo = dict(runner.cfg["tasks"][1]["data"]["val"]["demo"])
    results = {
        "oad": ("action top-5 recall", multi["oad/action/mean_top5_recall"], oad_alone["oad/action/mean_top5_recall"],
                step_baseline_scores(_dataset("training"), _dataset("validation"))["action/mean_top5_recall"]),
        "qvhighlights": ("MR-full-mAP", multi["qvhighlights/MR-full-mAP"], qvh_alone["qvhighlights/MR-full-mAP"],
                         query_swapped_score(runner.pipeline, demo)),
    }
    for task, (metric, together, alone, control) in results.items():
        print(f"\n{task} {metric}: multitask {together:.1f}, alone {alone:.1f}, control {control:.1f}")
    for task, (metric, together, alone, control) in results.items():
        assert together >= WITHIN * alone, (task, together, alone)
        assert together >= control + MARGIN[task], (task, together, control)

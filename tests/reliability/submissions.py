"""Valid submissions of every task, made from its demo data's ground truth (the ground truth
written as predictions): the seeds of the garbage and fuzz tests of the predictions readers."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from videollm_core.cli.commands import main

GT_KEY = {"moment_query": "annotation_file", "nlq": "annotation_file", "qvhighlights": "annotation_file"}




def demo_ground_truth(task: str, out: Path, cache: Path) -> str:
    """Write ``task``'s demo data into ``out`` (demo cache ``cache``); the ``--ground-truth``
    argument of its validation split."""
    from videollm_core.plugins import preserved_plugin_state

    with pytest.MonkeyPatch.context() as mp, preserved_plugin_state():
        mp.setenv("VIDEOLLM_CACHE", str(cache))
        assert main(["demo-data", task, "--out", str(out)]) == 0
    val = yaml.safe_load((out / "config.yaml").read_text())["data"]["val"]
    if task == "action_segmentation":
        return str(Path(val["data_root"]) / "splits" / f"test.split{val.get('split_index', 1)}.bundle")
    gt = val[GT_KEY.get(task, "annotations")]
    return ",".join(gt) if isinstance(gt, list) else gt


def metric_of(task: str):
    """The task's metric with its default options."""
    from videollm_core.plugins import REGISTRIES

    return REGISTRIES.metrics.build({"type": task}, where="test")


def valid(task: str, gt: str) -> Any:
    """The submission object that predicts ``gt`` exactly."""
    truth = metric_of(task).load_ground_truth(gt)
    if task == "moment_query":
        return {"version": "VERSION 1.3", "external_data": {}, "results": {
            v: [{"label": a["label"], "segment": a["segment"], "score": 1.0} for a in d["annotations"]] for v, d in truth.items()}}
    if task == "nlq":
        return {"version": "1.0", "challenge": "ego4d_nlq_challenge", "results": [
            {"clip_uid": k[0], "annotation_uid": k[1], "query_idx": k[2], "predicted_times": [q["window"]]} for k, q in truth.items()]}
    if task == "qvhighlights":
        rows = []
        for g in truth:
            sal = np.zeros(int(g["duration"] / 2))
            sal[g["relevant_clip_ids"]] = np.asarray(g["saliency_scores"]).mean(1)
            rows.append({"qid": g["qid"], "pred_relevant_windows": [[*w, 1.0] for w in g["relevant_windows"]], "pred_saliency_scores": sal.tolist()})
        return rows
    if task == "dense_caption":
        return {"version": "VERSION 1.0", "external_data": {"used": False}, "results": {
            v: [{"timestamp": t, "sentence": s} for t, s in zip(e["timestamps"], e["sentences"])] for v, e in truth[0].items()}}
    if task == "online_caption":
        return {"version": "1.0", "results": [{"narration_id": k, "caption": refs[0]} for k, refs in truth.items()]}
    if task == "lta":
        return {k: {"verb": [g["verb"]] * 5, "noun": [g["noun"]] * 5} for k, g in truth.items()}
    if task == "anticipation":
        nv, nn = (int(max(truth.actions[:, c].max(), *(getattr(s, h) for s in truth.segments))) + 1 for c, h in ((0, "verb"), (1, "noun")))
        hot = lambda n, c: {str(i): float(i == c) for i in range(n)}  # noqa: E731
        return {"version": "0.2", "challenge": "action_anticipation", "sls_pt": 0, "sls_tl": 3, "sls_td": 3,
                "results": {s.narration_id: {"verb": hot(nv, s.verb), "noun": hot(nn, s.noun)} for s in truth.segments}}
    if task == "oad":
        n = truth.num_classes["action"]
        return {"version": "1.0", "fps": truth.fps, "results": {
            v: {"action": np.eye(n)[np.where(lab["action"] < 0, 0, lab["action"])].tolist()} for v, lab in truth.labels.items()}}
    return truth  # action_segmentation: {video: frame labels}


def write(task: str, sub: Any, path: Path) -> Path:
    """``sub`` in the task's file format at ``path`` (NaN and infinities as Python's json writes them)."""
    if task == "qvhighlights":
        path.write_text("".join(json.dumps(r) + "\n" for r in sub))
    elif task == "action_segmentation":
        path.mkdir()
        for name, labels in sub.items():  # None: the header line only
            (path / name).write_text("### Frame level recognition: ###" + ("" if labels is None else "\n" + " ".join(labels)))
    else:
        path.write_text(json.dumps(sub))
    return path



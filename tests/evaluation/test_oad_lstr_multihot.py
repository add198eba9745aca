"""OAD per-frame mAP as LSTR's ``perframe_average_precision`` computes it: every class scored
over its column of the multi-hot per-frame target after THUMOS's Ambiguous frames are dropped,
checked through ``videollm evaluate oad`` against scikit-learn on an LSTR THUMOS folder with
overlapping actions; and the compact float16 score folder scores what its values score."""
from __future__ import annotations

import json
import os
import subprocess

import numpy as np
import pytest

from videollm_plugins.tasks.common.ek100 import EK100Segment, frame_positives
from videollm_plugins.tasks.oad.metric import OADMetric, per_frame_map
from videollm_plugins.tasks.oad.formats import ScoreWriter, open_scores
from shared_paths import SHARED_DATA, needs_shared_data

sklearn_metrics = pytest.importorskip("sklearn.metrics")  # in the test extra
INFO = SHARED_DATA / "online_action_detection" / "testra_data_info.json"
AMBIGUOUS = 21


def lstr_folder(tmp_path, rng):
    """A THUMOS folder (real data_info.json, 3 test videos) whose targets overlap and hold Ambiguous frames."""
    info = json.loads(INFO.read_text())
    vids = info["THUMOS"]["test_session_set"][:3]
    info["THUMOS"]["test_session_set"] = vids
    (tmp_path / "data_info.json").write_text(json.dumps(info))
    root = tmp_path / "THUMOS"
    (root / "target_perframe").mkdir(parents=True)
    targets, scores = {}, {}
    for i, v in enumerate(vids):
        t = 60 + 10 * i
        target = np.zeros((t, 22), np.float32)
        target[:, 0] = 1
        for c, a, b in ((3, 5, 30), (7, 20, 45), (12, 40, 50), (3 + i, 50, 58)):  # 3 & 7 overlap on 20-29, 7 & 12 on 40-44
            target[a:b, c], target[a:b, 0] = 1, 0
        target[55:57, AMBIGUOUS] = 1  # Ambiguous frames: dropped (one also a positive of class 3 + i)
        np.save(root / "target_perframe" / f"{v}.npy", target)
        logits = rng.normal(size=(t, 22)) + 2.5 * target
        scores[v] = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
        targets[v] = target
    return root, vids, targets, scores


def sklearn_reference(vids, targets, scores) -> float:
    """LSTR: concatenate frames, drop Ambiguous ones, AP per class (not background / Ambiguous) with a positive."""
    gt = np.concatenate([targets[v] for v in vids])
    pred = np.concatenate([scores[v] for v in vids])
    keep = gt[:, AMBIGUOUS] == 0
    gt, pred = gt[keep], pred[keep]
    aps = [sklearn_metrics.average_precision_score(gt[:, c], pred[:, c]) for c in range(22)
           if c not in (0, AMBIGUOUS) and gt[:, c].any()]
    return 100.0 * float(np.mean(aps))


@needs_shared_data("online_action_detection/testra_data_info.json")
def test_cli_on_lstr_folder_equals_sklearn_per_column(tmp_path):
    root, vids, targets, scores = lstr_folder(tmp_path, np.random.default_rng(0))
    preds = tmp_path / "scores.json"
    preds.write_text(json.dumps({"version": "1.0", "challenge": "online_action_detection", "fps": 4.0,
                                 "results": {v: {"action": scores[v].tolist()} for v in vids}}))
    out = subprocess.run(["videollm", "evaluate", "oad", "--ground-truth", str(root), "--predictions", str(preds), "--json"],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout)["mAP"]
    reference = sklearn_reference(vids, targets, scores)
    assert got == pytest.approx(reference, abs=1e-9)
    # the argmax reduction (one label per frame) scores something else on these overlaps
    gt = np.concatenate([targets[v] for v in vids])
    keep = gt[:, AMBIGUOUS] == 0
    argmax = 100.0 * per_frame_map(np.concatenate([scores[v] for v in vids])[keep], gt[keep].argmax(1))
    assert abs(argmax - reference) > 1.0

    # the compact float16 folder written by the runner's writer scores its (rounded) values the same way
    folder = tmp_path / "oad_test"
    writer = ScoreWriter(folder, fps=4.0)
    for v in vids:  # windows of 16 frames, arriving out of order, each video stored once complete
        windows = [(a, scores[v][a : a + 16]) for a in range(0, len(scores[v]), 16)]
        for a, part in reversed(windows):
            writer.write([{"video_id": v, "first_step": a, "num_steps": len(scores[v]), "fps": 4.0, "action": part}])
        assert (folder.parent / f"{folder.name}.partial-{os.getpid()}" / f"{v}.npz").is_file()
    writer.close()
    assert sorted(p.name for p in folder.iterdir()) == sorted(["index.json"] + [f"{v}.npz" for v in vids])
    assert open_scores(folder)[vids[0]]["action"].dtype == np.float16
    out = subprocess.run(["videollm", "evaluate", "oad", "--ground-truth", str(root), "--predictions", str(folder), "--json"],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    rounded = {v: scores[v].astype(np.float16).astype(np.float64) for v in vids}
    assert json.loads(out.stdout)["mAP"] == pytest.approx(sklearn_reference(vids, targets, rounded), abs=1e-9)


def test_ek100_overlapping_segments_are_positives_of_both():
    segs = [EK100Segment("a", "v", 30, 60, 2, 5, 7), EK100Segment("b", "v", 45, 90, 1, 9, 3)]  # steps 4-8 and 6-12
    pos = frame_positives(segs, 14, 4.0)
    assert sorted(pos[pos[:, 0] == 7, 1].tolist()) == [4, 8]  # step 7: actions 3 and 7 (+1 for background)
    from videollm_plugins.tasks.oad.formats import ek100_ground_truth

    gt = ek100_ground_truth(segs, np.array([[0, 0]] * 8), 4.0, 3, 10, num_steps={"v": 14})
    rng = np.random.default_rng(1)
    s = rng.random((14, 9))
    got = OADMetric().evaluate({"fps": 4.0, "results": {"v": {"action": s.tolist()}}}, gt)["mAP"]
    target = np.zeros((14, 9))
    target[pos[:, 0], pos[:, 1]] = 1
    ref = np.mean([sklearn_metrics.average_precision_score(target[:, c], s[:, c]) for c in (4, 8)])
    assert got == pytest.approx(100 * ref)


def test_writer_json_form_equals_format_predictions(tmp_path):
    rng = np.random.default_rng(2)
    entries = [{"video_id": v, "first_step": a, "fps": 4.0, "action": rng.random((4, 3)).astype(np.float32)}
               for v in ("x", "y") for a in (4, 0)]
    writer = ScoreWriter(tmp_path / "p.json", fps=4.0, compact=False)
    writer.write(entries)
    read = writer.close()
    formatted = OADMetric().format_predictions(entries)
    assert json.loads((tmp_path / "p.json").read_text())["fps"] == 4.0 and set(read) == {"x", "y"}
    for v in ("x", "y"):
        assert np.allclose(read[v]["action"], np.asarray(formatted["results"][v]["action"]), rtol=0, atol=1e-7)

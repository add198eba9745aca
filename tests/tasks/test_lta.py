"""Ego4D LTA: ED@20 (hand-computed, K x Z checks), the official schema reader and windows
(with fixtures in the Ego4D schema), the head's K candidates, the CLI."""
from __future__ import annotations

import json
import subprocess

import numpy as np
import pytest
import torch

from videollm_core.base import DataErrors
from videollm_core.errors import DataError
from videollm_core.types import StreamInputs, TokenSequence
from videollm_plugins.tasks.lta import formats
from videollm_plugins.tasks.lta.dataset import Ego4DLTADataset
from videollm_plugins.tasks.lta.head import LongTermAnticipationHead
from videollm_plugins.tasks.lta.metric import LTAMetric, edit_distance_at_z


def test_edit_distance_is_plain_levenshtein_min_over_k():
    gt = [1, 2, 3, 4]
    assert edit_distance_at_z([[2, 1, 3, 4]], gt) == pytest.approx(2 / 4)  # a transposition costs 2 (no Damerau)
    assert edit_distance_at_z([[9, 9, 9, 9], [1, 2, 3, 9]], gt) == pytest.approx(1 / 4)  # best of K
    assert edit_distance_at_z([[(1, 1), (2, 2)]], [(1, 1), (2, 3)]) == pytest.approx(1 / 2)  # pairs: both must match


def fixture_clips(n_actions=25, clip="c1", verbs=None):
    verbs = verbs or [i % 3 for i in range(n_actions)]
    return {"clips": [{"clip_uid": clip, "video_uid": "vid1", "clip_idx": 0, "action_idx": i, "clip_parent_start_sec": 10.0,
                       "action_clip_start_sec": 2.0 * i, "action_clip_end_sec": 2.0 * i + 1.5, "verb": "v", "noun": "n",
                       "verb_label": verbs[i], "noun_label": (i * 7) % 5} for i in reversed(range(n_actions))]}  # unsorted on purpose


def test_metric_hand_computed_and_keys(tmp_path):
    (tmp_path / "gt.json").write_text(json.dumps(fixture_clips(23)))
    m = LTAMetric(num_input_actions=2)
    gt = m.load_ground_truth(tmp_path / "gt.json")
    assert list(gt) == ["c1_1", "c1_2"]  # 23 actions: windows end at action 1 and 2 (N=2, Z=20)
    fut = gt["c1_1"]
    assert fut["verb"] == [i % 3 for i in range(2, 22)]
    perfect = {"verb": [fut["verb"]] * 5, "noun": [fut["noun"]] * 5}
    other = gt["c1_2"]
    wrong_noun = {"verb": [other["verb"]] * 5, "noun": [[4] * 20] * 5}
    out = m.evaluate({"c1_1": perfect, "c1_2": wrong_noun}, gt)
    assert list(out) == ["ED@20/verb", "ED@20/noun", "ED@20/action"]
    noun_ed = edit_distance_at_z([[4] * 20], other["noun"])
    assert out["ED@20/verb"] == 0.0 and out["ED@20/noun"] == pytest.approx(noun_ed / 2)
    assert noun_ed > 0 and out["ED@20/action"] == pytest.approx(noun_ed / 2)  # verbs right: action ED = noun ED here
    with pytest.raises(DataError, match="5 lists of 20"):
        m.evaluate({"c1_1": perfect, "c1_2": {"verb": [other["verb"]] * 4, "noun": [other["noun"]] * 5}}, gt)
    with pytest.raises(DataError, match="5 lists of 20"):
        m.evaluate({"c1_1": perfect, "c1_2": {"verb": [other["verb"][:19]] * 5, "noun": [other["noun"]] * 5}}, gt)
    with pytest.raises(DataError, match="no prediction"):
        m.evaluate({"c1_1": perfect}, gt)
    assert np.isnan(m.evaluate({}, {})["ED@20/verb"])


def test_schema_windows_and_quirks(tmp_path):
    clips = fixture_clips(22)
    clips["clips"].append({**clips["clips"][0], "clip_uid": "short", "action_idx": 0})  # a clip too short for N+Z: no sample
    (tmp_path / "a.json").write_text(json.dumps(clips))
    parsed = formats.read_annotations(tmp_path / "a.json")
    assert [a.action_idx for a in parsed["c1"]] == list(range(22))  # sorted by action_idx
    assert parsed["c1"][3].start == pytest.approx(16.0)  # clip_parent_start_sec + action_clip_start_sec
    ws = formats.windows(parsed, 2, 20)
    assert [w.key for w in ws] == ["c1_1"]
    test_ws = formats.windows(parsed, 2, 20, need_future=False)
    assert len(test_ws) == 21 + 0 and test_ws[0].future_verbs == []
    bad = fixture_clips(3)
    bad["clips"][0]["action_clip_start_sec"] = 99.0
    del bad["clips"][1]["video_uid"]
    (tmp_path / "b.json").write_text(json.dumps(bad))
    with pytest.raises(DataError, match="clips\\[0\\]"):
        formats.read_annotations(tmp_path / "b.json")
    errors = DataErrors("skip")
    assert len(formats.read_annotations(tmp_path / "b.json", errors)["c1"]) == 1 and len(errors.skipped) == 2


def test_dataset_on_fixtures_checks_features(tmp_path):
    (tmp_path / "fho_lta_val.json").write_text(json.dumps(fixture_clips(24)))
    (tmp_path / "fho_lta_taxonomy.json").write_text(json.dumps({"verbs": ["a", "b", "c"], "nouns": list("vwxyz")}))
    (tmp_path / "f").mkdir()
    np.save(tmp_path / "f" / "vid1.npy", np.zeros((150, 4), np.float32))  # 75 s at 2 steps/s
    ds = Ego4DLTADataset(annotations=str(tmp_path / "fho_lta_val.json"), features_dir=str(tmp_path / "f"), fps=2.0, feature_dim=4)
    assert len(ds) == 3 and ds.head_args() == {"num_verbs": 3, "num_nouns": 5, "z": 20}
    s = ds[0]  # observed actions 0 and 1: 10.0-11.5 s and 12.0-13.5 s -> steps 20..26
    assert s["meta"]["key"] == "c1_1" and s["timestamps"][0, 0] == 10.0 and s["timestamps"][-1, 1] == 13.5
    batch = ds.collate([ds[i] for i in range(3)])
    assert batch.targets["verbs"].shape == (3, 20)
    with pytest.raises(DataError, match="does not match"):
        Ego4DLTADataset(annotations=str(tmp_path / "fho_lta_val.json"), features_dir=str(tmp_path / "f"), feature_dim=8)
    (tmp_path / "fho_lta_taxonomy.json").write_text(json.dumps({"verbs": ["a", "b"], "nouns": list("vwxyz")}))
    with pytest.raises(DataError, match="taxonomy"):
        Ego4DLTADataset(annotations=str(tmp_path / "fho_lta_val.json"), features_dir=str(tmp_path / "f"))


def test_head_candidates_argmax_first_and_deterministic():
    ds = Ego4DLTADataset(demo={"num_clips": 6, "seed": 1}, split="val")
    batch = ds.collate([ds[i] for i in range(3)])
    torch.manual_seed(0)
    head = LongTermAnticipationHead(8, **ds.head_args())
    b, t = batch.mask.shape
    vis = TokenSequence(torch.zeros(b, t, 8), batch.mask, batch.timestamps)
    stream = StreamInputs(vis, vis.embeds, batch.mask, torch.zeros(b, t, dtype=torch.long))
    out = head(torch.randn(b, t, 8), batch, stream)
    assert out["verb"].shape == (3, 20, ds.head_args()["num_verbs"]) and torch.isfinite(head.loss(out, batch)["loss"])
    e1, e2 = head.predict(out, batch), head.predict(out, batch)
    assert e1 == e2 and len(e1[0]["verb"]) == 5 and len(e1[0]["verb"][0]) == 20
    assert e1[0]["verb"][0] == out["verb"][0].argmax(-1).tolist()
    sub = LTAMetric().format_predictions(e1)
    assert set(sub) == {e["key"] for e in e1}


def test_cli_evaluate_json(tmp_path):
    (tmp_path / "gt.json").write_text(json.dumps(fixture_clips(22)))
    fut = [i % 3 for i in range(2, 22)]
    (tmp_path / "p.json").write_text(json.dumps({"c1_1": {"verb": [fut] * 5, "noun": [[0] * 20] * 5}}))
    out = subprocess.run(["videollm", "evaluate", "lta", "--ground-truth", str(tmp_path / "gt.json"), "--predictions",
                          str(tmp_path / "p.json"), "--json"], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout)
    assert list(got) == ["ED@20/verb", "ED@20/noun", "ED@20/action"] and got["ED@20/verb"] == 0.0

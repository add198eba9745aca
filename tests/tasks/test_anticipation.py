"""EK100 action anticipation: metric (hand-computed, official format, derived actions,
splits), dataset on the real RULSTM/official files, head on random hidden states."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from videollm_core.errors import DataError
from videollm_core.types import StreamInputs, TokenSequence
from videollm_plugins.tasks.anticipation.dataset import EK100AnticipationDataset
from videollm_plugins.tasks.anticipation.head import ActionAnticipationHead
from videollm_plugins.tasks.anticipation.formats import EK100GroundTruth, derive_action_scores
from videollm_plugins.tasks.anticipation.metric import AnticipationMetric
from videollm_plugins.tasks.common.ek100 import EK100Segment, EK100Splits
from shared_paths import SHARED_DATA, needs_shared_data

EK100 = SHARED_DATA / "epic_kitchens_100"


def seg(nid, vid, verb, noun, action=0):
    return EK100Segment(nid, vid, 31, 90, verb, noun, action)


def sub(results):
    return {"version": "0.2", "challenge": "action_anticipation", "results": results}


def scores(n, top):
    """Scores over n classes ranking ``top`` first (descending), the rest 0."""
    return {str(i): (float(len(top) - top.index(i)) if i in top else 0.0) for i in range(n)}


def test_hand_computed_recall_and_splits():
    gt = EK100GroundTruth(
        [seg("a", "P01_01", 0, 0), seg("b", "P01_01", 0, 1), seg("c", "P18_01", 1, 1), seg("d", "P18_01", 6, 2)],
        np.array([[0, 0], [0, 1], [1, 1], [6, 2]]), EK100Splits({6}, {2}, {"P18"}, True))
    # verb top-5: a hit (0 first), b miss (0 ranked 6th), c hit, d hit
    preds = sub({
        "a": {"verb": scores(8, [0]), "noun": scores(8, [1, 2, 3, 4, 5]), "action": {"0,0": 0.9}},
        "b": {"verb": scores(8, [1, 2, 3, 4, 5, 0]), "noun": scores(8, [1]), "action": {"0,1": 0.1, "1,1": 0.5}},
        "c": {"verb": scores(8, [1]), "noun": scores(8, [0]), "action": {"1,1": 0.5}},
        "d": {"verb": scores(8, [6]), "noun": scores(8, [2]), "action": {"1,1": 0.5}},
    })
    out = AnticipationMetric().evaluate(preds, gt)
    assert list(out) == list(AnticipationMetric.keys)
    assert out["verb/overall"] == pytest.approx(100 * (0.5 + 1 + 1) / 3)  # verb 0: 1/2, verb 1: 1, verb 6: 1
    assert out["noun/overall"] == pytest.approx(100 * (0 + 1 + 1) / 3)  # noun 0: a missed (top-5 = 1..5); nouns 1, 2: hits (ties rank by id)
    assert out["action/overall"] == pytest.approx(100 * (1 + 1 + 1 + 0) / 4)  # d's action 6,2 not among the pairs
    assert out["verb/unseen"] == pytest.approx(100.0) and out["noun/unseen"] == pytest.approx(100.0)
    assert out["verb/tail"] == pytest.approx(100.0) and out["noun/tail"] == pytest.approx(100.0)
    assert out["action/tail"] == pytest.approx(0.0)  # only d (tail verb 6 / tail noun 2), its action missed


def test_ties_absent_classes_and_missing_segment():
    gt = EK100GroundTruth([seg("a", "P01_01", 3, 0)], np.array([[3, 0]]))
    tied = {str(i): 1.0 for i in range(10)}  # all tied: stable order keeps ids 0..4 -> verb 3 in, verb 7 would be out
    out = AnticipationMetric().evaluate(sub({"a": {"verb": tied, "noun": tied}}), gt)
    assert out["verb/overall"] == 100.0
    assert np.isnan(out["verb/unseen"]) and np.isnan(out["action/tail"])  # empty subsets: NaN, not 0
    gt7 = EK100GroundTruth([seg("a", "P01_01", 7, 0)], np.array([[7, 0]]))
    assert AnticipationMetric().evaluate(sub({"a": {"verb": tied, "noun": tied}}), gt7)["verb/overall"] == 0.0
    with pytest.raises(DataError, match="no prediction"):
        AnticipationMetric().evaluate(sub({}), gt)


def test_derived_actions_follow_the_official_rule():
    verb, noun = {"0": 2.0, "1": 1.0, "2": 0.0}, {"0": 0.0, "1": 3.0}
    acts = derive_action_scores(verb, noun, n=100)
    assert len(acts) == 6 and list(acts)[0] == "0,1"  # best verb x best noun first
    pv, pn = np.exp([2.0, 1.0, 0.0]) / np.exp([2.0, 1.0, 0.0]).sum(), np.exp([0.0, 3.0]) / np.exp([0.0, 3.0]).sum()
    assert acts["2,0"] == pytest.approx(pv[2] * pn[0])
    assert len(derive_action_scores({str(i): float(i) for i in range(200)}, {str(i): float(i) for i in range(300)})) == 100


def test_submission_format_round_trip(tmp_path):
    actions = tmp_path / "actions.csv"
    actions.write_text("id,verb,noun,action\n0,0,0,take tap\n1,1,2,put cup\n2,0,2,take cup\n")
    m = AnticipationMetric(actions=str(actions), sls_pt=1)
    sub_ = m.format_predictions([{"narration_id": "P01_11_0", "verb": np.array([0.1, 0.9]), "noun": np.array([0.2, 0.3, 0.5]),
                                  "action": np.array([0.2, 0.7, 0.1])}])
    assert sub_["version"] == "0.2" and sub_["challenge"] == "action_anticipation" and sub_["sls_pt"] == 1
    r = sub_["results"]["P01_11_0"]
    assert list(r["action"]) == ["1,2", "0,0", "0,2"] and set(r["verb"]) == {"0", "1"} and len(r["noun"]) == 3
    m.save_predictions(sub_, tmp_path / "p.json")
    assert m.load_predictions(tmp_path / "p.json") == json.loads(json.dumps(sub_))
    (tmp_path / "bad.json").write_text("[1, 2]")
    with pytest.raises(DataError):
        m.load_predictions(tmp_path / "bad.json")


@pytest.fixture(scope="module")
def ek100_val(tmp_path_factory):
    """Features [T, 4] at 4 steps/s for every real validation video, T from EPIC_100_video_info.csv."""
    feats = tmp_path_factory.mktemp("ek100_features")
    info = {r["video_id"]: float(r["duration"]) for r in csv.DictReader(open(EK100 / "official" / "EPIC_100_video_info.csv"))}
    vids = [line.strip() for line in open(EK100 / "rulstm_ek100" / "validation_videos.csv") if line.strip()]
    rng = np.random.default_rng(0)
    for v in vids:
        np.save(feats / f"{v}.npy", rng.normal(size=(int(np.ceil(info[v] * 4)), 4)).astype(np.float32))
    return feats


@needs_shared_data("epic_kitchens_100/official", "epic_kitchens_100/rulstm_ek100")
def test_real_validation_files_load_and_write_official_format(ek100_val, tmp_path):
    ds = EK100AnticipationDataset(annotations=str(EK100 / "rulstm_ek100" / "validation.csv"), features_dir=str(ek100_val),
                                  feature_dim=4, split="validation")
    assert len(ds) == 9668 and ds.skipped == []  # every real row is consistent with actions.csv and the official tables
    assert ds.head_args() == {"num_verbs": 97, "num_nouns": 300, "num_actions": 3806}
    gt = ds.ground_truth()
    assert gt.splits.unseen_participants == {"P18", "P32"} and len(gt.splits.tail_verbs) == 86 and len(gt.splits.tail_nouns) == 228
    first = ds[0]  # P01_11_0 starts at frame 1: nothing observed 1 s before -> placeholder, counted
    assert first["meta"]["narration_id"] == "P01_11_0" and first["meta"]["observed"] is False
    later = ds[2]  # P01_11_10: frames 1474..1528 -> starts 49.13 s, observed up to 48.13 s -> steps < 192
    assert later["timestamps"][-1, 1] <= later["meta"]["start"] - 1.0 + 1e-6 and later["features"].shape == (14, 4)
    m = AnticipationMetric(**ds.metric_args())
    rng = np.random.default_rng(0)
    entries = [{"narration_id": s.narration_id, "verb": rng.random(97), "noun": rng.random(300), "action": rng.random(3806)}
               for s in gt.segments[:40]]
    sub_ = m.format_predictions(entries)
    r = sub_["results"]["P01_11_0"]
    assert len(r["verb"]) == 97 and len(r["noun"]) == 300 and len(r["action"]) == 100
    assert all(k.count(",") == 1 for k in r["action"])
    small = EK100GroundTruth(gt.segments[:40], gt.actions, gt.splits)
    out = m.evaluate(sub_, small)
    assert 0.0 <= out["verb/overall"] <= 100.0 and set(out) == set(m.keys)


def test_broken_rows_raise_or_skip(tmp_path):
    ds = EK100AnticipationDataset(demo={"num_videos": 8, "seed": 1}, split="validation")
    root = Path(ds.source.annotations).parent
    rows = list(csv.reader(open(root / "validation.csv")))
    bad = [rows[0][:2] + ["90", "30"] + rows[0][4:], ["x_0", "../etc", "1", "30"] + rows[0][4:], rows[1][:4] + ["999"] + rows[1][5:]] + rows[2:]
    with open(tmp_path / "val.csv", "w", newline="") as f:
        csv.writer(f).writerows(bad)
    (tmp_path / "actions.csv").write_bytes((root / "actions.csv").read_bytes())
    kw = dict(annotations=str(tmp_path / "val.csv"), features_dir=str(ds.source.features_dir), splits_dir=str(ds.source.official_dir))
    with pytest.raises(DataError, match="start_frame 90 > end_frame 30"):
        EK100AnticipationDataset(**kw)
    skipping = EK100AnticipationDataset(**kw, on_error="skip")
    assert len(skipping) == len(rows) - 2 and len(skipping.skipped) == 3
    assert any("unsafe video id" in s for s in skipping.skipped) and any("unknown class" in s for s in skipping.skipped)


def test_head_reads_last_unit_and_masks_unobserved():
    torch.manual_seed(0)
    ds = EK100AnticipationDataset(demo={"num_videos": 8, "seed": 1}, split="validation")
    batch = ds.collate([ds[i] for i in range(4)])
    head = ActionAnticipationHead(8, **ds.head_args())
    b, t = batch.mask.shape
    vis = TokenSequence(torch.zeros(b, t, 8), batch.mask, batch.timestamps)
    stream = StreamInputs(vis, vis.embeds, batch.mask, torch.zeros(b, t, dtype=torch.long))
    hidden = torch.randn(b, t, 8, requires_grad=True)
    out = head(hidden, batch, stream)
    loss = head.loss(out, batch)
    loss["loss"].backward()
    last = batch.mask.long().sum(1) - 1
    grad_at = hidden.grad.abs().sum(-1)
    for i in range(b):  # only each sample's last real unit feeds the head
        if bool(batch.targets["observed"][i]):
            assert grad_at[i, last[i]] > 0 and grad_at[i].sum() == grad_at[i, last[i]]
    entries = head.predict(out, batch)
    for e, obs in zip(entries, batch.targets["observed"].tolist()):
        assert e["verb"].shape == (ds.head_args()["num_verbs"],)
        assert (e["verb"].sum() == pytest.approx(1.0, abs=1e-5)) if obs else (e["verb"] == 0).all()


def test_cli_evaluate_json(tmp_path):
    import subprocess

    (tmp_path / "validation.csv").write_text("P01_01_0,P01_01,100,200,1,2,0\n")
    (tmp_path / "actions.csv").write_text("id,verb,noun,action\n0,1,2,put cup\n")
    sub_ = {"version": "0.2", "challenge": "action_anticipation", "sls_pt": 0, "sls_tl": 3, "sls_td": 3,
            "results": {"P01_01_0": {"verb": scores(10, [1]), "noun": scores(10, [9, 8, 7, 6, 5]), "action": {"1,2": 1.0}}}}
    (tmp_path / "p.json").write_text(json.dumps(sub_))
    out = subprocess.run(["videollm", "evaluate", "anticipation", "--ground-truth", str(tmp_path / "validation.csv"),
                          "--predictions", str(tmp_path / "p.json"), "--json"], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout)
    assert list(got) == list(AnticipationMetric.keys)
    assert got["verb/overall"] == 100.0 and got["noun/overall"] == 0.0 and got["action/overall"] == 100.0
    assert got["verb/unseen"] is None or np.isnan(got["verb/unseen"])  # no official split files here: empty subsets

"""Online action detection: per-frame mAP and EK100 top-5 recalls (hand-computed, edge
cases), the LSTR/THUMOS and RULSTM readers on the real files, the head and the CLI."""
from __future__ import annotations

import json
import subprocess

import numpy as np
import pytest
import torch

from videollm_core.errors import DataError
from videollm_core.types import StreamInputs, TokenSequence
from videollm_plugins.tasks.common.ek100 import EK100Segment, frame_labels
from videollm_plugins.tasks.oad.dataset import EK100OADDataset, ThumosOADDataset
from videollm_plugins.tasks.oad.head import OnlineActionDetectionHead
from videollm_plugins.tasks.oad.formats import IGNORED, OADGroundTruth
from videollm_plugins.tasks.oad.metric import OADMetric, per_frame_map
from shared_paths import SHARED_DATA, needs_shared_data

DATA = SHARED_DATA


def gt_of(labels, num_classes=4, **kw):
    return OADGroundTruth(4.0, {"v": {"action": np.asarray(labels)}}, {"action": num_classes}, **kw)


def preds(scores):
    return {"fps": 4.0, "results": {"v": {"action": np.asarray(scores, dtype=float).tolist()}}}


def test_per_frame_ap_hand_computed_with_ties():
    labels = np.array([1, 0, 1, 0])
    # class 1 scores: 0.9 (pos), 0.8 (neg), 0.8 (pos), 0.1 (neg): ties grouped -> AP = 0.5*1 + 0.5*(2/3)
    s = np.zeros((4, 3))
    s[:, 1] = [0.9, 0.8, 0.8, 0.1]
    assert per_frame_map(s, labels) == pytest.approx(0.5 + 0.5 * 2 / 3)
    # class 2 has no positive frame: skipped (not 0); background never counted
    s[:, 2] = [0.3, 0.2, 0.1, 0.0]
    assert per_frame_map(s, labels) == pytest.approx(0.5 + 0.5 * 2 / 3)


def test_ignored_frames_dropped_and_recall_on_foreground_only():
    labels = [1, IGNORED, 2, 0, 2]
    s = np.array([[0, .9, 0, 0], [0, .1, .9, 0], [0, .2, .1, 0], [1, 0, 0, 0], [0, 0, .9, 0]])
    out = OADMetric(k=1).evaluate(preds(s), gt_of(labels))
    # the ignored frame 1 scores 0.9 on class 2 but is dropped: class 2 positives (0.9, 0.1) rank above the
    # negatives (0, 0) -> AP 1; class 1 AP 1. Kept as a negative it would tie frame 4: AP (1/2 + 2/3)/2 for class 2.
    assert out["mAP"] == pytest.approx(100.0)
    assert per_frame_map(s, np.array([1, 0, 2, 0, 2])) == pytest.approx((1 + (0.5 + 2 / 3) / 2) / 2)
    # top-1 on foreground frames 0, 2, 4: class 1 hit; class 2: frame 2 miss (0.2 > 0.1), frame 4 hit -> (1 + .5)/2
    assert out["action/mean_top5_recall"] == pytest.approx(75.0)
    assert np.isnan(out["verb/mean_top5_recall"]) and np.isnan(out["noun/mean_top5_recall"])  # THUMOS-like: no verb/noun


def test_frame_count_rules_and_errors():
    gt = gt_of([1, 0, 0])
    with pytest.raises(DataError, match="frames of scores"):
        OADMetric().evaluate(preds(np.eye(4)[[1, 0]]), gt)  # too short
    with pytest.raises(DataError, match="frames of scores"):
        OADMetric().evaluate(preds(np.eye(4)[[1, 0, 0, 0]]), gt)  # too long for fixed-length ground truth
    ext = gt_of([1, 0, 0], extendable=True)  # built from a csv: extra frames are background
    assert OADMetric().evaluate(preds(np.eye(4)[[1, 0, 0, 0]]), ext)["mAP"] == 100.0
    with pytest.raises(DataError, match="background first"):
        OADMetric().evaluate(preds(np.zeros((3, 2))), gt)
    with pytest.raises(DataError, match="no scores"):
        OADMetric().evaluate({"fps": 4.0, "results": {}}, gt)
    with pytest.raises(DataError, match="frames/s"):
        OADMetric().evaluate({**preds(np.eye(4)[[1, 0, 0]]), "fps": 30.0}, gt)


def test_ek100_frame_labels_lowest_class_wins():
    segs = [EK100Segment("a", "v", 30, 60, 2, 5, 7), EK100Segment("b", "v", 45, 90, 1, 9, 3)]  # 1-2 s and 1.5-3 s
    lab = frame_labels(segs, 14, 4.0)
    assert lab["action"].tolist() == [0, 0, 0, 0, 8, 8, 4, 4, 4, 4, 4, 4, 4, 0]  # steps 6-8 overlap: min(7, 3) + 1
    assert lab["verb"][6] == 2 and lab["noun"][6] == 6


def test_marginal_verb_noun_from_action_scores():
    gt = OADGroundTruth(4.0, {"v": {"action": np.array([1, 2]), "verb": np.array([1, 2]), "noun": np.array([1, 1])}},
                        {"action": 3, "verb": 3, "noun": 2}, actions=np.array([[0, 0], [1, 0]]))
    out = OADMetric(k=1).evaluate(preds([[0.1, 0.8, 0.1], [0.2, 0.1, 0.7]]), gt)
    assert out["verb/mean_top5_recall"] == 100.0 and out["noun/mean_top5_recall"] == 100.0


@needs_shared_data("online_action_detection/testra_data_info.json", "epic_kitchens_100/rulstm_ek100/validation.csv")
def test_real_thumos_data_info_and_ek100_validation(tmp_path):
    # LSTR layout with the real data_info.json (22 classes, Ambiguous = 21) and generated per-frame targets
    root = tmp_path / "THUMOS"
    info = json.loads((DATA / "online_action_detection" / "testra_data_info.json").read_text())
    (tmp_path / "data_info.json").write_text(json.dumps(info))
    vids = info["THUMOS"]["test_session_set"][:3]
    for d in ("target_perframe", "rgb_kinetics_resnet50"):
        (root / d).mkdir(parents=True)
    for i, v in enumerate(vids):
        lab = np.array([0, 0, 5, 5, 21, 7, 0, 0][: 6 + i])
        np.save(root / "target_perframe" / f"{v}.npy", np.eye(22, dtype=np.float32)[lab])
        np.save(root / "rgb_kinetics_resnet50" / f"{v}.npy", np.ones((len(lab), 4), np.float32))
    info["THUMOS"]["test_session_set"] = vids
    (tmp_path / "data_info.json").write_text(json.dumps(info))
    ds = ThumosOADDataset(data_root=str(root), split="test", feature_dim=4)
    assert ds.head_args() == {"num_classes": 22} and ds.fps == 4.0
    assert ds[0]["targets"]["action"].tolist() == [0, 0, 5, 5, -100, 7]  # Ambiguous frame dropped
    gt = OADMetric(data_info=str(tmp_path / "data_info.json")).load_ground_truth(root)
    assert set(gt.labels) == set(vids) and gt.class_names[21] == "Ambiguous"
    # the real RULSTM validation csv as OAD ground truth: 138 videos at 4 fps, 3807 action classes
    ek = OADMetric().load_ground_truth(DATA / "epic_kitchens_100" / "rulstm_ek100" / "validation.csv")
    assert len(ek.labels) == 138 and ek.num_classes == {"action": 3807, "verb": 98, "noun": 301} and ek.extendable
    first = ek.labels["P01_11"]
    assert first["action"][0] == 107  # P01_11_0: frames 1-56 -> steps 0-7, action 106 (+1 for background)


def test_broken_thumos_inputs_raise_or_skip():
    ds = ThumosOADDataset(demo={"num_videos": 6, "seed": 2})
    bad_dim = dict(data_root=str(ds.root), split="test", feature_dim=5)
    with pytest.raises(DataError, match="does not match"):
        ThumosOADDataset(**bad_dim)
    with pytest.raises(DataError, match="no usable video"):
        ThumosOADDataset(**bad_dim, on_error="skip")


def test_head_is_causal_per_unit_and_stitches_windows():
    torch.manual_seed(0)
    ds = EK100OADDataset(demo={"num_videos": 8, "seed": 3}, window=4.0)
    batch = ds.collate([ds[i] for i in range(3)])
    head = OnlineActionDetectionHead(8, **ds.head_args())
    b, t = batch.mask.shape
    vis = TokenSequence(torch.zeros(b, t, 8), batch.mask, batch.timestamps)
    stream = StreamInputs(vis, vis.embeds, batch.mask, torch.zeros(b, t, dtype=torch.long))
    hidden = torch.randn(b, t, 8)
    out = head(hidden, batch, stream)
    loss = head.loss(out, batch)
    assert set(loss) == {"loss", "loss_action", "loss_verb", "loss_noun"} and torch.isfinite(loss["loss"])
    # unit n's scores depend on hidden[:, n] only
    hidden2 = hidden.clone()
    hidden2[:, 5:] += 10.0
    out2 = head(hidden2, batch, stream)
    assert torch.allclose(out["action"][:, :5], out2["action"][:, :5]) and not torch.allclose(out["action"][:, 5:], out2["action"][:, 5:])
    entries = head.predict(out, batch)
    sub = OADMetric().format_predictions(entries)
    vid = batch.meta[0]["video_id"]
    stitched = np.asarray(sub["results"][vid]["action"])
    assert stitched.shape[1] == ds.head_args()["num_classes"] and np.allclose(stitched.sum(1), 1.0, atol=1e-5)
    assert len(stitched) == max(e["first_step"] + len(e["action"]) for e in entries if e["video_id"] == vid)


def test_cli_evaluate_json(tmp_path):
    gt_csv = tmp_path / "validation.csv"
    gt_csv.write_text("v_0,P01_01,8,14,0,1,0\n")  # 30 fps frames 8-14 -> 4 fps steps 1
    (tmp_path / "actions.csv").write_text("id,verb,noun,action\n0,0,1,take cup\n1,1,1,put cup\n")
    m = OADMetric()
    m.save_predictions({"version": "1.0", "challenge": "online_action_detection", "fps": 4.0,
                        "results": {"P01_01": {"action": [[0.9, 0.05, 0.05], [0.1, 0.8, 0.1], [0.6, 0.1, 0.3]]}}}, tmp_path / "p.json")
    out = subprocess.run(["videollm", "evaluate", "oad", "--ground-truth", str(gt_csv), "--predictions", str(tmp_path / "p.json"), "--json"],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout)
    assert list(got) == ["mAP", "action/mean_top5_recall", "verb/mean_top5_recall", "noun/mean_top5_recall"]
    assert got["mAP"] == 100.0 and got["action/mean_top5_recall"] == 100.0 and got["verb/mean_top5_recall"] == 100.0


def test_streaming_gives_the_full_forward_scores():
    from videollm_core.pipeline import build_pipeline

    torch.manual_seed(0)
    cfg = {"model": {"encoder": {"type": "TemporalUnitEncoder", "in_dim": 4, "unit_size": 1, "pooling": "mean"},
                     "translator": {"type": "LinearTranslator"},
                     "llm": {"type": "HFCausalLM", "tokenizer": {"words": ["online", "detection"]},
                             "config": {"model_type": "gpt2", "n_layer": 2, "n_embd": 32, "n_head": 2, "n_positions": 64,
                                        "bos_token_id": None, "eos_token_id": None}},
                     "tuner": {"type": "Frozen"}, "head": {"type": "OnlineActionDetectionHead", "num_classes": 5},
                     "prompt": "online detection"}}
    pipe = build_pipeline(cfg).eval()
    feats = torch.randn(6, 4)
    t = torch.arange(6, dtype=torch.float32)
    from videollm_core.types import VideoBatch

    batch = VideoBatch(feats[None], torch.ones(1, 6, dtype=torch.bool), torch.stack([t, t + 1], -1)[None] * 0.25)
    with torch.no_grad():
        full = pipe(batch)["action"][0]
        stream = pipe.stream(step_seconds=0.25)
        pieces = [stream.push(feats[i : i + 1])["action"][0] for i in range(6)]  # one unit arrives at a time
    assert torch.allclose(torch.cat(pieces), full, atol=1e-5)

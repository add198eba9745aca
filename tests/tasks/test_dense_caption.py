"""Dense captioning: densevid/SODA pieces (hand-computed), the full metric with METEOR,
the submission files, ActivityNet Captions on the real references, the head on random
hidden states with a tiny GPT-2."""
from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from videollm_core.errors import ConfigError, DataError
from videollm_plugins.tasks.common.captioning import meteor_available
from videollm_plugins.tasks.dense_caption import formats as ann
from videollm_plugins.tasks.dense_caption.dataset import ActivityNetCaptionsDataset
from videollm_plugins.tasks.dense_caption.head import CHANNELS, decode_proposals, proposal_targets
from videollm_plugins.tasks.dense_caption.metric import (GARBAGE_REFERENCE, DenseCaptionMetric, caption_pairs, chased_dp_assignment,
                                                         localisation_scores, soda_f)
from shared_paths import SHARED_DATA, needs_shared_data

ANET = SHARED_DATA / "activitynet_captions"


def ref(*events, duration=40.0):
    return {"duration": duration, "timestamps": [list(e[:2]) for e in events], "sentences": [e[2] for e in events]}


# -- densevid pieces -----------------------------------------------------------------
def test_pairs_use_both_reference_files_ge_and_garbage():
    refs = [{"v": ref((0, 10, "a man runs"), (10, 20, "he jumps"))}, {"v": ref((0, 9, "a man is running"))}]
    preds = {"v": [{"timestamp": [0, 10], "sentence": "a man runs"}, {"timestamp": [30, 40], "sentence": "caf\u00e9 time"}]}
    # t = 0.5: [0,10] pairs with [0,10] (1.0) and with val_2's [0,9] (0.9); [30,40] overlaps nothing -> garbage
    assert caption_pairs(preds, refs, 0.5)["v"] == [
        ("a man runs", "a man runs"), ("a man runs", "a man is running"), ("caf  time", GARBAGE_REFERENCE)]
    # t = 0.9: the densevid tIoU adds 1e-8 to the union, so 9 / 10 falls just below 0.9
    assert len(caption_pairs(preds, refs, 0.9)["v"]) == 2


def test_localisation_best_reference_file_and_strict_threshold():
    refs = [{"v": ref((0, 10, "a"), (20, 30, "b"))}, {"v": ref((0, 10, "a"))}, {"w": ref((0, 5, "c"))}]
    preds = {"v": [{"timestamp": [0, 10], "sentence": "a"}, {"timestamp": [50, 60], "sentence": "z"}]}
    p, r = localisation_scores(preds, refs, 0.5)
    # v: file 1 recall 1/2, file 2 recall 1/1 -> 1; precision 1/2 in both; w: no prediction -> 0, 0
    assert (p, r) == pytest.approx((0.25, 0.5))
    # tIoU 5/10 minus epsilon is not > 0.5 (strict), and not >= either
    half = {"v": [{"timestamp": [0, 5], "sentence": "a"}]}
    assert localisation_scores(half, refs[:2], 0.5) == (0.0, 0.0)
    assert localisation_scores(half, refs[:2], 0.4) == pytest.approx((1.0, 1.0))


def test_soda_dp_is_order_preserving():
    assert chased_dp_assignment(np.array([[1.0, 0.5], [0.2, 0.9]])) == pytest.approx(1.9)
    assert chased_dp_assignment(np.array([[0.0, 1.0], [1.0, 0.0]])) == pytest.approx(1.0)  # crossing pairs: only one
    assert chased_dp_assignment(np.zeros((0, 3))) == 0.0
    assert soda_f(1.0, 2, 1) == pytest.approx(2 * 0.5 * 1.0 / 1.5)
    assert soda_f(0.0, 2, 1) == 0.0


# -- full metric (METEOR through Java) -------------------------------------------------
@pytest.mark.skipif(not meteor_available(), reason="METEOR needs Java")
def test_metric_hand_checked_cases(tmp_path):
    m = DenseCaptionMetric()
    gt = [{"v": ref((0, 10, "a man is riding a horse on the beach"), duration=20.0), "w": ref((0, 5, "a dog runs"), duration=5.0)}]
    perfect = {"v": [{"timestamp": [0, 10], "sentence": "A man is riding a horse on the beach."}]}
    out = m.evaluate(perfect, gt)
    assert list(out) == list(m.keys)
    # w has no prediction: densevid averages over all GT videos (v perfect, w zero) ...
    assert out["Recall"] == pytest.approx(50.0) and out["Precision"] == pytest.approx(50.0)
    assert out["BLEU@4"] == pytest.approx(50.0, abs=1e-3)
    assert 49.0 < out["METEOR"] <= 50.0
    # ... CIDEr-D's IDF comes from the video's own single reference: log(1/1) = 0
    assert out["CIDEr"] == 0.0
    # ... SODA_c drops videos absent from the predictions: v alone, near 100
    assert out["SODA_c"] > 98.0
    # empty predictions: every key 0
    assert all(v == 0.0 for v in m.evaluate({}, gt).values())
    # files round trip
    m.save_predictions(perfect, tmp_path / "p.json")
    assert m.load_predictions(tmp_path / "p.json") == perfect
    assert json.loads((tmp_path / "p.json").read_text())["version"] == "VERSION 1.0"
    assert m.plot(perfect, gt, tmp_path / "p.png")


@needs_shared_data("activitynet_captions/densevid_sample_submission.json", "activitynet_captions/val_1.json", "activitynet_captions/val_2.json")
def test_format_predictions_and_sample_submission():
    m = DenseCaptionMetric()
    entries = [{"video_id": "v_x", "events": [{"timestamp": [1.0, 2.5], "sentence": "a person chops onions", "score": 0.9}]}]
    assert m.format_predictions(entries) == {"v_x": [{"timestamp": [1.0, 2.5], "sentence": "a person chops onions"}]}
    sample = m.load_predictions(ANET / "densevid_sample_submission.json")
    assert sample["v_uqiMw7tQ1Cc"][0]["timestamp"] == [1.23, 4.53]
    gt = m.load_ground_truth(f"{ANET / 'val_1.json'},{ANET / 'val_2.json'}")
    assert len(gt) == 2 and len(gt[0]) == 4917 and len(gt[1]) == 4885
    with pytest.raises(DataError):
        m.load_predictions(ANET / "val_1.json")  # a reference file is no submission


# -- real references as datasets ---------------------------------------------------------
def _features_for(refs, root: Path, dim: int = 2) -> None:
    root.mkdir(exist_ok=True)
    for vid in {v for r in refs for v in r}:
        np.save(root / f"{vid}.npy", np.full((6, dim), 0.5, dtype=np.float32))


@needs_shared_data("activitynet_captions/val_1.json", "activitynet_captions/val_2.json")
def test_real_val_1_and_val_2_load(tmp_path):
    refs = [ann.read_references(ANET / "val_1.json"), ann.read_references(ANET / "val_2.json")]
    _features_for(refs, tmp_path / "f")
    ds = ActivityNetCaptionsDataset(annotations=[str(ANET / "val_1.json"), str(ANET / "val_2.json")],
                                    features_dir=str(tmp_path / "f"), split="val", feature_dim=2, check_values=False)
    assert len(ds) == len(set(refs[0]) | set(refs[1]))
    assert ds.repairs >= 134  # the segments past the end of val_1 (and val_2 videos absent from val_1)
    s = ds[0]
    assert not any(c.startswith(" ") for c in s["targets"]["captions"])  # leading spaces stripped
    assert (s["targets"]["events"][:, 1] <= s["meta"]["duration"]).all()
    assert s["timestamps"][-1, 1] == pytest.approx(s["meta"]["duration"])  # 6 steps spread over the duration
    # the metric sees the files unchanged (leading spaces, segments past the end)
    gt = ds.ground_truth()
    assert gt[0] == refs[0] and gt[1] == refs[1]


@needs_shared_data("activitynet_captions/train.json.gz")
def test_real_train_quirks(tmp_path):
    with gzip.open(ANET / "train.json.gz", "rt") as f:
        train = json.load(f)
    keep = ["v_0bosp4-pyTM", "v_rhOtqArO-3Y"] + [v for v in train if any(e > train[v]["duration"] for _, e in train[v]["timestamps"])][:3]
    (tmp_path / "train.json").write_text(json.dumps({v: train[v] for v in keep}))
    _features_for([{v: 0 for v in keep}], tmp_path / "f")
    ds = ActivityNetCaptionsDataset(annotations=str(tmp_path / "train.json"), features_dir=str(tmp_path / "f"), feature_dim=2)
    events = {s["meta"]["video_id"]: s["targets"]["events"] for s in (ds[i] for i in range(len(ds)))}
    assert all((e[:, 0] <= e[:, 1]).all() for e in events.values())  # inverted segments swapped
    assert ds.repairs >= 5
    with pytest.raises(DataError, match="start"):
        ActivityNetCaptionsDataset(annotations=str(tmp_path / "train.json"), features_dir=str(tmp_path / "f"), feature_dim=2, fix_segments=False)


@pytest.mark.parametrize("breakage, match", [("missing", "not found"), ("nan", "non-finite"), ("dim", "does not match"),
                                             ("unsafe", "unsafe video id"), ("mismatch", "timestamps but")])
def test_broken_inputs(tmp_path, breakage, match):
    refs = {"v_a": ref((0, 10, "a")), "v_b": ref((0, 10, "b"))}
    _features_for([refs], tmp_path / "f", dim=3)
    if breakage == "missing":
        (tmp_path / "f" / "v_b.npy").unlink()
    elif breakage == "nan":
        np.save(tmp_path / "f" / "v_b.npy", np.array([[np.nan, 0, 0]], dtype=np.float32))
    elif breakage == "dim":
        np.save(tmp_path / "f" / "v_b.npy", np.zeros((4, 5), dtype=np.float32))
    elif breakage == "unsafe":
        refs["../v_b"] = refs.pop("v_b")
    elif breakage == "mismatch":
        refs["v_b"]["sentences"].append("extra")
    (tmp_path / "a.json").write_text(json.dumps(refs))
    kw = dict(annotations=str(tmp_path / "a.json"), features_dir=str(tmp_path / "f"), feature_dim=3)
    with pytest.raises(DataError, match=match) as err:
        ActivityNetCaptionsDataset(**kw)
    assert err.value.where
    if breakage != "mismatch":  # a malformed file is not skippable
        ds = ActivityNetCaptionsDataset(on_error="skip", **kw)
        assert len(ds) == 1 and len(ds.skipped) == 1


# -- proposals and head ----------------------------------------------------------------------
def test_proposal_targets_and_decoding():
    spans = torch.tensor([[0.0, 2], [2, 4], [4, 6], [6, 8], [8, 10]])
    t = proposal_targets(torch.tensor([[2.5, 5.5]]), spans)
    assert t.shape == (5, len(CHANNELS))
    assert t[:, 0].tolist() == [0, 1, 0, 0, 0] and t[:, 1].tolist() == [0, 0, 1, 0, 0] and t[:, 2].tolist() == [0, 1, 1, 0, 0]
    # offsets: 2.5 s is a quarter into unit [2, 4], 5.5 s three quarters into unit [4, 6]
    assert t[1, 3].item() == pytest.approx(0.25) and t[2, 4].item() == pytest.approx(0.75, abs=1e-3)
    probs = np.zeros((5, 5))
    probs[1, 0], probs[2, 1], probs[1:3, 2] = 0.9, 0.8, 0.9
    probs[1, 3], probs[2, 4] = 0.25, 0.75
    props = decode_proposals(probs, spans.numpy())
    # the boundaries land inside the units, at the offsets
    assert props[0][:2] == pytest.approx((2.5, 5.5)) and props[0][2] == pytest.approx(0.9 * 0.8 * 0.9)


def test_decoding_never_merges_two_events_and_drops_weak_pairs():
    """Two events [0, 6] and [8, 14] s in 2 s units: the pair start(0) x end(6) spans the
    first event's end (unit 2) and the second's start (unit 4), so it scores
    0.9 * 0.9 * mean actionness (6/7) * (1 - 0.9) ** 2 ~= 0.0069, below min_score."""
    spans = np.array([[2.0 * n, 2.0 * n + 2] for n in range(8)])
    probs = np.zeros((8, 5))
    probs[[0, 4], 0] = 0.9
    probs[[2, 6], 1] = 0.9
    probs[[0, 1, 2, 4, 5, 6], 2] = 1.0
    probs[:, 4] = 1.0  # ends at the end of their unit
    kept = decode_proposals(probs, spans, min_score=0.05)
    assert sorted(p[:2] for p in kept) == [(0.0, 6.0), (8.0, 14.0)]
    everything = decode_proposals(probs, spans, min_score=0.0, nms_tiou=1.0)
    merged = [p for p in everything if p[:2] == (0.0, 14.0)]
    assert len(merged) == 1 and merged[0][2] == pytest.approx(0.81 * 6 / 7 * 0.01)
    # a boundary smeared over two neighbouring units does not count against its own event
    probs[3, 1] = 0.5  # unit 3 (next to the first event's end unit 2) is not "inside" [0, 2]
    assert decode_proposals(probs, spans, min_score=0.05)[0][2] == pytest.approx(0.81)


def test_head_rejects_bad_arguments():
    from videollm_plugins.tasks.dense_caption.head import DenseCaptionHead

    with pytest.raises(ConfigError, match="kernel_size") as err:
        DenseCaptionHead(16, kernel_size=2)
    assert err.value.where == "model.head.kernel_size"
    with pytest.raises(ConfigError, match="min_score"):
        DenseCaptionHead(16, min_score=1.5)


def test_plot_colours_a_caption_the_same_in_references_and_predictions(tmp_path, monkeypatch):
    import videollm_plugins.tasks.common.plots as plots

    drawn = []
    monkeypatch.setattr(plots, "plot_segment_timelines", lambda videos, path, **kw: drawn.extend(videos))
    gt = [{"v": ref((0, 10, "A person cuts the bread."), (12, 20, " A person stirs the pot."), duration=20.0)}]
    preds = {"v": [{"timestamp": [0.5, 9.5], "sentence": "a person cuts the bread."}]}
    assert DenseCaptionMetric().plot(preds, gt, tmp_path / "p.png")
    tracks = drawn[0]["tracks"]
    assert tracks["GT 1"][0][2] == tracks["pred"][0][2] == "a person cuts the bread"
    assert tracks["GT 1"][1][2] == "a person stirs the pot"


def test_head_trains_and_predicts_with_tiny_gpt2(tmp_path):
    from videollm_core.pipeline import build_pipeline

    torch.manual_seed(0)
    from videollm_plugins.tasks.dense_caption.demo import vocabulary

    cfg = {
        "model": {
            "encoder": {"type": "TemporalUnitEncoder", "in_dim": 8, "unit_size": 2},
            "translator": {"type": "LinearTranslator"},
            "llm": {"type": "HFCausalLM", "config": {"model_type": "gpt2", "n_layer": 1, "n_embd": 32, "n_head": 2, "n_positions": 128,
                                                     "bos_token_id": None, "eos_token_id": None},
                    "tokenizer": {"words": vocabulary()}},
            "tuner": {"type": "Full"},
            "head": {"type": "DenseCaptionHead", "max_events": 3, "max_caption_tokens": 5},
        }
    }
    pipe = build_pipeline(cfg)
    refs = {"v_a": ref((0, 6, "a person chops onions"), (8, 14, " a person stirs the pot"), duration=16.0)}
    (tmp_path / "a.json").write_text(json.dumps(refs))
    (tmp_path / "f").mkdir()
    np.save(tmp_path / "f" / "v_a.npy", np.random.default_rng(0).normal(size=(16, 8)).astype(np.float32))
    ds = ActivityNetCaptionsDataset(annotations=str(tmp_path / "a.json"), features_dir=str(tmp_path / "f"), seconds_per_step=1.0, feature_dim=8)
    batch = ds.collate([ds[0]])
    outputs = pipe(batch)
    losses = pipe.loss(outputs, batch)
    assert set(losses) >= {"loss", "loss_proposal", "loss_caption"} and torch.isfinite(losses["loss"])
    losses["loss"].backward()
    head = pipe.heads[next(iter(pipe.heads))]
    assert head.event_proj.weight.grad is not None and head.proposal[0].weight.grad.abs().sum() > 0
    pipe.eval()
    entry = pipe.predict(pipe(batch), batch)[0]
    assert entry["video_id"] == "v_a" and 1 <= len(entry["events"]) <= 3
    for ev in entry["events"]:
        assert 0.0 <= ev["timestamp"][0] <= ev["timestamp"][1] <= 16.0 and isinstance(ev["sentence"], str)


@pytest.mark.skipif(not meteor_available(), reason="METEOR needs Java")
def test_cli_evaluate_json_two_reference_files(tmp_path):
    import subprocess

    gt1 = {"v": ref((0, 10, "a man is riding a horse on the beach"), duration=20.0)}
    gt2 = {"v": ref((0, 9, "a man rides a horse"), duration=20.0)}
    (tmp_path / "val_1.json").write_text(json.dumps(gt1))
    (tmp_path / "val_2.json").write_text(json.dumps(gt2))
    ann.write_submission({"v": [{"timestamp": [0, 10], "sentence": "a man is riding a horse on the beach"}]}, tmp_path / "sub.json")
    out = subprocess.run(
        ["videollm", "evaluate", "dense_caption", "--ground-truth", f"{tmp_path / 'val_1.json'},{tmp_path / 'val_2.json'}",
         "--predictions", str(tmp_path / "sub.json"), "--json"],
        capture_output=True, text=True, check=True,
    )
    got = json.loads(out.stdout)
    assert list(got) == list(DenseCaptionMetric.keys)
    # at tIoU 0.3/0.5/0.7 the prediction pairs with both references (9/10 tIoU with val_2), at 0.9 with val_1 only
    assert got["Recall"] == pytest.approx(100.0) and got["Precision"] == pytest.approx(100.0)

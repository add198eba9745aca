"""Moment query: metric keys/files/CLI, real THUMOS14 + Ego4D MQ schema as datasets, head, end to end."""
from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from videollm_core.errors import ConfigError, DataError
from videollm_plugins.tasks.moment_query.formats import load_detection_database, read_label_map
from videollm_plugins.tasks.moment_query.dataset import ActivityNetDetectionDataset, Ego4DMQDataset
from videollm_plugins.tasks.moment_query.head import MomentQueryHead, assign_units
from videollm_plugins.tasks.moment_query.metric import MomentQueryMetric
from shared_paths import SHARED_DATA, needs_shared_data
from training import fit

DATA = SHARED_DATA
needs_data = needs_shared_data("thumos14/thumos14.json.gz")




def _db(**videos):
    return {v: {"subset": "Test", "duration": 100.0, "fps": 30.0, "annotations": [{"label": l, "segment": list(s)} for l, s in anns]}
            for v, anns in videos.items()}


# -- metric -------------------------------------------------------------------------------
def test_keys_thresholds_and_hand_computed_map():
    m = MomentQueryMetric()
    assert m.keys == ("mAP@0.10", "mAP@0.20", "mAP@0.30", "mAP@0.40", "mAP@0.50", "average_mAP", "Recall@1x@0.50")
    assert MomentQueryMetric(tious=[0.3, 0.7]).keys[:2] == ("mAP@0.30", "mAP@0.70")
    with pytest.raises(ConfigError):
        MomentQueryMetric(tious=[0.0])
    gt = _db(v1=[("a", (0, 10)), ("b", (50, 60))], v2=[("a", (20, 30))])
    # class a: [0, 4] has tIoU 0.4 with v1's GT -> TP for t <= 0.4; v2's is exact; class b missed entirely
    pred = {"results": {"v1": [{"label": "a", "segment": [0, 4], "score": 0.9}],
                        "v2": [{"label": "a", "segment": [20, 30], "score": 0.5}, {"label": "c", "segment": [0, 1], "score": 1.0}],
                        "unknown_video": [{"label": "a", "segment": [0, 1], "score": 1.0}]}}
    out = MomentQueryMetric(tious=[0.4, 0.5]).evaluate(pred, gt)
    assert out["mAP@0.40"] == pytest.approx(100 * (1.0 + 0.0) / 2)  # mean over classes with GT (a, b); c dropped
    # a at 0.5: FP then TP -> rec [0, .5], prec [0, .5] -> AP .5 * .5 = .25
    assert out["mAP@0.50"] == pytest.approx(100 * (0.25 + 0.0) / 2)
    assert out["average_mAP"] == pytest.approx((50 + 12.5) / 2)
    assert out["Recall@1x@0.50"] == pytest.approx(100 * (0.5 + 0.0) / 2)


def test_files_round_trip_cli_and_plot(tmp_path):
    gt = {"version": "x", "database": {"v1": {"subset": "Test", "duration": 50.0, "annotations": [{"label": "A", "segment": [0, 10]}]},
                                       "v2": {"subset": "Validation", "duration": 50.0, "annotations": [{"label": "A", "segment": [5, 10]}]}}}
    (tmp_path / "gt.json").write_text(json.dumps(gt))
    m = MomentQueryMetric(class_names=["A"])
    preds = m.format_predictions([{"video_id": "v1", "segments": [[0.0, 10.0]], "labels": [0], "scores": [0.7]}])
    assert preds["results"]["v1"] == [{"label": "A", "segment": [0.0, 10.0], "score": 0.7}]
    m.save_predictions(preds, tmp_path / "pred.json")
    cmd = [sys.executable, "-m", "videollm_core.cli.commands", "evaluate", "moment_query", "--ground-truth", str(tmp_path / "gt.json"),
           "--predictions", str(tmp_path / "pred.json"), "--json"]
    out = subprocess.run(cmd + ["--option", "subset=Test", "--tious", "0.3,0.7"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == {"mAP@0.30": 100.0, "mAP@0.70": 100.0, "average_mAP": 100.0, "Recall@1x@0.50": 100.0}
    out = subprocess.run(cmd, capture_output=True, text=True)  # all subsets: v2's GT is missed
    assert json.loads(out.stdout)["average_mAP"] == 50.0
    assert m.plot(m.load_predictions(tmp_path / "pred.json"), m.load_ground_truth(tmp_path / "gt.json"), tmp_path / "mq.png")


# -- real THUMOS14 annotations, generated features ----------------------------------------
@pytest.fixture(scope="module")
def thumos(tmp_path_factory):
    root = tmp_path_factory.mktemp("thumos")
    db = load_detection_database(DATA / "thumos14" / "thumos14.json.gz", "Test")
    for vid, item in db.items():  # ActionFormer's I3D layout: 30 fps, stride 4 -> 7.5 features per second
        np.save(root / f"{vid}.npy", np.zeros((int(np.ceil(item["duration"] * 30 / 4)), 4), np.float32))
    return root


@needs_data
def test_real_thumos14_test_loads_with_its_quirk(thumos):
    args = dict(annotation_file=DATA / "thumos14" / "thumos14.json.gz", features_dir=thumos, split="Test", fps=30, feature_stride=4,
                feature_window=16, feature_dim=4, check_values=False)
    with pytest.raises(DataError, match="outside the video") as err:
        ActivityNetDetectionDataset(**args)
    assert "video_test_0000270" in str(err.value)  # 22 segments after its 176.25 s duration
    ds = ActivityNetDetectionDataset(**args, on_error="skip")
    assert len(ds) == 212 and len(ds.skipped) == 26  # the test subset's out-of-range segments
    assert len(ds.class_names()) == 20 and ds.head_args() == {"num_classes": 20}
    s = ds[ds.videos.index(next(v for v in ds.videos if v["video_id"] == "video_test_0000004"))]
    assert s["targets"]["segments"][0] == [0.2, 1.1] and ds.class_names()[s["targets"]["labels"][0]] == "CricketBowling"
    assert s["timestamps"][1].tolist() == pytest.approx([4 / 30, 20 / 30])
    full = load_detection_database(DATA / "thumos14" / "thumos14.json.gz", "Test")
    assert sum(len(d["annotations"]) for d in ds.ground_truth().values()) == sum(len(d["annotations"]) for d in full.values()) - 26


def test_ego4d_mq_schema_primary_clip_relative_and_merged(tmp_path):
    lab = lambda name, s, e, primary=True: {"label": name, "video_start_time": 100 + s, "video_end_time": 100 + e, "primary": primary}
    data = {"videos": [{"video_uid": "V", "split": "val", "clips": [{
        "clip_uid": "C1", "video_start_sec": 100.0, "video_end_sec": 160.0,
        "annotations": [{"labels": [lab("use_phone", 2, 5), lab("use_phone", 10, 12, primary=False)]},
                        {"labels": [lab("use_phone", 2, 5), lab("converse_/_interact_with_someone", 20, 70)]}]}]}]}
    (tmp_path / "moments_val.json").write_text(json.dumps(data))
    db = load_detection_database(tmp_path / "moments_val.json")
    assert db["C1"]["duration"] == 60.0
    assert [a["segment"] for a in db["C1"]["annotations"]] == [[2.0, 5.0], [20.0, 70.0]]  # non-primary dropped, duplicate merged
    names = read_label_map(DATA / "ego4d" / "mq_label_map_actionformer.txt") if DATA.exists() else ["use_phone", "converse_/_interact_with_someone"]
    (tmp_path / "f").mkdir()
    np.save(tmp_path / "f" / "C1.npy", np.zeros((112, 4), np.float32))
    ds = Ego4DMQDataset(tmp_path / "moments_val.json", tmp_path / "f", split="val", class_names=names, feature_dim=4, on_error="skip")
    assert len(ds.skipped) == 1 and "outside the video" in ds.skipped[0]  # [20, 70] ends after the 60 s clip
    assert ds[0]["targets"]["labels"] == [names.index("use_phone")]


@pytest.mark.parametrize("breakage,match", [("missing", "not found"), ("nan", "non-finite"), ("dim", "feature dim"),
                                            ("unsafe", "unsafe video id"), ("class", "unknown class"), ("inverted", "starts after")])
def test_broken_inputs_raise_or_skip(tmp_path, breakage, match):
    db = {"v1": {"subset": "Test", "duration": 10.0, "annotations": [{"label": "A", "segment": [1, 2]}]},
          "v2": {"subset": "Test", "duration": 10.0, "annotations": [{"label": "A", "segment": [3, 4]}]}}
    for v in db:
        np.save(tmp_path / f"{v}.npy", np.zeros((10, 4), np.float32))
    if breakage == "missing":
        (tmp_path / "v2.npy").unlink()
    elif breakage == "nan":
        np.save(tmp_path / "v2.npy", np.full((10, 4), np.inf, np.float32))
    elif breakage == "dim":
        np.save(tmp_path / "v2.npy", np.zeros((10, 5), np.float32))
    elif breakage == "unsafe":
        db["../v2"] = db.pop("v2")
    elif breakage == "class":
        db["v2"]["annotations"][0]["label"] = "B"
    elif breakage == "inverted":
        db["v2"]["annotations"][0]["segment"] = [4, 3]
    with gzip.open(tmp_path / "a.json.gz", "wt") as f:
        json.dump({"database": db}, f)
    kw = dict(annotation_file=tmp_path / "a.json.gz", features_dir=tmp_path, fps=1, feature_stride=1, class_names=["A"], feature_dim=4)
    with pytest.raises(DataError, match=match) as err:
        ActivityNetDetectionDataset(**kw)
    assert "v2" in str(err.value)
    ds = ActivityNetDetectionDataset(**kw, on_error="skip")
    assert len(ds.skipped) == 1 and ds.videos[0]["video_id"] == "v1"


# -- head -------------------------------------------------------------------------------
def test_assign_units_and_head_predicts_detections():
    spans = torch.tensor([[float(i), i + 1.0] for i in range(10)])
    mask = torch.ones(10, dtype=torch.bool)
    cls, reg, pos = assign_units(spans, mask, [[2.0, 6.0], [4.0, 5.0], [8.2, 8.3]], [0, 1, 1], 2)
    assert pos.tolist() == [False, False, True, True, True, True, False, False, True, False]
    assert cls[4].tolist() == [0, 1] and cls[3].tolist() == [1, 0]  # the shorter segment wins unit 4
    assert reg[2].tolist() == [0.5, 3.5] and cls[8].tolist() == [0, 1]  # a segment covering no centre takes the nearest unit

    from videollm_core.base import pad_collate
    from videollm_core.types import StreamInputs, TokenSequence

    torch.manual_seed(0)
    feats = np.concatenate([np.eye(10), np.zeros((10, 1))], 1).astype(np.float32)  # position one-hot + action flag
    feats[2:6, 10] = 1
    sample = {"features": feats, "timestamps": spans.numpy(), "targets": {"segments": [[2.0, 6.0]], "labels": [1]},
              "meta": {"video_id": "v", "duration": 10.0}}
    batch = pad_collate([sample, sample])
    stream = StreamInputs(TokenSequence(batch.features, batch.mask, batch.timestamps), batch.features, batch.mask, torch.zeros(2, 10, dtype=torch.long))
    head = MomentQueryHead(11, num_classes=2, hidden_dim=16, nms="hard", max_detections=5)
    first, last = fit(lambda: head.loss(head(batch.features, batch, stream), batch)["loss"], head.parameters(), 150, 3e-2)
    assert last < first / 5
    entries = head.predict(head(batch.features, batch, stream), batch)
    top = entries[0]
    assert len(top["segments"]) <= 5 and top["labels"][0] == 1 and top["scores"] == sorted(top["scores"], reverse=True)
    assert top["segments"][0] == pytest.approx([2.0, 6.0], abs=0.5)


# -- end to end ---------------------------------------------------------------------------
@pytest.mark.slow
def test_end_to_end_demo_beats_chance(tmp_path, monkeypatch):
    """Train on demo data through the Runner; average mAP must end far above chance.

    Chance: the metric on 20 random detections (random class, segment, score) per val video,
    computed here with a fixed seed (a few points). Threshold: average_mAP >= 50 and >= 5 x chance.
    """
    import videollm_core.engine.runner as runner_mod
    from videollm_core.config import load_config

    monkeypatch.setenv("VIDEOLLM_CACHE", str(tmp_path / "cache"))
    example = Path(__file__).resolve().parents[2] / "examples" / "moment_query.yaml"
    cfg = load_config(example, {"work_dir": str(tmp_path / "wd"), "train.max_steps": 60, "train.eval_every": 60, "train.log_every": 60})
    runner_mod.Runner(cfg).train()
    val = [json.loads(line) for line in (tmp_path / "wd" / "metrics.jsonl").read_text().splitlines() if '"val"' in line][-1]
    ds = ActivityNetDetectionDataset(split="Test", demo={"num_videos": 32, "seed": 0, "feature_dim": 32})
    gt = ds.ground_truth()
    rng = np.random.default_rng(0)
    rand = {"results": {v: [{"label": ds.class_names()[int(rng.integers(len(ds.class_names())))], "segment": sorted(rng.uniform(0, d["duration"], 2).tolist()),
                             "score": float(rng.random())} for _ in range(20)] for v, d in gt.items()}}
    chance = MomentQueryMetric().evaluate(rand, gt)
    assert val["moment_query/average_mAP"] >= max(50.0, 5 * chance["average_mAP"]), (val, chance)
    preds = list((tmp_path / "wd" / "predictions").glob("*.json"))
    assert preds and "results" in MomentQueryMetric().load_predictions(preds[0])

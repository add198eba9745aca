"""Action segmentation: MS-TCN metric (hand-computed cases, edge cases), MS-TCN files,
the Breakfast dataset on the real ground truth, the head on random hidden states."""
from __future__ import annotations

import json
import subprocess
import tarfile

import numpy as np
import pytest
import torch

from videollm_core.errors import DataError
from videollm_core.types import StreamInputs, TokenSequence
from videollm_plugins.tasks.action_segmentation import formats
from videollm_plugins.tasks.action_segmentation.dataset import BreakfastDataset
from videollm_plugins.tasks.action_segmentation.head import ActionSegmentationHead
from videollm_plugins.tasks.action_segmentation.metric import ActionSegmentationMetric, edit_score, get_segments, segmentation_scores
from shared_paths import SHARED_DATA, needs_shared_data

BREAKFAST = SHARED_DATA / "breakfast"
needs_breakfast = needs_shared_data("breakfast/groundTruth.tar.gz", "breakfast/mapping.txt", "breakfast/splits")


def scores(pred: str, gt: str, **kw) -> dict[str, float]:
    return segmentation_scores({"v": list(pred)}, {"v": list(gt)}, **kw)


# -- metric: hand-computed ---------------------------------------------------------
def test_hand_computed_video_and_ge_threshold():
    # GT A[0,3) B[3,5) C[5,9]; pred A[0,1) B[1,5) C[5,9]: IoU A 1/3, B 2/4 = 0.5 exactly, C 1
    out = scores("ABBBBCCCCC", "AAABBCCCCC")
    assert out["Acc"] == pytest.approx(80.0)
    assert out["Edit"] == pytest.approx(100.0)
    assert out["F1@10"] == pytest.approx(100.0)
    assert out["F1@25"] == pytest.approx(100.0)
    # at 0.5: B (IoU == 0.5) is a TP because the test is >=; A is a FP and its GT a FN
    assert out["F1@50"] == pytest.approx(200 / 3)


def test_last_segment_ends_at_f_minus_1_like_mstcn():
    # reference: pred "AAAB" -> A[0,3), B[3,3] (zero length, IoU 0 with GT B[2,3]) -> FP
    assert get_segments(list("AAAB"))[-1].end == 3
    out = scores("AAAB", "AABB")
    assert out["F1@50"] == pytest.approx(50.0)
    # a perfect prediction whose last segment is one frame long: 0/0 IoU -> FP, as in eval.py
    assert scores("AAB", "AAB")["F1@10"] == pytest.approx(50.0)


def test_sil_is_counted_unless_background():
    gt, pred = ["SIL", "SIL", "A", "A", "SIL"], ["A", "A", "A", "A", "SIL"]
    assert edit_score(pred, gt) == pytest.approx(100 * (1 - 1 / 3))
    assert edit_score(pred, gt, bg_class=["SIL"]) == pytest.approx(100.0)


def test_acc_micro_edit_macro_f1_pooled():
    gt = {"a": list("AAAAAAAAAA"), "b": list("YY")}
    pred = {"a": list("AAAAAAAAAA"), "b": list("XX")}
    out = segmentation_scores(pred, gt)
    assert out["Acc"] == pytest.approx(100 * 10 / 12)
    assert out["Edit"] == pytest.approx(50.0)
    # TP 1 (a), FP 1 (b: class X absent from the GT), FN 1 -> P = R = 0.5
    assert out["F1@50"] == pytest.approx(50.0)


def test_empty_segments_and_extra_frames():
    gt = {"v": ["background"] * 4}
    out = segmentation_scores({"v": ["background"] * 4}, gt)
    assert out["Edit"] == 100.0 and out["F1@10"] == 0.0 and out["Acc"] == 100.0
    # predictions longer than the GT are cut to the GT's length (the reference loops over GT)
    assert scores("AAB" + "ZZZ", "AAB")["Acc"] == pytest.approx(100.0)


def test_metric_errors_on_missing_or_short_predictions():
    m = ActionSegmentationMetric()
    with pytest.raises(DataError, match="no prediction"):
        m.evaluate({}, {"v": ["SIL"]})
    with pytest.raises(DataError, match="frames"):
        m.evaluate({"v": []}, {"v": ["SIL"]})


# -- official files + CLI-ready API ---------------------------------------------------
def test_result_files_round_trip_and_bundle(tmp_path):
    m = ActionSegmentationMetric(class_names=["SIL", "take_cup"])
    preds = m.format_predictions([{"video_id": "P03_cam01_P03_tea", "frame_labels": [0, 1, 1]}])
    assert preds == {"P03_cam01_P03_tea": ["SIL", "take_cup", "take_cup"]}
    m.save_predictions(preds, tmp_path / "pred")
    text = (tmp_path / "pred" / "P03_cam01_P03_tea").read_text()
    assert text == "### Frame level recognition: ###\nSIL take_cup take_cup"
    assert m.load_predictions(tmp_path / "pred") == preds
    (tmp_path / "root" / "groundTruth").mkdir(parents=True)
    (tmp_path / "root" / "splits").mkdir()
    formats.write_frame_labels(["SIL", "take_cup", "SIL"], tmp_path / "root" / "groundTruth" / "P03_cam01_P03_tea.txt")
    (tmp_path / "root" / "splits" / "test.split1.bundle").write_text("P03_cam01_P03_tea.txt\n")
    gt = m.load_ground_truth(tmp_path / "root" / "splits" / "test.split1.bundle")
    assert gt == m.load_ground_truth(tmp_path / "root" / "groundTruth") == {"P03_cam01_P03_tea": ["SIL", "take_cup", "SIL"]}
    out = m.evaluate(m.load_predictions(tmp_path / "pred"), gt)
    assert list(out) == list(m.keys) and out["Acc"] == pytest.approx(200 / 3)
    assert m.plot(preds, gt, tmp_path / "p.png") and (tmp_path / "p.png").stat().st_size > 0


def test_cli_evaluate_json(tmp_path):
    m = ActionSegmentationMetric()
    (tmp_path / "gt").mkdir()
    formats.write_frame_labels(list("AAABBCCCCC"), tmp_path / "gt" / "v.txt")
    m.save_predictions({"v": list("ABBBBCCCCC")}, tmp_path / "pred")
    out = subprocess.run(
        ["videollm", "evaluate", "action_segmentation", "--ground-truth", str(tmp_path / "gt"), "--predictions", str(tmp_path / "pred"), "--json"],
        capture_output=True, text=True, check=True,
    )
    got = json.loads(out.stdout)
    assert set(got) == {"Acc", "Edit", "F1@10", "F1@25", "F1@50"}
    assert got["F1@50"] == pytest.approx(200 / 3) and got["Acc"] == pytest.approx(80.0)


# -- the real Breakfast ground truth -----------------------------------------------------
@pytest.fixture(scope="module")
def breakfast_root(tmp_path_factory):
    """MS-TCN layout with the real mapping, splits and ground truth of split-1 test, generated features [Df=4, F]."""
    root = tmp_path_factory.mktemp("breakfast")
    with tarfile.open(BREAKFAST / "groundTruth.tar.gz") as tar:
        tar.extractall(root, filter="data")
    (root / "splits").mkdir()
    (root / "mapping.txt").write_bytes((BREAKFAST / "mapping.txt").read_bytes())
    for f in (BREAKFAST / "splits").iterdir():
        (root / "splits" / f.name).write_bytes(f.read_bytes())
    (root / "features").mkdir()
    rng = np.random.default_rng(0)
    for name in formats.read_bundle(root / "splits" / "test.split1.bundle"):
        n = len(formats.read_frame_labels(root / "groundTruth" / name))
        np.save(root / "features" / f"{formats.video_id_of(name)}.npy", rng.normal(size=(4, n)).astype(np.float32))
    return root


@needs_breakfast
def test_real_breakfast_split1_test_loads(breakfast_root):
    ds = BreakfastDataset(data_root=str(breakfast_root), split="test", split_index=1, feature_dim=4)
    assert len(ds) == 252 and ds.head_args() == {"num_classes": 48}
    assert ds.class_names()[0] == "SIL" and ds.class_names()[47] == "stir_tea"
    sample = ds[0]
    vid = sample["meta"]["video_id"]
    assert vid == "P03_cam01_P03_cereals"
    gt = formats.read_frame_labels(breakfast_root / "groundTruth" / f"{vid}.txt")
    assert sample["features"].shape == (len(gt), 4) and sample["meta"]["num_frames"] == len(gt)
    assert sample["timestamps"][1].tolist() == pytest.approx([1 / 15, 2 / 15])
    assert sample["targets"]["labels"][0] == 0  # videos start with SIL (counted as a class)
    assert ds.ground_truth()[vid] == gt
    # the metric scores a perfect prediction of the real ground truth at 100 (SIL counted)
    m = ActionSegmentationMetric(**ds.metric_args())
    truth = {k: ds.ground_truth()[k] for k in list(ds.ground_truth())[:20]}
    out = m.evaluate(truth, truth)
    assert out["Acc"] == 100.0 and out["Edit"] == 100.0 and out["F1@10"] > 90.0


@needs_breakfast
def test_feature_stride_subsamples_like_mstcn(breakfast_root, tmp_path):
    name = "P03_cam01_P03_cereals"
    n = len(formats.read_frame_labels(breakfast_root / "groundTruth" / f"{name}.txt"))
    (tmp_path / "f").mkdir()
    np.save(tmp_path / "f" / f"{name}.npy", np.zeros((-(-n // 4), 4), dtype=np.float32))
    (tmp_path / "b.bundle").write_text(f"{name}.txt\n")
    ds = BreakfastDataset(
        bundle=str(tmp_path / "b.bundle"), ground_truth_dir=str(breakfast_root / "groundTruth"),
        mapping=str(breakfast_root / "mapping.txt"), features_dir=str(tmp_path / "f"),
        feature_stride=4, channels_first=False, feature_dim=4,
    )
    s = ds[0]
    assert s["features"].shape[0] == -(-n // 4) and s["timestamps"][0].tolist() == pytest.approx([0.0, 4 / 15])
    full = ds.class_names().index
    assert s["targets"]["labels"].tolist() == [full(x) for x in ds.ground_truth()[name][::4]]


@pytest.mark.parametrize(
    "breakage, match",
    [
        ("missing", "not found"),
        ("nan", "non-finite"),
        ("dim", "does not match the encoder"),
        ("short", "feature steps"),
        ("corrupt", "cannot read"),
        ("label", "unknown class"),
        ("unsafe", "unsafe video id"),
    ],
)
@needs_breakfast
def test_broken_inputs_raise_or_skip(breakfast_root, tmp_path, breakage, match):
    names = ["P03_cam01_P03_cereals", "P03_cam01_P03_coffee"]
    gt_dir, feat_dir = tmp_path / "groundTruth", tmp_path / "features"
    gt_dir.mkdir(), feat_dir.mkdir()
    for name in names:
        (gt_dir / f"{name}.txt").write_bytes((breakfast_root / "groundTruth" / f"{name}.txt").read_bytes())
        (feat_dir / f"{name}.npy").write_bytes((breakfast_root / "features" / f"{name}.npy").read_bytes())
    bad = names[1]
    bundle = [f"{n}.txt" for n in names]
    arr = np.load(feat_dir / f"{bad}.npy")
    if breakage == "missing":
        (feat_dir / f"{bad}.npy").unlink()
    elif breakage == "nan":
        arr[2, 7] = np.nan
        np.save(feat_dir / f"{bad}.npy", arr)
    elif breakage == "dim":
        np.save(feat_dir / f"{bad}.npy", arr[:3])
    elif breakage == "short":
        np.save(feat_dir / f"{bad}.npy", arr[:, : arr.shape[1] // 2])
    elif breakage == "corrupt":
        (feat_dir / f"{bad}.npy").write_bytes(b"\x93NUMPY garbage")
    elif breakage == "label":
        with open(gt_dir / f"{bad}.txt", "a") as f:
            f.write("eat_cake\n")
    elif breakage == "unsafe":
        bundle[1] = "../x.txt"
    (tmp_path / "b.bundle").write_text("\n".join(bundle) + "\n")
    kw = dict(bundle=str(tmp_path / "b.bundle"), ground_truth_dir=str(gt_dir), mapping=str(breakfast_root / "mapping.txt"),
              features_dir=str(feat_dir), feature_dim=4)
    with pytest.raises(DataError, match=match) as err:
        BreakfastDataset(**kw)
    assert err.value.where  # names the file (and row)
    ds = BreakfastDataset(on_error="skip", **kw)
    assert len(ds) == 1 and len(ds.skipped) == 1 and match in ds.skipped[0]


# -- head ------------------------------------------------------------------------------
def _stream(spans: torch.Tensor, mask: torch.Tensor, dim: int = 8) -> StreamInputs:
    b, n = mask.shape
    vis = TokenSequence(embeds=torch.zeros(b, n, dim), mask=mask, spans=spans)
    return StreamInputs(visual=vis, embeds=vis.embeds, mask=mask, visual_positions=torch.arange(n).expand(b, n))


def test_head_loss_and_frames_back_from_units():
    from videollm_core.base import pad_collate

    torch.manual_seed(0)
    # video of 10 frames at 5 fps, one feature step per frame, units of 4 steps: [0,.8) [.8,1.6) [1.6,2.0)
    samples = [{
        "features": np.zeros((10, 3), np.float32),
        "timestamps": np.stack([np.arange(10) / 5, np.arange(1, 11) / 5], 1).astype(np.float32),
        "targets": {"labels": np.array([0, 0, 0, 1, 1, 1, 1, 1, 2, 2])},
        "meta": {"video_id": "v", "fps": 5.0, "num_frames": 12},
    }]
    batch = pad_collate(samples)
    spans = torch.tensor([[[0.0, 0.8], [0.8, 1.6], [1.6, 2.0]]])
    mask = torch.ones(1, 3, dtype=torch.bool)
    head = ActionSegmentationHead(in_dim=8, num_classes=3)
    out = head(torch.randn(1, 3, 8, requires_grad=True), batch, _stream(spans, mask))
    losses = head.loss(out, batch)
    assert torch.isfinite(losses["loss"]) and set(losses) == {"loss", "loss_cls", "loss_smooth"}
    losses["loss"].backward()
    assert head.classifier.weight.grad.abs().sum() > 0
    # majority targets per unit are 0 (3 of 4 steps), 1, 2: logits saying exactly that give a tiny CE
    out["logits"] = torch.tensor([[[9.0, 0, 0], [0, 9.0, 0], [0, 0, 9.0]]])
    assert head.loss(out, batch)["loss_cls"] < 1e-3
    entry = head.predict(out, batch)[0]
    # 12 GT frames (2 past the features) get the class of the unit containing their centre
    assert entry == {"video_id": "v", "frame_labels": [0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2]}

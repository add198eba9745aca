"""plugins/tasks/common/detection.py: tIoU variants, VOC AP, ActivityNet matching, Recall@kx, NMS."""
from __future__ import annotations

import numpy as np
import pytest

from videollm_plugins.tasks.common.detection import (
    detection_ap, detection_map, nms, recall_at_kx, soft_nms, tiou, tiou_matrix, voc_ap,
)


def test_tiou_variants():
    assert tiou([0, 10], [5, 15]) == pytest.approx(5 / 15)
    assert tiou([0, 10], [5, 15], "paired") == pytest.approx(5 / 15)  # overlapping: same as anet
    assert tiou([0, 2], [5, 9]) == 0 and tiou([0, 2], [5, 9], "paired") == 0  # disjoint: 0 either way
    assert tiou([0, 10], [5, 15], "soda") == pytest.approx(5 / (15 + 1e-8))
    assert tiou([3, 3], [3, 3]) == 0.0 and tiou([3, 3], [3, 3], "paired") == 0.0  # zero union guarded, no NaN
    assert tiou_matrix(np.zeros((0, 2)), [[0, 1]]).shape == (0, 1)
    with pytest.raises(ValueError):
        tiou([0, 1], [0, 1], "bogus")


def test_voc_ap_hand_computed():
    # TP, FP, TP with P = 2: rec .5 .5 1, prec 1 .5 .667 -> .5*1 + .5*.667
    assert voc_ap(np.array([0.5, 0.5, 1.0]), np.array([1.0, 0.5, 2 / 3])) == pytest.approx(0.5 + 0.5 * 2 / 3)
    assert voc_ap(np.array([]), np.array([])) == 0.0


def test_matching_ge_threshold_duplicates_and_stop_rule():
    gt = np.array([[0.0, 10.0]])
    # tIoU exactly 0.5 is a match (>=); the duplicate of a matched detection is a false positive
    ap = detection_ap(gt, ["v"], np.array([[0.0, 5.0], [0.0, 5.0]]), np.array([0.9, 0.8]), ["v", "v"], [0.5, 0.6])
    assert ap.tolist() == [1.0, 0.0]
    # a prediction in a video without GT of its class is a false positive
    ap = detection_ap(gt, ["v"], np.array([[0.0, 10.0], [0.0, 10.0]]), np.array([0.9, 0.95]), ["v", "w"], [0.5])
    assert ap[0] == pytest.approx(0.5)
    # GT visited by descending tIoU: the best GT is taken; once matched, the next (still >= t) is used
    gts = np.array([[0.0, 10.0], [0.0, 8.0]])
    ap = detection_ap(gts, ["v", "v"], np.array([[0.0, 9.0], [0.0, 9.0]]), np.array([0.9, 0.8]), ["v", "v"], [0.5])
    assert ap[0] == 1.0


def test_tied_scores_straddling_tp_fp_keep_input_order():
    gt = np.array([[0.0, 10.0]])
    preds = np.array([[50.0, 60.0], [0.0, 10.0]])  # same score: FP listed first, then TP
    ap_fp_first = detection_ap(gt, ["v"], preds, np.array([0.5, 0.5]), ["v", "v"], [0.5])[0]
    ap_tp_first = detection_ap(gt, ["v"], preds[::-1], np.array([0.5, 0.5]), ["v", "v"], [0.5])[0]
    assert ap_fp_first == pytest.approx(0.5) and ap_tp_first == 1.0  # stable sort: input order breaks ties


def test_map_over_classes_with_gt_only_and_empty_predictions():
    gt = [("v", "a", 0.0, 10.0), ("v", "b", 20.0, 30.0)]
    preds = [("v", "a", 0.0, 10.0, 0.9), ("v", "zzz", 20.0, 30.0, 0.99)]  # "zzz" never in GT: dropped
    mean, aps = detection_map(gt, preds, [0.5])
    assert set(aps) == {"a", "b"} and aps["a"][0] == 1.0 and aps["b"][0] == 0.0 and mean[0] == 0.5
    assert detection_map(gt, [], [0.5, 0.7])[0].tolist() == [0.0, 0.0]
    assert detection_map([], preds, [0.5])[0].tolist() == [0.0]


def test_recall_at_kx():
    gt = [("v", "a", 0.0, 10.0), ("v", "a", 20.0, 30.0), ("v", "b", 0.0, 5.0)]
    preds = [("v", "a", 0.0, 10.0, 0.1), ("v", "a", 21.0, 30.0, 0.2), ("v", "a", 50.0, 60.0, 0.9), ("v", "b", 0.0, 2.5, 0.5)]
    # class a: top-2 by score = [50,60] and [21,30] -> 1 of 2 recalled; class b: tIoU 0.5 >= 0.5 -> recalled
    assert recall_at_kx(gt, preds, k=1, tiou_threshold=0.5) == pytest.approx((0.5 + 1.0) / 2)
    assert recall_at_kx(gt, preds, k=5, tiou_threshold=0.5) == pytest.approx(1.0)
    assert recall_at_kx(gt, [], k=1) == 0.0


def test_nms_and_soft_nms():
    segs = np.array([[0.0, 10.0], [1.0, 10.0], [20.0, 30.0]])
    scores = np.array([0.9, 0.8, 0.7])
    assert nms(segs, scores, 0.5).tolist() == [0, 2]
    assert nms(segs, scores, 0.95).tolist() == [0, 1, 2] and nms(segs, scores, 0.5, max_keep=1).tolist() == [0]
    idx, dec = soft_nms(segs, scores, sigma=0.5)
    assert idx.tolist() == [0, 2, 1]  # the overlapping one decays below the disjoint one
    assert dec[0] == pytest.approx(0.9) and dec[2] == pytest.approx(0.8 * np.exp(-(0.9**2) / 0.5))

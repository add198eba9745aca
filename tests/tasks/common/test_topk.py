"""Class-mean top-k recall (RULSTM / EK100 definition, METRICS.md §2.6)."""
from __future__ import annotations

import math

import numpy as np
import pytest

from videollm_plugins.tasks.common.topk import class_mean_recall, mean_topk_recall, rank_classes, ranked_list_hits, topk_hits


def test_hand_computed_class_mean_not_sample_mean():
    # 3 samples of class 0 (2 hits), 1 sample of class 2 (hit): class-mean = (2/3 + 1)/2, sample-mean would be 3/4
    scores = np.array([[0.9, 0.1, 0.0], [0.1, 0.9, 0.0], [0.8, 0.2, 0.0], [0.0, 0.1, 0.9]])
    labels = [0, 0, 0, 2]
    assert topk_hits(scores, labels, k=1).tolist() == [True, False, True, True]
    assert mean_topk_recall(scores, labels, k=1) == pytest.approx((2 / 3 + 1) / 2)


def test_absent_classes_ignored_and_restricted_set():
    hits, labels = [True, False, False], [1, 1, 4]
    assert class_mean_recall(hits, labels) == pytest.approx(0.25)  # classes 1 (1/2) and 4 (0/1)
    assert class_mean_recall(hits, labels, classes={1, 7}) == pytest.approx(0.5)  # 7 never occurs: ignored
    assert math.isnan(class_mean_recall([], []))


def test_ties_are_stable_lower_id_first():
    scores = np.array([[0.5, 0.5, 0.5, 0.1]])
    assert rank_classes(scores)[0].tolist() == [0, 1, 2, 3]
    assert topk_hits(scores, [2], k=2).tolist() == [False]  # 2 is third among the tied
    assert topk_hits(scores, [1], k=2).tolist() == [True]


def test_ranked_lists_miss_outside():
    assert ranked_list_hits([["1,2", "3,4"], ["5,5"]], ["3,4", "9,9"], k=5).tolist() == [True, False]


def test_length_mismatch_raises():
    with pytest.raises(ValueError):
        class_mean_recall([True], [1, 2])

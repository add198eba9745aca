"""Per-frame AP (METRICS.md §2.7): sklearn's definition, reimplemented; hand-computed cases."""
from __future__ import annotations

import math

import numpy as np
import pytest

from videollm_plugins.tasks.common.average_precision import average_precision


def test_hand_computed_ranking():
    # ranking: P N P N -> precision at the positives 1/1 and 2/3; recall steps 1/2 each
    assert average_precision([1, 0, 1, 0], [0.9, 0.8, 0.7, 0.6]) == pytest.approx(0.5 * 1 + 0.5 * 2 / 3)


def test_ties_enter_together():
    # the top two are tied (one positive, one negative): one threshold with P = 1/2, R = 1/2;
    # then the second positive at P = 2/3, R = 1
    assert average_precision([1, 0, 1], [0.5, 0.5, 0.1]) == pytest.approx(0.5 * 0.5 + 0.5 * 2 / 3)
    # order inside the tie does not matter
    assert average_precision([0, 1, 1], [0.5, 0.5, 0.1]) == pytest.approx(0.5 * 0.5 + 0.5 * 2 / 3)


def test_perfect_and_worst_and_no_positive():
    assert average_precision([1, 1, 0, 0], [4, 3, 2, 1]) == pytest.approx(1.0)
    assert average_precision([0, 0, 1], [3, 2, 1]) == pytest.approx(1 / 3)
    assert math.isnan(average_precision([0, 0], [1, 2]))
    with pytest.raises(ValueError):
        average_precision([1, 0], [1.0])


def test_matches_sklearn_on_tie_heavy_data():
    sklearn_metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(0)
    for _ in range(200):
        n = int(rng.integers(2, 40))
        y = rng.random(n) < 0.3
        if not y.any():
            y[0] = True
        s = rng.integers(0, 5, n) / 4.0  # few distinct values: many ties
        assert average_precision(y, s) == pytest.approx(sklearn_metrics.average_precision_score(y, s), abs=1e-12)


def test_float16_scores_radix_path_equals_float64():
    rng = np.random.default_rng(1)
    for scale in (0.01, 1.0, 300.0):
        s = (rng.normal(size=2000) * scale).astype(np.float16)  # negatives, zeros, ties from the rounding
        s[rng.random(2000) < 0.2] = 0
        y = rng.random(2000) < 0.1
        assert average_precision(y, s) == pytest.approx(average_precision(y, s.astype(np.float64)), abs=1e-12)

"""The neighbour trial's features: class shares, agreement, trust score, a spread rebuilt from fractions."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.neighbour_confidence import agreement_logit, class_shares, spread_of, trust_score
from core.inference.uncertainty import Spread


def test_class_shares_count_only_the_first_k_neighbours():
    labels = np.array([[0, 0, 3, 5], [4, 4, 4, 4]])
    shares = class_shares(labels, 3)
    assert shares.shape == (2, 6)
    assert shares[0].tolist() == pytest.approx([2 / 3, 0, 0, 1 / 3, 0, 0])
    assert shares[1, 4] == 1.0 and shares.sum(axis=1).tolist() == pytest.approx([1.0, 1.0])


def test_agreement_is_smoothed_so_unanimity_stays_finite_and_ordered():
    labels = np.array([[1, 1, 1, 1], [1, 1, 0, 0], [0, 0, 0, 0]])
    a = agreement_logit(labels, np.array([1, 1, 1]), 4)
    assert np.isfinite(a).all()
    assert a[0] > a[1] > a[2]
    assert a[1] == pytest.approx(np.log(2.5 / 2.5))  # 2 of 4 agree: (2 + 0.5) / 5 = 0.5


def test_trust_score_compares_the_nearest_of_each_kind():
    labels = np.array([[2, 0, 2], [0, 2, 2], [2, 2, 2]])
    dist = np.array([[0.1, 0.4, 0.5], [0.1, 0.4, 0.5], [0.1, 0.2, 0.3]])
    t = trust_score(labels, dist, np.array([2, 2, 2]))
    assert t[0] > 0 > t[1]                        # own class nearest vs another class nearest
    assert t[2] == pytest.approx(np.log((2.0 + 1e-4) / (0.1 + 1e-4)))  # no other class among them: capped at 2


def test_spread_of_reads_top_answer_and_margin_from_the_fractions():
    like = Spread(sd=np.zeros((2, 9)), top=np.array([0, 0]), p_top=np.array([0.9, 0.9]),
                  margin=np.array([0.8, 0.8]), agreement=np.ones(2))
    s = spread_of(np.array([[0.2, 0.5, 0.3, 0, 0, 0], [0.6, 0, 0, 0.4, 0, 0]]), like)
    assert s.top.tolist() == [1, 0]
    assert s.p_top.tolist() == pytest.approx([0.5, 0.6])
    assert s.margin.tolist() == pytest.approx([0.2, 0.2])


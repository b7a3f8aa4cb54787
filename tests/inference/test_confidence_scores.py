"""ECE, accuracy at coverage and AUROC on cases worked by hand."""

from __future__ import annotations

import numpy as np
import pytest

from core.inference.confidence_scores import (
    accuracy_at_coverage,
    auroc,
    confidence_report,
    coverage_curve,
    expected_calibration_error,
    reliability_bins,
)


def test_ece_by_hand():
    # bin 9: confidence 0.9, accuracy 0.5 -> 0.4 x 1/2; bin 1: confidence 0.1, accuracy 0 -> 0.1 x 1/2
    assert expected_calibration_error([0.9, 0.9, 0.1, 0.1], [1, 0, 0, 0]) == pytest.approx(0.25)


def test_ece_is_small_for_calibrated_confidence():
    rng = np.random.default_rng(0)
    conf = rng.uniform(0, 1, 20_000)
    assert expected_calibration_error(conf, rng.uniform(0, 1, conf.size) < conf) < 0.02
    assert expected_calibration_error(conf, np.ones(conf.size, bool)) > 0.4  # always right, unsure: off


def test_reliability_bins_put_one_in_the_last_bin():
    bins = reliability_bins([1.0, 0.0, 0.55], [1, 0, 1])
    assert [b["n"] for b in bins] == [1, 0, 0, 0, 0, 1, 0, 0, 0, 1]
    assert bins[9]["accuracy"] == 1.0 and bins[1]["confidence"] is None


def test_accuracy_at_coverage_and_curve():
    conf, ok = [0.9, 0.8, 0.7, 0.6, 0.5], [1, 1, 0, 1, 0]
    assert accuracy_at_coverage(conf, ok, 0.4) == 1.0   # the 2 most confident
    assert accuracy_at_coverage(conf, ok, 0.8) == 0.75  # the 4 most confident
    cov, acc = coverage_curve(conf, ok)
    assert cov.tolist() == [0.2, 0.4, 0.6, 0.8, 1.0]
    assert acc[-1] == pytest.approx(0.6)
    with pytest.raises(ValueError, match="coverage"):
        accuracy_at_coverage(conf, ok, 0)


def test_auroc():
    assert auroc([0.9, 0.8, 0.2, 0.1], [1, 1, 0, 0]) == 1.0
    assert auroc([0.1, 0.2, 0.8, 0.9], [1, 1, 0, 0]) == 0.0
    assert auroc([0.5, 0.6], [1, 1]) is None  # nothing wrong to tell apart


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="same length"):
        expected_calibration_error([0.5], [1, 0])
    with pytest.raises(ValueError, match="probabilities"):
        expected_calibration_error([np.nan], [1])
    with pytest.raises(ValueError, match="probabilities"):
        auroc([1.5, 0.2], [1, 0])


def test_report_is_json_ready():
    import json

    r = confidence_report([0.9, 0.8, 0.3], [1, 0, 0])
    assert json.loads(json.dumps(r))["n"] == 3 and len(r["bins"]) == 10

"""TOP_P calibrators: fitted on validation galaxies, stored as plain numbers, refused when unusable."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from core.inference.calibration import (
    CALIBRATION_NAME,
    MIX_SHIFT_LIMIT,
    PLAIN,
    TOP_ANSWER_FEATURES,
    TTA,
    CalibrationError,
    RunCalibration,
    answer_mix,
    fit_calibrator,
    load_calibration,
    mix_distance,
    save_calibration,
)
from core.inference.confidence_scores import expected_calibration_error
from core.inference.uncertainty import Spread


def synthetic(n: int, seed: int) -> tuple[Spread, np.ndarray]:
    """Spreads whose top answer is right with probability p_top ** 2 (the raw fraction is over-confident)."""
    rng = np.random.default_rng(seed)
    p_top = rng.uniform(0.2, 1.0, n)
    sd = np.zeros((n, 9))
    sd[:, 0] = (1 - p_top) * rng.uniform(0.05, 0.2, n)
    s = Spread(sd=sd, top=np.zeros(n, int), p_top=p_top, margin=p_top * rng.uniform(0.3, 1, n),
               agreement=np.clip(p_top + rng.normal(0, 0.1, n), 0, 1))
    return s, rng.uniform(0, 1, n) < p_top ** 2


def test_fitted_top_p_is_calibrated_on_fresh_galaxies():
    fit, right = synthetic(3000, 0)
    cal = fit_calibrator(fit, 17, right)
    fresh, fresh_right = synthetic(20000, 1)
    top_p = cal.top_p(fresh)
    assert top_p.dtype == np.float32 and ((top_p >= 0) & (top_p <= 1)).all()
    assert expected_calibration_error(top_p, fresh_right) < 0.03
    assert expected_calibration_error(fresh.p_top, fresh_right) > 0.1  # the raw fraction is not
    assert cal.fitted["n"] == 3000 and 0 < cal.fitted["accuracy"] < 1


def test_too_few_galaxies_or_no_wrong_answer_is_refused():
    s, right = synthetic(40, 0)
    with pytest.raises(CalibrationError, match="at least 50"):
        fit_calibrator(s, 1, right)
    s, _ = synthetic(200, 0)
    with pytest.raises(CalibrationError, match="5 wrong"):
        fit_calibrator(s, 1, np.ones(200, bool))


def test_saved_calibration_is_plain_json_and_predicts_the_same(tmp_path: Path):
    s, right = synthetic(500, 2)
    cal = fit_calibrator(s, 17, right)
    save_calibration(tmp_path, RunCalibration({PLAIN: cal, TTA: cal}, {"run": "x"}))
    text = (tmp_path / CALIBRATION_NAME).read_text()
    assert json.loads(text)["version"] == 1
    back = load_calibration(tmp_path)
    assert back.source == {"run": "x"} and back.for_tta(True) is not None
    assert np.array_equal(back.for_tta(False).top_p(s), cal.top_p(s))
    assert load_calibration(tmp_path / "none") is None


@pytest.mark.parametrize("mangle, message", [
    (lambda d: "not json{", "not valid JSON"),
    (lambda d: {**d, "version": 99}, "version 1"),
    (lambda d: {**d, "calibrators": {"sometimes": d["calibrators"]["plain"]}}, "unknown calibrator key"),
    (lambda d: {**d, "calibrators": {"plain": {**d["calibrators"]["plain"], "coef": [1.0]}}}, "finite numbers"),
    (lambda d: {**d, "calibrators": {"plain": {**d["calibrators"]["plain"], "scale": [0] + [1] * (len(d["calibrators"]["plain"]["scale"]) - 1)}}}, "scale > 0"),
    (lambda d: {**d, "calibrators": {"plain": {**d["calibrators"]["plain"], "features": [f"f{i}" for i in range(len(d["calibrators"]["plain"]["features"]))]}}},
     "unknown calibration feature"),
    (lambda d: {**d, "calibrators": {"plain": {"features": []}}}, "not a calibrator"),
])
def test_an_unusable_calibration_file_is_named(tmp_path: Path, mangle, message):
    s, right = synthetic(300, 3)
    save_calibration(tmp_path, RunCalibration({PLAIN: fit_calibrator(s, 5, right)}, {}))
    data = json.loads((tmp_path / CALIBRATION_NAME).read_text())
    bad = mangle(data)
    (tmp_path / CALIBRATION_NAME).write_text(bad if isinstance(bad, str) else json.dumps(bad))
    with pytest.raises(CalibrationError, match=message) as err:
        load_calibration(tmp_path)
    assert CALIBRATION_NAME in str(err.value)


def test_each_kind_of_top_answer_is_trusted_on_its_own_record():
    """Equal largest fractions, but 'don't know' answers were right far less often: TOP_P says so."""
    rng = np.random.default_rng(3)
    n = 4000
    top = rng.choice([0, 4], n)  # EL or DK (index 4 of RAW_COLUMNS)
    p_top = rng.uniform(0.4, 1.0, n)
    s = Spread(sd=np.zeros((n, 9)), top=top, p_top=p_top, margin=p_top / 2, agreement=np.ones(n))
    right = rng.uniform(0, 1, n) < np.where(top == 4, 0.3, p_top)
    cal = fit_calibrator(s, 1, right)
    assert "top_is_DK" in cal.features and set(TOP_ANSWER_FEATURES) <= set(cal.features)
    probe = Spread(sd=np.zeros((2, 9)), top=np.array([0, 4]), p_top=np.array([0.9, 0.9]),
                   margin=np.array([0.45, 0.45]), agreement=np.ones(2))
    el, dk = cal.top_p(probe)
    assert el > 0.7 and dk < 0.45


def test_a_calibrator_of_the_first_four_features_still_predicts():
    s, right = synthetic(500, 4)
    names = ("logit_p_top", "margin", "logit_agreement", "log_sd_top")
    old = fit_calibrator(s, 17, right, names)
    again = type(old).from_dict(json.loads(json.dumps(old.as_dict())), "old calibration.json")
    assert again.features == names
    np.testing.assert_allclose(again.top_p(s), old.top_p(s), rtol=1e-6)


def test_origin_says_where_top_p_was_fitted():
    s, right = synthetic(300, 5)
    cal = fit_calibrator(s, 17, right)
    own = RunCalibration({PLAIN: cal}, {"run": "heldout"})
    assert own.origin() == "its 300 validation galaxies"
    copied = RunCalibration({PLAIN: cal}, {"run": "heldout", "copied_to": "demo"})
    assert copied.origin() == "the 300 validation galaxies of its twin heldout (demo held none out)"


def test_the_answer_mix_it_was_fitted_on_is_kept_and_compared():
    s, right = synthetic(400, 6)
    human = np.array([0] * 280 + [3] * 80 + [1] * 40)  # 70 % EL, 20 % EDGE, 10 % CW
    cal = fit_calibrator(s, 17, right, human_top=human)
    assert cal.fitted["answer_mix"] == pytest.approx({"EL": 0.7, "CW": 0.1, "ACW": 0.0, "EDGE": 0.2, "DK": 0.0,
                                                       "MG": 0.0})
    back = type(cal).from_dict(json.loads(json.dumps(cal.as_dict())), "calibration.json")
    mix = RunCalibration({PLAIN: back}, {}).answer_mix()
    assert mix == pytest.approx(cal.fitted["answer_mix"])
    balanced = answer_mix(np.repeat(np.arange(6), 10))  # a set picked to balance the answers
    assert mix_distance(mix, mix) == 0.0
    assert mix_distance(mix, balanced) == pytest.approx(0.5 * (abs(0.7 - 1 / 6) + abs(0.1 - 1 / 6) + 3 / 6
                                                               + abs(0.2 - 1 / 6)))
    assert mix_distance(mix, balanced) > MIX_SHIFT_LIMIT > mix_distance(mix, answer_mix(human[::2]))
    assert mix_distance({"EL": 1.0}, {"MG": 1.0}) == 1.0


def test_a_file_without_a_valid_answer_mix_says_so():
    s, right = synthetic(300, 7)
    assert RunCalibration({PLAIN: fit_calibrator(s, 17, right)}, {}).answer_mix() is None  # written before
    odd = fit_calibrator(s, 17, right)
    for bad in ({"EL": "most"}, {"SPIRAL": 1.0}, {"EL": 1.5}, [0.5, 0.5]):
        odd.fitted["answer_mix"] = bad
        assert RunCalibration({PLAIN: odd}, {}).answer_mix() is None

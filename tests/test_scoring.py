"""core.scoring.score on small hand-made predictions."""

from __future__ import annotations

import numpy as np

from core.labels.targets import one_hot_targets
from core.schema import CLASS_NAMES, VOTE_COLUMNS
from core.scoring import score

COL = {c: i for i, c in enumerate(VOTE_COLUMNS)}


def _pred(raw_rows):
    raw = np.asarray(raw_rows, dtype=float)
    out = np.zeros((len(raw), 9))
    out[:, :6] = raw
    out[:, 6] = raw[:, 1] + raw[:, 2] + raw[:, 3]
    out[:, 7:] = 0.5
    return out


def test_accuracy_recall_and_spin_on_class_labels():
    target = one_hot_targets(np.array([0, 0, 1, 2, 3]))
    pred = _pred([[.8, .1, 0, .1, 0, 0], [.2, .7, .1, 0, 0, 0], [.1, .6, .3, 0, 0, 0],
                  [.1, .5, .4, 0, 0, 0], [0, 0, 0, 1, 0, 0]])
    r = score(pred, target, np.ones(5, dtype=bool))
    assert r["n"] == 5 and r["accuracy"] == 0.6
    assert r["per_class_recall"]["ELLIPTICAL"] == 0.5
    assert r["per_class_recall"]["ANTICLOCKWISE_SPIRAL"] == 0.0
    assert r["per_class_recall"]["MERGER"] is None
    assert np.isclose(r["macro_recall"], np.mean([0.5, 1.0, 0.0, 1.0]))
    assert r["n_spin"] == 2 and r["spin_accuracy"] == 0.5
    assert all(v is None for v in r["rmse"].values())  # class-derived: no vote RMSE
    assert r["rmse_class_derived"]["P_EL"] is not None
    assert sum(map(sum, r["confusion"])) == 5 and set(r["support"]) == set(CLASS_NAMES)


def test_partial_spin_labels_give_spin_accuracy_and_rmse_only():
    target = np.full((3, 9), np.nan)
    target[:, COL["P_CW"]] = [0.9, 0.1, 0.5]
    target[:, COL["P_ACW"]] = [0.0, 0.85, 0.5]  # the tie does not count for spin
    pred = _pred([[0, .6, .2, .2, 0, 0], [0, .6, .3, .1, 0, 0], [0, .5, .5, 0, 0, 0]])
    r = score(pred, target)
    assert r["accuracy"] is None and r["macro_recall"] is None
    assert r["n_spin"] == 2 and r["spin_accuracy"] == 0.5
    assert np.isclose(r["rmse"]["P_CW"], np.sqrt(np.mean(np.square([0.3, 0.5, 0.0]))))
    assert r["rmse"]["P_EL"] is None


def test_no_spirals_means_no_spin_accuracy():
    target = one_hot_targets(np.array([0, 3]))
    r = score(_pred([[1, 0, 0, 0, 0, 0], [0, 0, 0, 1, 0, 0]]), target)
    assert r["spin_accuracy"] is None and r["accuracy"] == 1.0

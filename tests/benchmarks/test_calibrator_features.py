"""The calibrator-feature study scores each feature set out of fold, inside one half of the galaxies."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.calibrator_features import (
    CANDIDATES,
    cross_validate,
    cross_validate_features,
    load_study_run,
    parse_study_args,
)
from core.exit_codes import ExitCode
from core.inference.calibration import FEATURES
from core.inference.uncertainty import Spread


def spreads(n: int, seed: int) -> tuple[Spread, np.ndarray]:
    """Top answers EL (80 %, right with p_top) or DK (right 30 % of the time whatever p_top says)."""
    rng = np.random.default_rng(seed)
    top = rng.choice([0, 4], n, p=[0.8, 0.2])
    p_top = rng.uniform(0.4, 1.0, n)
    s = Spread(sd=np.zeros((n, 9)), top=top, p_top=p_top, margin=p_top / 2, agreement=np.ones(n))
    return s, rng.uniform(0, 1, n) < np.where(top == 4, 0.3, p_top)


def test_knowing_the_answer_kind_ranks_better_out_of_fold():
    s, right = spreads(600, 0)
    plain = cross_validate(s, 1, right, ("logit_p_top",), repeats=2, folds=5)
    with_kind = cross_validate(s, 1, right, CANDIDATES["largest fraction + top answer"], repeats=2, folds=5)
    assert plain.shape == with_kind.shape == (2, 3)  # per repeat: ECE, accuracy at 80 %, AUROC
    assert with_kind[:, 1].mean() > plain[:, 1].mean() + 0.015
    assert with_kind[:, 2].mean() > plain[:, 2].mean() + 0.05


def test_every_candidate_names_known_features_and_take_keeps_rows_aligned():
    assert all(set(names) <= set(FEATURES) for names in CANDIDATES.values())
    s, _ = spreads(10, 1)
    part = s.take(np.array([2, 5]))
    assert list(part.top) == [s.top[2], s.top[5]] and part.sd.shape == (2, 9)


def test_a_study_of_a_missing_run_exits_bad_input_naming_the_file(tmp_path, capsys):
    args = parse_study_args("doc", ["--model", str(tmp_path / "nope"), "--repeats", "3"])
    assert args.repeats == 3 and args.folds == 5
    with pytest.raises(SystemExit) as stop:
        load_study_run(args.model)
    assert stop.value.code == ExitCode.BAD_INPUT
    assert f"{tmp_path / 'nope' / 'config.json'}: missing" in capsys.readouterr().err


def test_a_feature_that_knows_the_errors_ranks_better_out_of_fold():
    rng = np.random.default_rng(0)
    n = 600
    noise = rng.normal(size=(n, 1))
    right = rng.uniform(size=n) < 0.8
    informative = np.column_stack([noise, right + rng.normal(scale=0.5, size=n)])
    blind = cross_validate_features(noise, right, repeats=2, folds=5)
    told = cross_validate_features(informative, right, repeats=2, folds=5)
    assert blind.shape == told.shape == (2, 3)  # per repeat: ECE, accuracy at 80 %, AUROC
    assert told[:, 1].mean() > blind[:, 1].mean() + 0.1
    assert told[:, 2].mean() > 0.85 > 0.65 > blind[:, 2].mean()

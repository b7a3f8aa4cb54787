"""Held-out galaxies from a run's recorded split, their intersection, and the cautions beside a score."""

from __future__ import annotations

import numpy as np
import pytest

from core.inference.held_out import all_galaxies, common_held_out, held_out_mask
from core.scoring import CHANCE_ACCURACY, MIN_RELIABLE_N, score, score_warnings
from core.training.prepare import is_validation

IDS = [f"5877{i:014d}" for i in range(400)]


def test_held_out_mask_is_the_training_split():
    mask = held_out_mask({"seed": 3, "val_fraction": 0.2}, IDS)
    assert np.array_equal(mask, is_validation(IDS, 3, 0.2))
    assert 40 < mask.sum() < 120  # about a fifth
    for nothing_held in ({"seed": 3, "val_fraction": 0.0}, {"seed": 3}, {"val_fraction": None}, {"val_fraction": "x"}):
        assert held_out_mask(nothing_held, IDS) is None


def test_intersection_of_runs_and_runs_that_saw_everything():
    configs = {"a": {"seed": 0, "val_fraction": 0.5}, "b": {"seed": 1, "val_fraction": 0.5},
               "demo": {"seed": 0, "val_fraction": 0}}
    split = common_held_out(configs, IDS)
    expected = is_validation(IDS, 0, 0.5) & is_validation(IDS, 1, 0.5)
    assert np.array_equal(split.mask, expected) and split.n == int(expected.sum())
    assert split.saw_everything == ["demo"]
    only_demo = common_held_out({"demo": configs["demo"]}, IDS)
    assert only_demo.n == len(IDS) and only_demo.saw_everything == ["demo"]
    assert all_galaxies(configs, IDS).saw_everything == ["a", "b", "demo"]


def _scores(n: int, right: int, majority: int) -> dict:
    """Scores of n galaxies, ``majority`` of them elliptical, ``right`` answered correctly."""
    target = np.zeros((n, 9))
    target[:majority, 0] = 1.0
    target[majority:, 3] = 1.0
    pred = target.copy()
    wrong = np.arange(n)[right:]
    pred[wrong] = 0.0
    pred[wrong, 4] = 1.0  # "don't know" is never the human answer here
    return score(pred, target)


def test_baseline_and_chance_are_reported():
    s = _scores(100, right=70, majority=80)
    assert s["accuracy"] == pytest.approx(0.7)
    assert s["baseline_accuracy"] == pytest.approx(0.8) and s["baseline_answer"] == "elliptical"
    assert s["chance_accuracy"] == pytest.approx(1 / 6) == CHANCE_ACCURACY


def test_cautions_below_fifty_below_baseline_and_below_chance():
    assert score_warnings(_scores(100, right=90, majority=80)) == []
    below_base = score_warnings(_scores(100, right=70, majority=80))
    assert len(below_base) == 1 and "below the majority-class baseline" in below_base[0] and "80.0%" in below_base[0]
    below_chance = score_warnings(_scores(100, right=10, majority=50))
    assert len(below_chance) == 1 and "below chance (16.7%" in below_chance[0]
    tiny = score_warnings(_scores(3, right=3, majority=2))
    assert tiny == [f"Only 3 galaxies with a top answer: a figure from fewer than {MIN_RELIABLE_N} means little."]

"""The vote-noise ceiling estimate (benchmarks/vote_noise_ceiling.py) on galaxies whose answer is known."""

from __future__ import annotations

import importlib.util

import pandas as pd
import pytest

from core.schema import RAW_COLUMNS
from tests.support.paths import REPO_ROOT

spec = importlib.util.spec_from_file_location("vote_noise_ceiling", REPO_ROOT / "benchmarks" / "vote_noise_ceiling.py")
ceiling_module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(ceiling_module)


def _table(rows: list[tuple[int, dict]]) -> pd.DataFrame:
    return pd.DataFrame([{"NVOTE": n, **{c: votes.get(c, 0.0) for c in RAW_COLUMNS}} for n, votes in rows])


def test_unanimous_panels_leave_nothing_to_miss():
    table = _table([(30, {"P_EL": 1.0}), (40, {"P_CW": 1.0}), (25, {"P_ACW": 1.0})])
    r = ceiling_module.ceiling(table, {"ELLIPTICAL": 0.5, "CLOCKWISE_SPIRAL": 0.25, "ANTICLOCKWISE_SPIRAL": 0.25},
                               draws=200, seed=0)
    assert r["accuracy"] == r["macro_recall"] == r["spin"] == 1.0
    assert r["recall"]["EDGE_ON"] == (None, 0.0)
    fixed = ceiling_module.corrected(table, r, {"ELLIPTICAL": 1.0}, draws=50, seed=0, rounds=3)
    assert fixed["accuracy"] == fixed["spin"] == 1.0  # re-drawing a unanimous panel changes nothing


def test_the_correction_lowers_a_ceiling_read_off_a_small_panel():
    # 7 of 10 votes EL: a perfect model that read the panel would be over-confident in its lead
    table = _table([(10, {"P_EL": 0.7, "P_EDGE": 0.3})] * 20)
    plug_in = ceiling_module.ceiling(table, {"ELLIPTICAL": 0.5, "EDGE_ON": 0.5}, draws=400, seed=3)
    fixed = ceiling_module.corrected(table, plug_in, {"ELLIPTICAL": 0.5, "EDGE_ON": 0.5}, draws=400, seed=3,
                                     rounds=10)
    assert fixed["macro_recall"] < plug_in["macro_recall"]


def test_an_even_split_is_a_coin_flip_and_a_clear_lead_is_not():
    even = ceiling_module.ceiling(_table([(1000, {"P_CW": 0.5, "P_ACW": 0.5})]), {"CLOCKWISE_SPIRAL": 1.0},
                                  draws=4000, seed=1)
    assert even["spin"] == pytest.approx(0.5, abs=0.03)
    # 60/40 over 40 votes: the second answer tops a panel about 9 % of the time (binomial tail)
    lead = ceiling_module.ceiling(_table([(40, {"P_EL": 0.6, "P_EDGE": 0.4})]), {"ELLIPTICAL": 1.0},
                                  draws=4000, seed=2)
    assert lead["spin"] is None  # no panel said CW or ACW
    assert lead["recall"]["ELLIPTICAL"][0] == 1.0  # the perfect model answers EL; every EL label agrees
    assert 0.05 < 1 - lead["recall"]["ELLIPTICAL"][1] < 0.14  # share of panels that said EDGE_ON


def test_the_real_sample_runs_from_the_command_line(capsys, monkeypatch):
    monkeypatch.setattr("sys.argv", ["vote_noise_ceiling.py", "--draws", "50", "--rounds", "2"])
    assert ceiling_module.main() == 0
    out = capsys.readouterr().out
    assert "695 galaxies" in out and "accuracy at that mix" in out and "AUROC right vs wrong, ideal" in out


def test_how_sure_ranks_clear_leads_above_close_calls():
    # half the galaxies unanimous, half a 55/45 split of 20 votes: every miss is a close call,
    # so the most certain 80 % holds all the unanimous ones and the misses rank last
    table = _table([(20, {"P_EL": 1.0})] * 10 + [(20, {"P_EL": 0.55, "P_EDGE": 0.45})] * 10)
    r = ceiling_module.ceiling(table, {"ELLIPTICAL": 0.7, "EDGE_ON": 0.3}, draws=400, seed=4)
    assert r["accuracy"] < 0.9
    for conf in ceiling_module.CONFIDENCES:
        assert r[f"acc80 {conf}"] > r["accuracy"]
        assert r[f"auroc {conf}"] > 0.6
    unanimous = ceiling_module.ceiling(_table([(20, {"P_EL": 1.0})] * 3), {"ELLIPTICAL": 1.0}, draws=50, seed=0)
    assert unanimous["acc80 ideal"] == 1.0 and unanimous["auroc ideal"] is None  # nothing wrong to tell apart

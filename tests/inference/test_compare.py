"""core.inference.compare: disagreement, leaderboard over run folders, two runs side by side."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.inference.compare import (
    LEADERBOARD_COLUMNS,
    agreement_summary,
    disagreement,
    evaluate_run,
    galaxy_table,
    leaderboard,
    score_prediction,
    side_by_side,
    top_answer,
)
from core.inference.galaxy_sets import combine_sets, set_from_catalog_file
from core.inference.predict import load_run
from core.schema import VOTE_COLUMNS
from core.scoring import score
from tests.support.tiny_runs import FIXTURES, make_run


@pytest.fixture(scope="module")
def fixture_set():
    return combine_sets([set_from_catalog_file(FIXTURES / "gz1" / "labels.csv", FIXTURES / "gz1"),
                         set_from_catalog_file(FIXTURES / "spin" / "labels.csv", FIXTURES / "spin")], "fixtures")


def test_disagreement_uses_only_shared_columns():
    a = np.array([[0.5, 0.1, 0.1, 0.1, 0.1, 0.1, 0.3, 0.4, 0.6]] * 3)
    b = np.full((3, 9), np.nan)
    b[0] = a[0]
    b[0, 2] = 0.9                        # one column 0.8 apart
    b[1, [1, 2]] = [0.1, 0.4]            # partial label: only spin columns known
    value, col = disagreement(a, b)
    assert value[0] == pytest.approx(0.8) and VOTE_COLUMNS[col[0]] == "P_ACW"
    assert value[1] == pytest.approx(0.3) and VOTE_COLUMNS[col[1]] == "P_ACW"
    assert np.isnan(value[2]) and col[2] == -1  # unlabelled galaxy


def test_fixture_set_labels_are_named_by_kind(fixture_set):
    kinds = dict(zip(fixture_set.ids, fixture_set.label_kind(), strict=False))
    assert kinds["587738947208085695"] == "vote fractions"          # GZ1_P_* present: real votes
    assert kinds["588295840175292498"] == "class-derived"           # CLASS_NAME only
    assert kinds["ra11.876000_dec+16.136900"] == "partial vote fractions"
    assert top_answer(fixture_set.targets)[fixture_set.ids.index("588295840175292498")] == 1  # CW


def test_leaderboard_scores_match_metrics_and_run_facts(tmp_path: Path, fixture_set):
    a = load_run(make_run(tmp_path / "a", seed=1, image_size=32))
    b = load_run(make_run(tmp_path / "b", seed=2, image_size=48, epochs=3))
    ev = [evaluate_run(m, fixture_set) for m in (a, b)]
    board = leaderboard([a, b], ev)
    assert tuple(board.columns) == LEADERBOARD_COLUMNS
    assert list(board.columns[:3]) == ["rank", "run", "accuracy"]
    assert [f"RMSE {c}" for c in VOTE_COLUMNS] == [c for c in board.columns if c.startswith("RMSE")]
    assert board["rank"].tolist() == [1, 2] and not board["self-scored"].any()  # no config given: nothing known
    assert board["not learned"].tolist() == ["", ""]  # tiny runs record all nine columns as learned
    row_b = board.set_index("run").loc["b"]
    assert row_b["image size (px)"] == 48 and row_b["parameters"] == b.n_params
    assert row_b["training time (s)"] == pytest.approx(1.25 + 2.5 + 3.75)  # sum of metrics.csv seconds
    direct = score(ev[1].prediction.fractions, fixture_set.targets, fixture_set.class_derived)
    assert row_b["accuracy"] == direct["accuracy"]
    assert row_b["RMSE P_CW"] == direct["rmse"]["P_CW"]
    assert board["accuracy"].is_monotonic_decreasing


def test_side_by_side_puts_largest_disagreement_first(fixture_set):
    rng = np.random.default_rng(0)
    pa = rng.dirichlet(np.ones(9), size=len(fixture_set))
    pb = pa.copy()
    pb[4, 0] += 0.5
    pb[7, 3] += 0.2
    pair = side_by_side(fixture_set, pa, pb, "A", "B")
    assert list(pair["ID"][:2]) == [fixture_set.ids[4], fixture_set.ids[7]]
    assert pair["DISAGREEMENT"].iloc[0] == pytest.approx(0.5)
    assert list(pair["MOST_DIFFERENT"][:2]) == ["P_EL", "P_EDGE"]
    assert "A P_CW" in pair.columns and "B P_CW" in pair.columns
    summary = agreement_summary(pa, pb)
    assert summary["n"] == len(fixture_set) and summary["max_disagreement"] == pytest.approx(0.5)


def test_galaxy_table_keeps_ids_as_text(fixture_set):
    table = galaxy_table(fixture_set, np.full((len(fixture_set), 9), 1 / 9))
    assert table["ID"].iloc[0] == "587738947208085695"
    assert str(table["ID"].dtype) == "string"
    assert table.loc[table["LABEL_KIND"] == "class-derived", "HUMAN_TOP"].ne("").all()


def test_predict_set_reports_progress_per_chunk(tmp_path: Path, fixture_set):
    from core.inference.batch import predict_set

    calls = []
    predict_set(load_run(make_run(tmp_path / "r")), fixture_set, chunk=5, progress=lambda d, t: calls.append((d, t)))
    n = len(fixture_set)
    assert calls == [(0, n)] + [(min(k, n), n) for k in range(5, n + 5, 5)]


def test_self_scored_runs_are_detected_and_ranked_below_honest_ones(tmp_path: Path, fixture_set):
    """A run scored on galaxies of its own training folder is self-scored however good its score;
    one whose recorded training folder holds none of them, or that held them out, is honest."""
    from core.inference.batch import SetPrediction
    from core.inference.held_out import trained_on_mask, training_folder_ids

    own = {"val_fraction": 0.0, "sources": [{"images": str(FIXTURES / "gz1")}]}
    other_folder = tmp_path / "elsewhere"
    other_folder.mkdir()
    (other_folder / "587000000000000001.jpg").write_bytes(b"")
    elsewhere = {"val_fraction": 0.0, "sources": [{"images": str(other_folder)}]}
    assert training_folder_ids(elsewhere) == {"587000000000000001"}
    assert training_folder_ids({"sources": [{"images": str(tmp_path / "gone")}]}) is None
    in_gz1 = np.asarray([i in {f.stem for f in (FIXTURES / "gz1").glob("*.jpg")} for i in fixture_set.ids])
    assert 0 < in_gz1.sum() < len(fixture_set)
    assert np.array_equal(trained_on_mask(own, fixture_set.ids), in_gz1)
    assert not trained_on_mask(elsewhere, fixture_set.ids).any()
    assert trained_on_mask({"val_fraction": 0.0}, fixture_set.ids).all()  # no folder recorded: may be any

    truth = np.nan_to_num(fixture_set.targets, nan=1 / 9)  # a "perfect" self-scored run
    noise = np.random.default_rng(0).dirichlet(np.ones(9), len(fixture_set))
    perfect = score_prediction("memoriser", SetPrediction(truth, []), fixture_set, config=own)
    honest = score_prediction("honest", SetPrediction(noise, []), fixture_set, config=elsewhere)
    assert perfect.self_scored and perfect.scored_on == f"its own training galaxies ({in_gz1.sum()} of 12)"
    assert not honest.self_scored and honest.scored_on == "none of its training galaxies"
    assert perfect.scores["accuracy"] > honest.scores["accuracy"]
    a = load_run(make_run(tmp_path / "a", seed=1))
    board = leaderboard([a, a], [perfect, honest])
    assert board["run"].tolist() == ["honest", "memoriser"]
    assert board["rank"].tolist()[0] == 1 and pd.isna(board["rank"].iloc[1])
    assert board["self-scored"].tolist() == [False, True]

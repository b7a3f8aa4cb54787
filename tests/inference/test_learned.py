"""Only what a run learned is reported: the mask from config.json, blank CSV cells, scores and comparisons."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np

from core.__main__ import main
from core.inference.compare import agreement_summary, galaxy_table, side_by_side
from core.inference.galaxy_sets import set_from_catalog_file
from core.inference.learned import blank_unlearned, learned_mask, not_learned_columns
from core.inference.predict import load_run
from core.inference.predictions_csv import PredictionWriter, predictions_csv_bytes, read_predictions
from core.schema import DEBIASED_COLUMNS, DEBIASED_INDEX, RAW_COLUMNS, VOTE_COLUMNS
from core.scoring import score
from tests.support.paths import REPO_ROOT
from tests.support.tiny_runs import FIXTURES, make_run

NO_DEBIASED = RAW_COLUMNS + ("P_CS",)
OBJID = "587738947208085695"
IMAGE = FIXTURES / "gz1" / f"{OBJID}.jpg"


def _rows(path: Path) -> list[list[str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.reader(fh))


def test_recorded_learned_columns_win():
    mask = learned_mask({"learned_columns": ["P_CW", "P_ACW"]})
    assert not_learned_columns(mask) == [c for c in VOTE_COLUMNS if c not in ("P_CW", "P_ACW")]
    assert learned_mask({"learned_columns": {"P_EL": 3, "P_CW": 0}}).tolist() == [c == "P_EL" for c in VOTE_COLUMNS]


def test_shipped_demo_config_without_a_record_has_not_learned_the_debiased_pair():
    config = json.loads((REPO_ROOT / "models" / "demo" / "config.json").read_text())
    config.pop("learned_columns", None)  # the legacy form, whatever the shipped file holds now
    mask = learned_mask(config)
    assert not_learned_columns(mask) == list(DEBIASED_COLUMNS)


def test_a_config_that_shows_no_labels_has_learned_nothing():
    assert not learned_mask({}).any()
    only_partial = {"data": {"sources": [{"label_kinds": {"partial vote fractions": 40}}]}}
    assert not learned_mask(only_partial).any()
    assert not learned_mask({"data": {"sources": [{"label_kinds": {"class-derived (one-hot)": 0}}]}}).any()


def test_blank_cells_in_the_written_and_downloaded_csv(tmp_path: Path):
    learned = learned_mask({"learned_columns": list(NO_DEBIASED)})
    values = np.full((2, 9), 0.25, dtype=np.float32)
    out = tmp_path / "p.csv"
    with PredictionWriter(out, learned) as writer:
        writer.write(["1", "2"], ["1.jpg", "2.jpg"], values)
    for rows in (_rows(out), list(csv.reader(predictions_csv_bytes(["1", "2"], ["1.jpg", "2.jpg"], values, learned)
                                             .decode().splitlines()))):
        for row in rows[1:]:
            assert row[2:9] == ["0.25"] * 7 and row[9:11] == ["", ""] and row[-2:] == ["", ""]  # and their SDs
    frame = read_predictions(out)
    assert frame[list(DEBIASED_COLUMNS)].isna().all().all() and frame["P_EL"].tolist() == [0.25, 0.25]


def test_cli_single_and_set_leave_unlearned_columns_blank(tmp_path: Path, capsys):
    run = make_run(tmp_path / "models" / "nodeb", learned_columns=NO_DEBIASED)
    single = tmp_path / "one.csv"
    assert main(["predict", OBJID, str(IMAGE), "--model", str(run), "--out", str(single)]) == 0
    assert _rows(single)[1][9:11] == ["", ""] and _rows(single)[1][-2:] == ["", ""] and all(_rows(single)[1][2:9])
    assert "P_EL_DEBIASED=(not learned)" in capsys.readouterr().out
    many = tmp_path / "set.csv"
    assert main(["predict", "--images", str(FIXTURES / "spin"), "--out", str(many), "--model", str(run),
                 "--no-progress"]) == 0
    frame = read_predictions(many)
    assert len(frame) == 5
    assert frame[list(DEBIASED_COLUMNS)].isna().all().all() and frame[list(NO_DEBIASED)].notna().all().all()


def test_scores_and_comparisons_leave_unlearned_columns_out(tmp_path: Path):
    gset = set_from_catalog_file(FIXTURES / "gz1" / "labels.csv", FIXTURES / "gz1")
    pred = np.tile(np.array([0.5, 0.1, 0.1, 0.1, 0.1, 0.1, 0.3, 0.9, 0.9]), (len(gset), 1))
    target = gset.targets.copy()
    target[:, list(DEBIASED_INDEX)] = 0.5  # as if the set had debiased labels
    learned = learned_mask({"learned_columns": list(NO_DEBIASED)})
    s = score(pred, target, learned=learned)
    assert s["not_learned"] == list(DEBIASED_COLUMNS)
    assert s["rmse"]["P_EL_DEBIASED"] is None and s["rmse"]["P_CS_DEBIASED"] is None
    assert score(pred, target)["rmse"]["P_EL_DEBIASED"] is not None  # only the mask removes it
    table = galaxy_table(gset, pred, learned)
    assert table["model P_EL_DEBIASED"].isna().all() and table["model P_EL"].notna().all()
    assert not table["MOST_DIFFERENT"].isin(DEBIASED_COLUMNS).any()
    # B differs from A only in the debiased pair, which A never learned: no disagreement at all.
    other = pred.copy()
    other[:, list(DEBIASED_INDEX)] = 0.0
    pair = side_by_side(gset, pred, other, "A", "B", learned, None)
    assert (pair["DISAGREEMENT"] == 0).all() and pair["A P_CS_DEBIASED"].isna().all()
    assert agreement_summary(pred, other, learned, None)["max_disagreement"] == 0
    assert agreement_summary(pred, other)["max_disagreement"] > 0.8


def test_loaded_run_carries_its_mask(tmp_path: Path):
    run = load_run(make_run(tmp_path / "r", learned_columns=NO_DEBIASED))
    assert not_learned_columns(run.learned) == list(DEBIASED_COLUMNS)
    assert np.isnan(blank_unlearned(np.ones((3, 9)), run.learned)[:, list(DEBIASED_INDEX)]).all()

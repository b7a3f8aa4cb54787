"""Targets, masks and the label/image join (real demo data and small hand-made tables)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.labels.join import join_labels_images, load_labelled_set
from core.labels.targets import LabelError, labels_from_frame, read_labels
from core.schema import VOTE_COLUMNS, IdKind, LabelKind
from tests.support.paths import REPO_ROOT

REPO = REPO_ROOT
DEMO = REPO / "data" / "demo"
COL = {c: i for i, c in enumerate(VOTE_COLUMNS)}


def test_class_labels_become_one_hot_and_are_flagged(tmp_path):
    table = read_labels(DEMO / "gz1" / "labels.csv")
    assert table.id_kind == IdKind.OBJID and len(table) == 341
    assert table.class_derived.all()
    raw = table.targets[:, :6]
    assert np.array_equal(raw.sum(axis=1), np.ones(len(table)))
    assert set(np.unique(raw)) == {0.0, 1.0}
    # P_CS derived from the one-hot, debiased unknown
    assert np.allclose(table.targets[:, COL["P_CS"]], raw[:, 1] + raw[:, 2] + raw[:, 3])
    assert np.isnan(table.targets[:, COL["P_EL_DEBIASED"]]).all()
    assert not table.masks[:, COL["P_CS_DEBIASED"]].any()
    assert set(table.label_kinds()) == {LabelKind.CLASS}
    assert table.class_column == "CLASS_NAME" and "CLASS_NAME" in table.form
    assert table.subset(np.arange(3)).class_column == "CLASS_NAME"
    # OBJIDs stay exact 18-digit strings
    assert all(len(i) == 18 and i.isdigit() for i in table.ids)
    frame = pd.read_csv(DEMO / "gz1" / "labels.csv", dtype=str)
    cw = frame.index[frame.CLASS_NAME == "CLOCKWISE_SPIRAL"][0]
    row = list(table.ids).index(frame.OBJID[cw])
    assert table.targets[row, COL["P_CW"]] == 1.0 and table.targets[row, COL["P_ACW"]] == 0.0


def test_spin_table_is_partial_and_keyed_by_image_id():
    table = read_labels(DEMO / "spin" / "labels.csv")
    assert table.id_kind == IdKind.IMAGE
    assert all(i.startswith("ra") and "_dec" in i for i in table.ids)
    m = table.masks
    assert m[:, COL["P_CW"]].all() and m[:, COL["P_ACW"]].all()
    assert not m[:, COL["P_EL"]].any() and not m[:, COL["P_CS"]].any()
    assert not table.class_derived.any() and table.class_column is None
    assert (~np.isnan(table.nvote)).all()
    assert LabelKind.PARTIAL in table.counts()


def test_full_fractions_table_and_row_problems():
    df = pd.DataFrame({
        "OBJ_ID": ["587739156582301791", "588017991778042178", "588017991778042179", "588017991778042178", ""],
        "P_EL": ["0.889", "0.391", "1.5", "0.2", "0.5"], "P_CW": ["0", "0.022", "0", "0", "0"],
        "P_ACW": ["0.056", "0.022", "0", "0", "0"], "P_EDGE": ["0.056", "0.5", "0", "0.8", "0.5"],
        "P_DK": ["0", "0.065", "0", "0", "0"], "P_MG": ["0", "0", "0", "0", "0"], "NVOTE": ["18", "46", "3", "5", "9"],
    })
    table = labels_from_frame(df, "t.csv")
    assert list(table.ids) == ["587739156582301791", "588017991778042178"]
    assert table.counts() == {LabelKind.VOTES: 2}
    assert np.allclose(table.targets[:, COL["P_CS"]], [0.112, 0.544])  # derived CW + ACW + EDGE
    problems = table.dropped.set_index("ROW")["PROBLEM"]
    assert "outside [0, 1]" in problems[3] and "P_EL" in problems[3]
    assert "duplicate" in problems[4]
    assert "empty" in problems[5]


def test_unknown_class_is_reported_not_guessed():
    df = pd.DataFrame({"OBJID": ["1", "2"], "CLASS_NAME": ["ELLIPTICAL", "SPIRALISH"]})
    table = labels_from_frame(df, "c.csv")
    assert list(table.ids) == ["1"]
    assert "SPIRALISH" in table.dropped.PROBLEM.iloc[0] and table.dropped.ROW.iloc[0] == 2


def test_table_without_labels_or_ids_is_refused(tmp_path):
    p = tmp_path / "x.csv"
    p.write_text("RA,DEC\n1,2\n")
    with pytest.raises(LabelError, match="x.csv"):
        read_labels(p)


def test_join_reports_both_sides_instead_of_failing(tmp_path):
    images = tmp_path / "imgs"
    images.mkdir()
    table = read_labels(DEMO / "gz1" / "labels.csv")
    for objid in table.ids[:3]:
        (images / f"{objid}.jpg").write_bytes((DEMO / "gz1" / f"{objid}.jpg").read_bytes())
    (images / "999.jpg").write_bytes((DEMO / "gz1" / f"{table.ids[0]}.jpg").read_bytes())
    join = join_labels_images(table, images)
    assert len(join) == 3 and [f.stem for f in join.files] == list(join.labels.ids)
    assert len(join.missing_images) == 338
    assert join.unlabelled_images == ["999.jpg"]
    gaps = pd.read_csv(pd.io.common.BytesIO(join.missing_csv()), dtype=str)
    assert (gaps.PROBLEM == "OBJID has a label but no image").sum() == 338
    assert gaps[gaps.PROBLEM == "image has no label"].FILE.tolist() == ["999.jpg"]
    assert join.summary()["matched"] == 3


def test_demo_spin_set_joins_completely():
    join = load_labelled_set(DEMO / "spin" / "labels.csv", DEMO / "spin")
    assert len(join) == 240 and not join.missing_images and not join.unlabelled_images


def test_catalogue_forms_and_partial_objid_table(tmp_path):
    sample = REPO / "data" / "sample" / "gz1_table2_sample695.csv"
    table = read_labels(sample)
    assert len(table) == 695 and table.counts() == {LabelKind.VOTES: 695}
    assert table.targets[0].tolist() == pytest.approx([0.889, 0.0, 0.056, 0.056, 0.0, 0.0, 0.111, 0.678, 0.322])
    assert table.nvote[0] == 18 and table.ids[0] == "587739156582301791"
    partial = tmp_path / "spin_by_objid.csv"
    partial.write_text("OBJID,P_CW,P_ACW,NVOTE\n587739156582301791,0.9,0.05,40\n")
    t = read_labels(partial)
    assert t.id_kind == IdKind.OBJID and t.counts() == {LabelKind.PARTIAL: 1}
    assert t.masks[0].tolist() == [c in ("P_CW", "P_ACW") for c in VOTE_COLUMNS]


def test_a_numeric_class_column_is_named_as_written():
    df = pd.DataFrame({"OBJID": ["587739156582301791", "588017991778042178"], "class": ["0", "3"]})
    table = labels_from_frame(df, "t.csv")
    assert table.class_column == "class" and table.class_derived.all()
    assert table.targets[1, COL["P_EDGE"]] == 1.0

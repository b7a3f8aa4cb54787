"""Aggregates derived from the vote rows: counts, the Table-2 export (read back by the label reader),
crowd totals, and comparisons with GZ1 and the model over a pool."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.labels.targets import read_labels
from core.schema import RAW_COLUMNS, VOTE_COLUMNS, LabelKind
from core.votes.aggregate import EXPORT_COLUMNS, export_frame, summary, vote_counts, write_export
from core.votes.crowd import crowd_comparison, disagreements, galaxy_reveal, session_score
from core.votes.pool import VotingPool
from core.votes.store import make_engine, record_vote, session_votes

G1, G2, G3 = "587722982276399181", "587722982276399182", "587722982276399183"
#: (session, galaxy, answer): G1 gets 4 votes (3 EL, 1 MERGER), G2 two (CW, ACW), G3 one (EDGE_ON).
CAST = [("sess-aaaa", G1, "ELLIPTICAL"), ("sess-bbbb", G1, "ELLIPTICAL"), ("sess-cccc", G1, "ELLIPTICAL"),
        ("sess-dddd", G1, "MERGER"), ("sess-aaaa", G2, "CLOCKWISE_SPIRAL"), ("sess-bbbb", G2, "ANTICLOCKWISE_SPIRAL"),
        ("sess-aaaa", G3, "EDGE_ON")]


@pytest.fixture
def engine(votes_url):
    engine = make_engine(votes_url)
    for session, galaxy, answer in CAST:
        record_vote(engine, session, galaxy, answer, source="test")
    return engine


def _pool() -> VotingPool:
    """G1: GZ1 class ELLIPTICAL (class-derived), model sure of EL; G2: GZ1 votes mostly CW, model ACW;
    G3: no GZ1 label, model EDGE."""
    human = np.full((3, 9), np.nan)
    human[0, :6] = [1, 0, 0, 0, 0, 0]
    human[1, :6] = [0.1, 0.7, 0.1, 0.1, 0, 0]
    model = np.zeros((3, 9))
    model[0, :6] = [0.9, 0, 0, 0, 0, 0.1]
    model[1, :6] = [0, 0.2, 0.8, 0, 0, 0]
    model[2, :6] = [0, 0, 0, 1, 0, 0]
    return VotingPool([G1, G2, G3], [], ["demo"] * 3, human, np.array([True, False, False]), model)


def test_counts_and_export_follow_the_votes(engine):
    counts = vote_counts(engine)
    assert counts.loc[G1, ["ELLIPTICAL", "MERGER", "NVOTE"]].tolist() == [3, 1, 4]
    table = export_frame(engine, min_votes=2)
    assert list(table.columns) == list(EXPORT_COLUMNS)
    assert table["OBJID"].tolist() == [G1, G2]  # G3 has one vote only
    row = table.set_index("OBJID").loc[G1]
    assert (row["NVOTE"], row["P_EL"], row["P_MG"], row["P_CS"]) == (4, 0.75, 0.25, 0.0)
    g2 = table.set_index("OBJID").loc[G2]
    assert (g2["P_CW"], g2["P_ACW"], g2["P_CS"]) == (0.5, 0.5, 1.0)
    assert np.allclose(table[list(RAW_COLUMNS)].sum(axis=1), 1.0)
    with pytest.raises(ValueError, match="at least 1"):
        export_frame(engine, min_votes=0)


def test_export_is_read_by_the_training_label_reader_as_vote_fractions(engine, tmp_path):
    out = tmp_path / "votes.csv"
    assert write_export(engine, out, min_votes=1) == 3
    assert pd.read_csv(out, dtype=str)["OBJID"].tolist() == [G1, G2, G3]  # exact text, no float round trip
    labels = read_labels(out)
    assert sorted(labels.ids) == [G1, G2, G3]
    assert set(labels.label_kinds()) == {LabelKind.VOTES.value}
    assert not labels.class_derived.any()
    by_id = dict(zip(labels.ids, range(len(labels)), strict=True))
    assert labels.nvote[by_id[G1]] == 4 and labels.nvote[by_id[G3]] == 1
    assert labels.targets[by_id[G1], VOTE_COLUMNS.index("P_EL")] == 0.75


def test_summary_counts_votes_galaxies_and_sessions(engine):
    stats = summary(engine)
    assert (stats["votes"], stats["galaxies"], stats["sessions"]) == (7, 3, 4)
    assert stats["votes_per_galaxy"] == {"min": 1, "median": 2.0, "mean": 2.333, "max": 4}
    assert stats["galaxies_by_votes"] == {1: 1, 2: 1, 4: 1}
    assert stats["answers"]["ELLIPTICAL"] == 3 and sum(stats["answers"].values()) == 7


def test_crowd_against_gz1_and_model(engine):
    pool = _pool()
    crowd = crowd_comparison(engine, pool)
    confusion = crowd["confusion"]
    assert confusion.loc["GZ1 ELLIPTICAL", "ELLIPTICAL"] == 3 and confusion.loc["GZ1 ELLIPTICAL", "MERGER"] == 1
    assert confusion.loc["GZ1 CLOCKWISE_SPIRAL"].tolist() == [0, 1, 1, 0, 0, 0]
    assert int(confusion.to_numpy().sum()) == 6  # G3 has no GZ1 label
    assert crowd["gz1"] == {"agree": 4, "compared": 6, "share": pytest.approx(4 / 6)}
    assert crowd["model"] == {"agree": 5, "compared": 7, "share": pytest.approx(5 / 7)}
    worst = disagreements(engine, pool, top=3)
    assert worst["OBJID"].tolist()[0] == G2  # visitors split CW/ACW, the model says ACW 0.8
    assert worst.set_index("OBJID").loc[G2, "DISTANCE"] == pytest.approx(0.3)
    assert worst.set_index("OBJID").loc[G3, "DISTANCE"] == pytest.approx(0.0)


def test_session_score(engine):
    score = session_score(session_votes(engine, "sess-aaaa"), _pool())
    assert score["gz1"] == {"agree": 2, "compared": 2, "share": 1.0}  # EL on G1, CW on G2
    assert score["model"] == {"agree": 2, "compared": 3, "share": pytest.approx(2 / 3)}
    assert _pool().human_kind(0) == LabelKind.CLASS and _pool().human_kind(2) == LabelKind.NONE


def test_reveal_of_one_galaxy(engine):
    reveal = galaxy_reveal(engine, _pool(), G1)
    assert reveal["nvote"] == 4 and reveal["visitors"].tolist() == [0.75, 0, 0, 0, 0, 0.25]
    assert reveal["gz1"].tolist() == [1, 0, 0, 0, 0, 0] and reveal["gz1_kind"] == LabelKind.CLASS
    assert reveal["model"].tolist() == pytest.approx([0.9, 0, 0, 0, 0, 0.1])
    unknown = galaxy_reveal(engine, _pool(), "587722982276399999")
    assert unknown["nvote"] == 0 and np.isnan(unknown["visitors"]).all() and unknown["gz1_kind"] is None

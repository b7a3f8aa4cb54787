"""AppTest: the Train page's "Visitor votes" label source pairs the votes export with the demo images."""

from __future__ import annotations

import pandas as pd
from streamlit.testing.v1 import AppTest

from core.votes.store import get_engine, record_vote
from tests.support.paths import REPO_ROOT, page_file

DEMO_GZ1 = REPO_ROOT / "data" / "demo" / "gz1"


def test_visitor_votes_become_vote_fraction_labels():
    galaxies = pd.read_csv(DEMO_GZ1 / "labels.csv", dtype=str)["OBJID"].head(4).tolist()
    engine = get_engine()
    for s in range(3):
        for galaxy in galaxies[: 4 - s]:  # 4, 3 and 2 galaxies: two reach 3 votes
            record_vote(engine, f"visitor-{s}-test", galaxy, "MERGER")
    at = AppTest.from_file(page_file("train"), default_timeout=120).run()
    at.radio(key="train_data_choice").set_value("Visitor votes").run()
    assert not at.exception, [e.value for e in at.exception]
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Matched images"] == "2"  # default K = 3 votes
    assert any("2 galaxies with at least 3 votes" in c.value for c in at.caption)
    assert any("Labels: 2 with vote fractions" in c.value and "class-derived" not in c.value for c in at.caption)
    at.number_input(key="train_visitor_min_votes").set_value(1).run()
    assert {m.label: m.value for m in at.metric}["Matched images"] == "4"
    at.number_input(key="train_visitor_min_votes").set_value(4).run()
    assert any("No galaxy has 4 or more votes" in i.value for i in at.info)

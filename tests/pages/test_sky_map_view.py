"""AppTest of the Catalog page's sky-map selection: the "Clear the selection" button."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from tests.support.paths import page_file
from ui import state_keys


def test_a_selection_can_be_cleared_with_a_button():
    at = AppTest.from_file(page_file("catalog"), default_timeout=120).run()
    assert not at.exception, [e.value for e in at.exception]
    assert not [b for b in at.button if b.key == "sky_clear_selection"]  # nothing selected: no button
    objids = at.session_state[state_keys.CATALOG].table["OBJID"].astype(str).head(3).tolist()
    at.session_state[state_keys.SKY_SELECTION] = objids  # as a box selection leaves it
    at.session_state[state_keys.CATALOG_KEEP_SELECTION] = True
    at.run()
    assert {m.label: m.value for m in at.metric}["Selected"] == "3"
    next(b for b in at.button if b.key == "sky_clear_selection").click()
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.session_state[state_keys.SKY_SELECTION] == []
    assert "Selected" not in {m.label for m in at.metric}
    assert any("Nothing selected" in c.value for c in at.caption)
    assert not [b for b in at.button if b.key == "sky_clear_selection"]

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


def test_the_map_box_is_about_as_wide_as_the_ellipse_needs():
    from ui.sky_map_view import map_css

    # A 564 px column (1024 px window): plot width 544 px -> a 272 px ellipse + 50 px of title and margins.
    assert "aspect-ratio: 1.75" in map_css(colour_scale=False)
    assert "aspect-ratio: 2.0" in map_css(colour_scale=True)

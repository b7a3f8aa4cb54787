"""AppTest of pages/catalog.py: built-in sample by default, uploads (at.file_uploader), errors."""

from __future__ import annotations

import gzip
import re

import pytest
from streamlit.testing.v1 import AppTest

from core.catalog.reader import CatalogResult
from tests.support.paths import FIXTURES, REPO_ROOT, SAMPLE_CATALOG
from ui import state_keys
from ui.plain_text import ZERO_WIDTH_SPACE

PAGE = str(REPO_ROOT / "pages" / "catalog.py")
CAT = FIXTURES / "catalog"


def _shown(markdown: str) -> str:
    """What Markdown source renders as, for text escaped with ui.plain_text.md_escape."""
    return re.sub(r"\\(.)", r"\1", markdown).replace(ZERO_WIDTH_SPACE, "")


def _metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def _open() -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=60)
    at.run()
    assert not at.exception, at.exception
    return at


def _upload(at: AppTest, name: str, data: bytes) -> AppTest:
    at.file_uploader[0].set_value((name, data, "text/csv"))
    at.run()
    assert not at.exception, at.exception
    return at


def _download_buttons(at: AppTest) -> dict[str, bool]:
    """label -> disabled, for the page's download (and disabled stand-in) buttons."""
    buttons = {b.proto.label: b.proto.disabled for b in at.get("download_button")}
    buttons.update({b.label: b.disabled for b in at.button})
    return buttons


def test_first_visit_shows_the_builtin_sample_without_upload() -> None:
    at = _open()
    assert _metrics(at) == {"Rows read": "695", "Clean rows": "695", "Rejected rows": "0", "Problems": "0"}
    assert any("No problems found" in s.value for s in at.success)
    result = at.session_state[state_keys.CATALOG]
    assert isinstance(result, CatalogResult) and len(result.table) == 695
    assert "built-in sample" in at.session_state[state_keys.CATALOG_SOURCE]
    assert at.session_state[state_keys.SKY_SELECTION] == []
    assert len(at.get("plotly_chart")) == 2  # sky map + fraction histograms
    preview = at.dataframe[0].value
    assert list(preview.columns[:5]) == ["OBJID", "RA_STR", "RA", "DEC_STR", "DEC"]
    note = next(c.value for c in at.caption if c.value.startswith("First "))
    assert "RA (text) and DEC (text) are the original sexagesimal strings" in note and "RA_STR" not in note
    assert "fractions of the votes" in note and "class flags" in note
    assert len(preview) == 695
    assert any(c.value.startswith("Data: Galaxy Zoo 1") for c in at.caption)  # data credit
    assert _download_buttons(at) == {
        "Cleaned table (13 columns)": False, "SDSS Image List input": False, "Training CSV (10 columns)": False,
        "Use the built-in galaxies with images": False,  # the built-in catalogue whose images ship
    }


def test_upload_gzip_replaces_the_catalog_in_session_state() -> None:
    at = _open()
    _upload(at, "sample.csv.gz", gzip.compress(SAMPLE_CATALOG.read_bytes()))
    assert _metrics(at)["Clean rows"] == "695"
    assert at.session_state[state_keys.CATALOG_SOURCE] == "sample.csv.gz"
    assert any("sample.csv.gz" in _shown(c.value) for c in at.caption)


def test_upload_with_bad_rows_lists_problems_and_rejected_rows() -> None:
    at = _open()
    _upload(at, "bad_rows.csv", (CAT / "bad_rows.csv").read_bytes())
    assert _metrics(at) == {"Rows read": "17", "Clean rows": "2", "Rejected rows": "15", "Problems": "13"}
    assert any("15 rows were excluded" in w.value for w in at.warning)
    problems = at.dataframe[0].value
    assert "raw_sum" in set(problems["problem"])
    assert problems.set_index("problem").loc["nvote_invalid", "first rows"] == "8, 9"
    rejected = at.dataframe[1].value
    assert list(rejected["ROW"]) == [2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 17]
    assert "Download rejected rows (CSV)" in _download_buttons(at)


@pytest.mark.parametrize("fixture", ["tabs.csv", "binary.csv", "empty.csv"])
def test_unreadable_upload_shows_one_error_and_the_app_keeps_running(fixture: str) -> None:
    at = _open()
    _upload(at, fixture, (CAT / fixture).read_bytes())
    assert len(at.error) == 1 and fixture in _shown(at.error[0].value)
    assert not at.get("plotly_chart")
    # removing the upload brings the built-in sample back
    at.file_uploader[0].set_value(None)
    at.run()
    assert _metrics(at)["Rows read"] == "695" and not at.error


def test_use_builtin_sample_button_resets_the_uploader() -> None:
    at = _open()
    assert not [b for b in at.button if b.label == "Use the built-in sample instead"]
    _upload(at, "bad_rows.csv", (CAT / "bad_rows.csv").read_bytes())
    assert _metrics(at)["Rows read"] == "17"
    next(b for b in at.button if b.label == "Use the built-in sample instead").click()
    at.run()
    assert not at.exception
    assert _metrics(at)["Rows read"] == "695"
    assert at.file_uploader[0].value is None
    assert "built-in sample" in at.session_state[state_keys.CATALOG_SOURCE]


def test_training_form_upload_has_no_map_and_disables_position_outputs() -> None:
    at = _open()
    _upload(at, "training.csv", (CAT / "training_10col.csv").read_bytes())
    assert any("no RA/DEC" in i.value for i in at.info)
    assert len(at.get("plotly_chart")) == 1  # histograms only
    buttons = _download_buttons(at)
    assert buttons["Cleaned table (13 columns)"] is True
    assert buttons["SDSS Image List input"] is True
    assert buttons["Training CSV (10 columns)"] is False


def test_positions_without_fractions_offer_no_colour_choice() -> None:
    at = _open()
    _upload(at, "positions.csv", (CAT / "objid_ra_dec.csv").read_bytes())
    assert not [s for s in at.selectbox if s.label == "Colour by"]
    assert any("One colour" in c.value for c in at.caption)
    assert len(at.get("plotly_chart")) == 1  # the sky map; no fractions, so no histograms
    assert any("no vote-fraction columns" in i.value for i in at.info)
    # The table's caption names only the columns this catalogue has, as the table heads them.
    note = next(c.value for c in at.caption if c.value.startswith("First "))
    assert "RA (deg) and DEC (deg) are in decimal degrees (J2000)." in note
    assert not any(word in note for word in ("RA_STR", "fractions", "NVOTE", "flags")), note


def test_statistics_say_which_rows_they_cover() -> None:
    at = _open()
    scope = [c.value for c in at.caption if c.value.startswith("Of all 695 clean rows")]
    assert len(scope) == 2  # summary statistics and histograms both say they cover every row


def test_user_supplied_text_is_shown_literally_never_as_markdown() -> None:
    header = "OBJID,RA,DEC,![x](http://127.0.0.1:9/p.png)"
    data = f"{header}\n587739156582301791,10:17:48.34,+32:34:29.4,1\n".encode()
    at = _open()
    _upload(at, "[click](http://127.0.0.1:9/).csv", data)
    rendered = [e.value for kind in ("caption", "markdown", "warning", "error", "info", "success")
                for e in at.get(kind)]
    problems = at.dataframe[0].value  # a table shows text as text: the column is named as it is
    assert "![x](http://127.0.0.1:9/p.png)" in problems.set_index("problem").loc["unknown_columns", "description"]
    for text in rendered:
        assert "![x](" not in text and "[click](" not in text
    assert any("**[click](http://127.0.0.1:9/).csv**" in _shown(c.value) for c in at.caption)


def test_an_upload_survives_a_visit_to_another_page(app_test) -> None:
    at = app_test(None).run()
    at.switch_page("pages/catalog.py").run()
    _upload(at, "bad_rows.csv", (CAT / "bad_rows.csv").read_bytes())
    at.switch_page("pages/images.py").run()
    assert not at.exception
    assert any("bad\\_rows\\.csv" in c.value for c in at.caption)  # Images uses the same catalogue
    at.switch_page("pages/catalog.py").run()
    assert _metrics(at)["Rows read"] == "17"  # Streamlit emptied the uploader; the catalogue stayed
    assert any("uploaded earlier in this session" in c.value for c in at.caption)


def test_a_kept_upload_gives_way_to_the_sample_on_request() -> None:
    at = _open()
    _upload(at, "bad_rows.csv", (CAT / "bad_rows.csv").read_bytes())
    # What a visit to another page does: Streamlit forgets the uploader's widget state.
    at.session_state[state_keys.CATALOG_UPLOAD_GENERATION] = 7
    at.run()
    assert _metrics(at)["Rows read"] == "17" and at.file_uploader[0].value is None
    at.button(key="catalog_use_sample").click()
    at.run()
    assert _metrics(at)["Rows read"] == "695"
    assert "built-in sample" in at.session_state[state_keys.CATALOG_SOURCE]
    at.run()  # and it stays the sample
    assert _metrics(at)["Rows read"] == "695"


def test_built_in_galaxies_with_images_replace_the_sample_and_give_way_to_it() -> None:
    at = _open()
    at.button(key="catalog_use_mapped").click().run()
    assert not at.exception, at.exception
    result = at.session_state[state_keys.CATALOG]
    assert len(result.table) == 30 and result.has_positions
    assert _metrics(at)["Clean rows"] == "30"
    note = next(c.value for c in at.caption if c.value.startswith("First "))  # OBJID, RA, DEC only
    assert note.endswith("clean rows. RA (deg) and DEC (deg) are in decimal degrees (J2000)."), note
    assert any("built-in galaxies with images" in _shown(c.value) for c in at.caption)
    at.button(key="catalog_use_sample").click().run()  # back to the 695-row sample
    assert not at.exception and _metrics(at)["Clean rows"] == "695"

"""The Images page drives a real download job end to end (AppTest + fake SkyServer)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core import jobs
from core.catalog.reader import load_catalog
from core.images.folder import list_cutouts
from tests.support.fake_skyserver import fake_skyserver
from tests.support.paths import CUTOUT_FIXTURES, page_file
from ui import state_keys

FIXTURES = CUTOUT_FIXTURES


def _wait_for_end(folder: Path, timeout: float = 60.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        state = jobs.read_state(folder)
        if state and state["status"] not in ("starting", "running"):
            return state
        assert time.monotonic() < deadline, f"job did not finish: {state}"
        time.sleep(0.1)


@pytest.fixture
def page(tmp_path, monkeypatch):
    with fake_skyserver() as server:
        monkeypatch.setenv("GZ_CUTOUT_BASE_URL", server.dr18_base)
        at = AppTest.from_file(page_file("images"), default_timeout=30)
        at.session_state[state_keys.CATALOG] = load_catalog(FIXTURES / "catalog_table2.csv")
        at.session_state[state_keys.CATALOG_SOURCE] = "catalog_table2.csv"
        at.session_state[state_keys.IMAGES_DIR] = str(tmp_path / "images")
        yield at, server, tmp_path / "images"


def test_page_runs_a_job_shows_failures_retries_and_fills_the_gallery(page):
    at, server, folder = page
    at.run()
    assert not at.exception
    assert "**3** galaxies selected, **0** already in the folder" in at.markdown[0].value
    at.number_input(key="img_size").set_value(128)
    # One galaxy fails for good on the first job.
    bad = load_catalog(FIXTURES / "catalog_table2.csv").table.iloc[1]
    server.add_fault("503", ra=bad.RA, dec=bad.DEC)
    at.number_input(key="img_retries").set_value(0)
    at.button(key="img_start").click().run()
    assert not at.exception
    state = _wait_for_end(folder)
    assert (state["status"], state["done"], state["failed"]) == ("done", 2, 1)
    assert state["settings"]["width"] == 128 and state["settings"]["base_url"] == server.dr18_base

    at.run()
    assert not at.exception
    bar = at.get("progress")[0]
    assert bar.value == 100 and "3 / 3 galaxies · finished" in bar.proto.text
    assert any(s.value.startswith("Failures (1)") for s in at.subheader)
    assert at.dataframe[0].value["REASON"].tolist() == ["HTTP 503"]

    server.clear_faults()
    at.button(key="img_retry").click().run()
    state = _wait_for_end(folder)
    assert (state["total"], state["done"], state["failed"]) == (1, 1, 0)
    at.run()
    assert not at.exception
    assert not any(s.value.startswith("Failures") for s in at.subheader)
    assert "Gallery (3 images)" in [s.value for s in at.subheader]
    captions = " ".join(c.value for c in at.caption)
    # Real GZ1 Table 2 fractions of 587742772951842916: EL 0.362, ACW 0.103, EDGE 0.534 (top answer).
    assert "**587742772951842916**" in captions and "**EDGE 0.53**" in captions and "58 votes" in captions
    assert len(at.get("image")) == 3
    assert sorted(p.stem for p in list_cutouts(folder)) == sorted(load_catalog(FIXTURES / "catalog_table2.csv")
                                                                 .table["OBJID"])


def test_page_refuses_a_catalogue_without_positions(page, tmp_path):
    at, server, folder = page
    table = load_catalog(FIXTURES / "catalog_table2.csv").table
    from core.schema import TRAINING_COLUMNS

    training = tmp_path / "training.csv"
    table.rename(columns={"OBJID": "OBJ_ID"})[list(TRAINING_COLUMNS)].to_csv(training, index=False)
    at.session_state[state_keys.CATALOG] = load_catalog(training)
    at.run()
    assert not at.exception
    assert "has no RA/DEC" in at.error[0].value
    assert at.button(key="img_start").disabled
    assert server.count() == 0


def test_page_imports_a_folder(page):
    at, server, folder = page
    images = sorted((FIXTURES / "images").glob("*.jpg"))
    src = folder.parent / "mine"
    src.mkdir()
    (src / "587729160043954260.jpg").write_bytes(images[2].read_bytes())
    (src / "12345.jpg").write_bytes(images[3].read_bytes()[:400])
    at.run()
    at.text_input(key="img_import_folder").set_value(str(src)).run()
    at.button(key="img_import").click().run()
    assert not at.exception
    assert "folder: 1 imported, 0 already present, 1 rejected" in at.success[0].value
    assert at.dataframe[0].value["reason"].tolist() == ["truncated JPEG (no end-of-image marker)"]
    assert [p.stem for p in list_cutouts(folder)] == ["587729160043954260"]
    at.run()
    assert "Gallery (1 image)" in [s.value for s in at.subheader]
    assert server.count() == 0

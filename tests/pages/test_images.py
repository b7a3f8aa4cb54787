"""The Images page drives a real download job end to end (AppTest + fake SkyServer)."""

from __future__ import annotations

import re
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
    """The job's final state.json (as a dict) once its worker has ended."""
    deadline = time.monotonic() + timeout
    while True:
        state = jobs.read_state(folder)
        if state and state["status"] not in ("starting", "running") and not state["running"]:
            return state
        assert time.monotonic() < deadline, f"job did not finish: {state}"
        time.sleep(0.1)


def _page(folder: Path) -> AppTest:
    """A fresh Images page session (as after a reload or a server restart) on ``folder``."""
    at = AppTest.from_file(page_file("images"), default_timeout=30)
    at.session_state[state_keys.CATALOG] = load_catalog(FIXTURES / "catalog_table2.csv")
    at.session_state[state_keys.CATALOG_SOURCE] = "catalog_table2.csv"
    at.session_state[state_keys.IMAGES_DIR] = str(folder)
    return at


@pytest.fixture
def page(isolated_home, monkeypatch):
    with fake_skyserver() as server:
        monkeypatch.setenv("GZ_CUTOUT_BASE_URL", server.dr18_base)
        folder = isolated_home / "images"
        yield _page(folder), server, folder


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
    assert (state["status"], state["done"], state["failed"]) == ("finished", 2, 1)
    assert state["settings"]["size"] == 128 and state["settings"]["base_url"] == server.dr18_base

    at.run()
    assert not at.exception
    bar = at.get("progress")[0]
    assert bar.value == 100 and "3 / 3 galaxies · finished" in bar.proto.text
    # Failures never end in green: a warning with the counts.
    assert not at.success
    assert "Finished with failures" in at.warning[0].value and "2 downloaded" in at.warning[0].value \
        and "1 failed" in at.warning[0].value
    assert any(s.value.startswith("Failures (1)") for s in at.subheader)
    failures_table = next(d.value for d in at.dataframe if "REASON" in d.value.columns)
    assert failures_table["REASON"].tolist() == ["server answered HTTP 503"]

    server.clear_faults()
    assert at.button(key="img_retry").label == "Retry 1 failed"
    at.button(key="img_retry").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    state = _wait_for_end(folder)
    # The whole job runs again: the two images already here are kept, the failed one is fetched.
    assert (state["total"], state["done"], state["skipped"], state["failed"]) == (3, 1, 2, 0)
    at.run()
    assert not at.exception
    assert not any(s.value.startswith("Failures") for s in at.subheader)
    assert "Gallery (3 images)" in [s.value for s in at.subheader]
    captions = " ".join(c.value for c in at.caption)
    # Real GZ1 Table 2 fractions of 587742772951842916: EL 0.362, ACW 0.103, EDGE 0.534 (top answer).
    assert "**EDGE 0.53**" in captions and "58 votes" in captions
    # The OBJID sits on one line of its own under the thumbnail (it never wraps).
    assert any(">587742772951842916</div>" in m.value and "white-space:nowrap" in m.value for m in at.markdown)
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
    src.mkdir(parents=True)
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


def test_retry_after_a_restart_uses_the_jobs_stored_settings(isolated_home, monkeypatch):
    """A job from a custom base URL at 128 px; then a restart (new session, no GZ_CUTOUT_BASE_URL)."""
    folder = isolated_home / "images"
    table = load_catalog(FIXTURES / "catalog_table2.csv").table
    with fake_skyserver() as server:
        monkeypatch.setenv("GZ_CUTOUT_HOSTS", server.url.removeprefix("http://"))
        at = _page(folder)
        at.run()
        at.number_input(key="img_size").set_value(128)
        at.text_input(key="img_base_url").set_value(server.dr18_base)
        at.number_input(key="img_retries").set_value(0)
        server.add_fault("503", ra=table.iloc[1].RA, dec=table.iloc[1].DEC)
        at.button(key="img_start").click().run()
        assert not at.exception and not at.error, [e.value for e in at.error]
        assert _wait_for_end(folder)["failed"] == 1
        # One downloaded image goes missing: that galaxy now counts as not attempted.
        (folder / f"{table.iloc[2].OBJID}.jpg").unlink()
        catalogue_before = (folder / "job_catalog.csv").read_text()
        server.clear_faults()
        requests_before = server.count()

        restarted = _page(folder)  # a reload or a server restart: a fresh session
        restarted.run()
        assert not restarted.exception
        # The form is pre-filled from the job, and the job's settings are shown.
        assert restarted.number_input(key="img_size").value == 128
        assert restarted.text_input(key="img_base_url").value == server.dr18_base
        shown = " ".join(" ".join(map(str, d.value["value"])) for d in restarted.dataframe
                         if "setting" in d.value.columns)
        assert "128 x 128 pixels" in shown and server.dr18_base in shown
        restarted.number_input(key="img_size").set_value(256).run()  # the form's value must not leak in
        retry = restarted.button(key="img_retry")
        assert retry.label == "Retry 1 failed and fetch 1 not attempted"
        retry.click().run()
        assert not restarted.error, [e.value for e in restarted.error]
        state = _wait_for_end(folder)
        new = server.requests[requests_before:]
    assert (state["total"], state["done"], state["skipped"], state["failed"]) == (3, 2, 1, 0)
    assert len(new) == 2 and {(r["query"]["width"], r["path"]) for r in new} == {
        ("128", "/dr18/SkyServerWS/ImgCutout/getjpeg")}
    assert (folder / "job_catalog.csv").read_text() == catalogue_before  # the whole job is kept
    assert sorted(p.stem for p in list_cutouts(folder)) == sorted(table["OBJID"])


def test_a_folder_outside_the_allowed_roots_is_refused_and_nothing_is_written(page, tmp_path):
    at, server, folder = page
    outside = tmp_path / "elsewhere"
    at.run()
    at.text_input[0].set_value(str(outside)).run()
    assert not at.exception
    assert "outside the folders this dashboard may use" in at.error[0].value
    assert "img_start" not in {b.key for b in at.button}
    assert not outside.exists() and server.count() == 0
    at.text_input[0].set_value(str(folder)).run()
    at.text_input(key="img_import_folder").set_value("/etc").run()
    at.button(key="img_import").click().run()
    assert "Import folder" in at.error[0].value and "outside the folders" in at.error[0].value
    assert list_cutouts(folder) == []


def test_cutouts_from_the_dashboard_go_only_to_allowed_hosts(isolated_home, monkeypatch):
    folder = isolated_home / "images"
    with fake_skyserver() as server:
        at = _page(folder)
        at.run()
        at.text_input(key="img_base_url").set_value(server.dr18_base)  # loopback, not on the allow-list
        at.button(key="img_start").click().run()
        assert "is not allowed from the dashboard" in at.error[0].value
        assert server.count() == 0 and not (folder / "job_catalog.csv").exists()


def test_public_mode_offers_no_downloads_and_no_server_paths(page, monkeypatch):
    at, server, folder = page
    monkeypatch.setenv("GZ_MODE", "public")
    at.run()
    assert not at.exception
    assert "public mode" in at.info[0].value
    keys = {w.key for w in at.text_input} | {b.key for b in at.button}
    assert not keys & {"img_start", "img_retry", "img_import_folder", "img_base_url"}
    assert not any(t.label == "Image folder" for t in at.text_input)
    assert server.count() == 0


def test_zip_import_names_the_files_it_ignored(page):
    import io
    import zipfile

    at, server, folder = page
    good = sorted((FIXTURES / "images").glob("*.jpg"))[0].read_bytes()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("587729160043954260.jpg", good)
        zf.writestr("notes.txt", "hello")
        zf.writestr("[x](http:evil).png", b"x")
    at.run()
    zip_widget = at.get("file_uploader")[0] if at.get("file_uploader") else None
    if zip_widget is None or not hasattr(zip_widget, "set_value"):
        pytest.skip("this Streamlit's AppTest cannot upload files")
    zip_widget.set_value(("mine.zip", buf.getvalue(), "application/zip")).run()
    at.button(key="img_import").click().run()
    shown = at.success[0].value
    assert "1 imported" in shown
    # The summary names the ignored files (two here: no separate list), escaped so Markdown shows them as text.
    assert "\\[x\\]\\(http\\:evil\\)\\.png" in shown, shown
    plain = re.sub(r"\\(.)", r"\1", shown)
    assert "2 other files ignored (not named <OBJID>.jpg: notes.txt, [x](http:evil).png)" in plain, plain


def test_the_image_folder_describes_itself(page):
    at, server, folder = page
    at.run()
    at.number_input(key="img_size").set_value(128)
    at.button(key="img_start").click().run()
    _wait_for_end(folder)
    at.run()
    about = next(d.value for d in at.dataframe if "key" in d.value.columns)
    values = dict(zip(about["key"], about["value"], strict=True))
    assert values["width_px"] == "128" and values["scale_arcsec_per_px"] == "0.396" and values["source"] == "dr18"


@pytest.mark.parametrize("content", [b"[]", b"\xff\xfe{", b'{"status": "running", "total": "many"}'])
def test_an_odd_state_file_does_not_take_the_page_down(page, content):
    at, server, folder = page
    folder.mkdir(parents=True)
    (folder / jobs.STATE_NAME).write_bytes(content)
    at.run()
    assert not at.exception
    assert any("Gallery" in s.value for s in at.subheader)


def test_choices_survive_navigating_away_and_back(isolated_home):
    from tests.support.paths import APP_FILE

    at = AppTest.from_file(str(APP_FILE), default_timeout=60)
    at.run()
    at.switch_page("pages/images.py").run()
    at.number_input(key="img_size").set_value(192).run()
    at.selectbox(key="img_source").set_value("dr7").run()
    at.switch_page("pages/home.py").run()  # Streamlit drops the state of widgets it did not draw
    at.switch_page("pages/images.py").run()
    assert not at.exception
    assert at.number_input(key="img_size").value == 192 and at.selectbox(key="img_source").value == "dr7"


def test_which_galaxies_defaults_to_a_new_sky_map_selection(page):
    at, _server, _folder = page
    chosen = load_catalog(FIXTURES / "catalog_table2.csv").table["OBJID"].tolist()[:2]
    at.session_state[state_keys.SKY_SELECTION] = chosen
    at.run()
    assert not at.exception
    assert at.radio(key="img_mode").value == "selection"
    assert "**2** galaxies selected" in at.markdown[0].value
    at.radio(key="img_mode").set_value("all").run()  # the visitor's own choice then stays
    assert at.radio(key="img_mode").value == "all" and "**3** galaxies selected" in at.markdown[0].value


def test_when_every_download_fails_the_page_says_so_and_offers_the_import(page):
    at, server, folder = page
    server.add_fault("503")  # every galaxy, every try: as good as offline
    at.run()
    at.number_input(key="img_retries").set_value(0)
    at.button(key="img_start").click().run()
    state = _wait_for_end(folder)
    assert (state["done"], state["failed"]) == (0, 3)
    at.run()
    assert not at.exception
    assert not at.get("progress")  # no full bar for a job that brought nothing
    summary = next(re.sub(r"\\(.)", r"\1", e.value) for e in at.error if "downloads failed" in e.value)
    assert "All 3 downloads failed. First reasons: server answered HTTP 503 (3)." in summary
    assert "may be offline" in summary and "import images instead" in summary


def test_the_built_in_images_import_with_one_click(page):
    at, server, folder = page
    at.run()
    at.button(key="img_import_builtin").click().run()
    assert not at.exception
    assert any("Built-in images: 30 imported" in s.value for s in at.success)
    assert len(list_cutouts(folder)) == 30 and server.count() == 0
    at.run()  # none of them is a galaxy of this catalogue, and every caption says so on one short line
    captions = [c.value for c in at.caption]
    assert captions.count("not in catalogue") == 24 and not any("in the current catalogue" in c for c in captions)


def _mapped_page(at: AppTest) -> AppTest:
    """``at`` on the Catalog page's built-in galaxies with images (the galaxies the built-in images show)."""
    from core.images.matching import mapped_catalog
    from ui.catalog_state import MAPPED_NAME

    path = mapped_catalog()
    at.session_state[state_keys.CATALOG] = load_catalog(path, name=MAPPED_NAME)
    at.session_state[state_keys.CATALOG_SOURCE] = MAPPED_NAME
    at.session_state[state_keys.CATALOG_DIGEST] = f"mapped:{path}:{path.stat().st_mtime_ns}"
    return at


def test_an_import_after_a_failed_download_redraws_every_section(page):
    at, server, folder = page
    _mapped_page(at)
    server.add_fault("503")  # offline: every galaxy fails
    at.run()
    at.number_input(key="img_retries").set_value(0)
    at.button(key="img_start").click().run()
    assert _wait_for_end(folder)["failed"] == 30
    at.run()
    assert at.button(key="img_retry").label == "Retry 30 failed"
    at.button(key="img_import_builtin").click().run()
    assert not at.exception
    # The counts, failures, retry and progress all read the folder as it is after the import.
    assert "**30** galaxies selected, **30** already in the folder, **0** to fetch." in at.markdown[0].value
    assert not any(s.value.startswith("Failures") for s in at.subheader)
    assert not any(b.key == "img_retry" for b in at.button)
    assert not any("downloads failed" in e.value for e in at.error)
    assert any("are now in the folder" in i.value for i in at.info)
    assert any("now in the folder" in c.value for c in at.caption)
    success = next(s.value for s in at.success if "Built-in images" in s.value)
    assert "30 imported" in success and "0 other files ignored" in success
    assert not any(name in success for name in ("catalog.csv", "labels.csv", "imageset.json"))
    # Tiles show the class of the built-in labels, and the caption says so.
    captions = [c.value for c in at.caption]
    assert "class MERGER" in captions and not any(c == "in catalogue, no votes" for c in captions)
    assert any("the catalogue's class where it has one" in c for c in captions)
    at.run()  # the outcome is shown once
    assert not any("Built-in images" in s.value for s in at.success)


def test_wording_of_tries_and_no_empty_sky_map_choice(page):
    at, _server, _folder = page
    at.run()
    at.number_input(key="img_retries").set_value(0).run()
    worst = next(c.value for c in at.caption if c.value.startswith("Worst case"))
    assert "(1 try of at most" in worst and "retry delays" not in worst
    assert not any("Sky-map" in o for o in at.radio(key="img_mode").options)

"""The Images page's engine choice (this process, an embedded Dask cluster, a scheduler), the worst case per
galaxy, and a cluster job's progress read from its state.json."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core import jobs
from core.catalog.reader import load_catalog
from core.images.download_config import DownloadConfig
from core.images.folder import list_cutouts
from core.jobs import JobState, JobStatus
from tests.support.fake_skyserver import fake_skyserver
from tests.support.paths import CUTOUT_FIXTURES, page_file
from ui import state_keys
from ui.cluster_engine import ENGINE_LOCAL, ENGINE_SCHEDULER, ENGINE_SINGLE

START = "img_start"


def _page(folder: Path) -> AppTest:
    at = AppTest.from_file(page_file("images"), default_timeout=30)
    at.session_state[state_keys.CATALOG] = load_catalog(CUTOUT_FIXTURES / "catalog_table2.csv")
    at.session_state[state_keys.CATALOG_SOURCE] = "catalog_table2.csv"
    at.session_state[state_keys.IMAGES_DIR] = str(folder)
    return at


def _plain(text: str) -> str:
    return str(text).replace("\\", "").replace("\u200b", "")


def _texts(at: AppTest) -> str:
    return " ".join(_plain(e.value) for kind in ("markdown", "caption", "info", "error", "success", "warning")
                    for e in at.get(kind))


def _wait_for_end(folder: Path, timeout: float = 90.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        state = jobs.read_state(folder)
        if state and state["status"] not in ("starting", "running") and not state["running"]:
            return state
        assert time.monotonic() < deadline, f"job did not finish: {state}"
        time.sleep(0.2)


def _write_cluster_state(folder: Path, status: JobStatus, **progress) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "job_catalog.csv").write_text("OBJID,RA,DEC\n")
    settings = {**DownloadConfig(workers=4).to_dict(), "catalog": str(folder / "job_catalog.csv"),
                "selection": "3,000 galaxies of big.csv", "engine": "LocalCluster of 2 worker processes",
                "engine_args": ["--cluster", "2", "--partition-rows", "1000"], "partition_rows": 1000,
                "dashboard": "http://127.0.0.1:8787/status"}
    jobs.write_state(folder, JobState(kind="download", status=status, total=3000, done=1100, skipped=50, failed=50,
                                      started_at=time.time() - 60, settings=settings,
                                      progress={"processed": 1200, "pending": 1800, "elapsed_s": 55.0,
                                                "throughput": 20.0, "eta_s": 90.0, **progress}).to_dict())


@pytest.fixture
def folder(isolated_home: Path) -> Path:
    return isolated_home / "images"


def test_local_mode_offers_the_engines_and_states_the_worst_case(folder: Path, monkeypatch):
    monkeypatch.setenv("GZ_DASK_SCHEDULER", "tcp://10.1.2.3:8786")
    at = _page(folder).run()
    assert not at.exception
    radio = at.radio(key=state_keys.IMAGES_ENGINE)
    assert radio.options == [ENGINE_SINGLE, ENGINE_LOCAL, ENGINE_SCHEDULER] and radio.value == ENGINE_SINGLE
    assert "Worst case: at most 55 s per galaxy (3 tries of at most 15 s" in _texts(at)
    at.number_input(key="img_timeout").set_value(30.0).run()
    assert "at most 100 s per galaxy (3 tries of at most 30 s" in _texts(at)  # 3 x 30 s + two delays of 5 s

    radio.set_value(ENGINE_LOCAL).run()
    assert at.number_input(key=state_keys.IMAGES_WORKERS).value >= 1
    assert at.number_input(key=state_keys.IMAGES_PARTITION).value == 1000
    assert "bounds the requests in flight across the whole cluster" in _texts(at)
    assert "--cluster" in at.code[0].value and "--partition-rows 1000" in at.code[0].value
    assert not at.button(key=START).disabled
    # The address field starts with GZ_DASK_SCHEDULER, but only when that engine is picked.
    at.radio(key=state_keys.IMAGES_ENGINE).set_value(ENGINE_SCHEDULER).run()
    assert at.text_input(key=state_keys.IMAGES_SCHEDULER).value == "tcp://10.1.2.3:8786"
    assert "--scheduler tcp://10.1.2.3:8786" in at.code[0].value


def test_a_bad_scheduler_address_is_refused_clearly(folder: Path):
    at = _page(folder).run()
    at.radio(key=state_keys.IMAGES_ENGINE).set_value(ENGINE_SCHEDULER).run()
    assert "Type the address of a running Dask scheduler" in _texts(at)
    assert at.button(key=START).disabled
    at.text_input(key=state_keys.IMAGES_SCHEDULER).input("http://example.org").run()
    assert any("is not of the form tcp://HOST:PORT" in _plain(e.value) for e in at.error)
    assert at.button(key=START).disabled
    at.text_input(key=state_keys.IMAGES_SCHEDULER).input("127.0.0.1:8786").run()
    assert not at.error and not at.button(key=START).disabled


def test_public_mode_offers_no_engine(folder: Path, monkeypatch):
    monkeypatch.setenv("GZ_MODE", "public")
    monkeypatch.setenv("GZ_DASK_SCHEDULER", "tcp://10.1.2.3:8786")
    at = _page(folder).run()
    assert not at.exception
    assert not [r for r in at.radio if r.key == state_keys.IMAGES_ENGINE]
    assert not {t.key for t in at.text_input} & {state_keys.IMAGES_SCHEDULER}
    assert "10.1.2.3" not in _texts(at)


def test_a_running_cluster_job_shows_partitions_eta_dashboard_and_cancel(folder: Path):
    _write_cluster_state(folder, JobStatus.RUNNING, partitions=3, partitions_done=1)
    with jobs.JobLock(folder):  # the test plays the worker: the lock says the job runs
        at = _page(folder).run()
        assert not at.exception
        bar = at.get("progress")[0].proto
        assert bar.value == 40 and "1,200 / 3,000 galaxies · 1 / 3 partitions · downloading" in bar.text
        metrics = {m.label: m.value for m in at.metric}
        assert (metrics["Downloaded"], metrics["Already present"], metrics["Failed"]) == ("1,100", "50", "50")
        assert metrics["ETA"] == "1m 30s" and metrics["Images / s"] == "20.0"
        texts = _texts(at)
        assert "On LocalCluster of 2 worker processes, in partitions of up to 1,000 galaxies" in texts
        assert "[Dask dashboard](http://127.0.0.1:8787/status)" in texts and "listens on 127.0.0.1" in texts
        assert at.button(key=START).disabled  # one job per folder
        at.button(key="img_cancel").click().run()
        assert (folder / jobs.CANCEL_NAME).exists()


def test_a_finished_cluster_job_lists_its_engine_and_worst_case(folder: Path):
    _write_cluster_state(folder, JobStatus.CANCELLED, partitions=3, partitions_done=1)
    at = _page(folder).run()
    assert not at.exception
    rows = next(d.value for d in at.dataframe if "setting" in d.value.columns)
    settings = dict(zip(rows["setting"], rows["value"], strict=True))
    assert settings["Engine"] == "LocalCluster of 2 worker processes" and settings["Longest per galaxy"] == "55 s"
    assert {m.label: m.value for m in at.metric}["ETA"] == "–"  # only a running job has one
    assert "Dask dashboard" not in _texts(at)  # the cluster is gone with the job


def test_a_job_that_could_not_reach_its_scheduler_says_why_without_empty_counts(folder: Path):
    folder.mkdir(parents=True)
    (folder / jobs.LOG_NAME).write_text("error: no Dask scheduler answered at tcp://127.0.0.1:9 within 20 s\n")
    jobs.write_state(folder, JobState(kind="download", status=JobStatus.FAILED, started_at=time.time() - 30,
                                      message="no Dask scheduler answered at tcp://127.0.0.1:9 within 20 s",
                                      settings={"engine_args": ["--scheduler", "tcp://127.0.0.1:9"]}).to_dict())
    at = _page(folder).run()
    assert not at.exception
    assert not at.get("progress") and not at.metric
    assert any("could not run: no Dask scheduler answered" in _plain(e.value) for e in at.error)
    assert "On Dask scheduler tcp://127.0.0.1:9." in _texts(at)


def test_this_process_means_one_process_even_with_gz_dask_scheduler_set(folder: Path, monkeypatch):
    """The dashboard's environment names a scheduler nobody runs: a single-process job must not try it."""
    with fake_skyserver() as server:
        monkeypatch.setenv("GZ_CUTOUT_BASE_URL", server.dr18_base)
        monkeypatch.setenv("GZ_DASK_SCHEDULER", "tcp://127.0.0.1:9")
        at = _page(folder).run()
        assert at.radio(key=state_keys.IMAGES_ENGINE).value == ENGINE_SINGLE
        at.button(key=START).click().run()
        assert not at.exception and not at.error, [e.value for e in at.error]
        state = _wait_for_end(folder)
    assert (state["status"], state["done"]) == ("finished", 3), state["message"]
    assert state["settings"]["engine_args"] == [] and "engine" not in state["settings"]
    assert len(list_cutouts(folder)) == 3


@pytest.mark.slow
def test_the_page_runs_a_download_on_an_embedded_cluster(folder: Path, monkeypatch):
    with fake_skyserver() as server:
        monkeypatch.setenv("GZ_CUTOUT_BASE_URL", server.dr18_base)
        at = _page(folder).run()
        at.radio(key=state_keys.IMAGES_ENGINE).set_value(ENGINE_LOCAL).run()
        at.number_input(key=state_keys.IMAGES_WORKERS).set_value(1)
        at.number_input(key=state_keys.IMAGES_PARTITION).set_value(2).run()
        at.button(key=START).click().run()
        assert not at.exception and not at.error, [e.value for e in at.error]
        state = _wait_for_end(folder, timeout=120)
    assert (state["status"], state["done"], state["failed"]) == ("finished", 3, 0), state["message"]
    assert state["settings"]["engine"] == "LocalCluster of 1 worker process"
    assert (state["progress"]["partitions"], state["progress"]["partitions_done"]) == (2, 2)
    at.run()
    assert "3 / 3 galaxies · 2 / 2 partitions · finished" in at.get("progress")[0].proto.text
    assert len(list_cutouts(folder)) == 3

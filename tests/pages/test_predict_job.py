"""AppTest of the Predict page's "Whole catalogue" tab: controls, public mode, engine checks, job progress."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core import jobs
from core.cluster.predict_job import KIND, default_output, job_folder_for
from core.jobs import JobState, JobStatus
from tests.support.paths import page_file
from tests.support.tiny_runs import FIXTURES, make_run
from ui import state_keys
from ui.prediction_job import ENGINE_SCHEDULER, SRC_DEMO

PAGE = page_file("predict")


@pytest.fixture
def with_demo(monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("GZ_DEMO_DIR", str(FIXTURES))
    return make_run(Path(os.environ["GZ_MODELS_DIR"]) / "demo", width=8, image_size=32)


def _page() -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=120).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _button(at: AppTest, key: str):
    return next(b for b in at.button if b.key == key)


def _plain(text: str) -> str:
    """Text as people read it: without md_escape's backslashes and zero-width spaces."""
    return str(text).replace("\\", "").replace("\u200b", "")


def _errors(at: AppTest) -> list[str]:
    return [_plain(e.value) for e in at.error]


def _texts(at: AppTest) -> str:
    return " ".join(_plain(e.value) for kind in ("markdown", "caption", "info", "error", "success", "warning")
                    for e in at.get(kind))


def _write_state(out: Path, status: JobStatus, **progress) -> Path:
    folder = job_folder_for(out)
    folder.mkdir(parents=True)
    now = time.time()
    jobs.write_state(folder, JobState(
        kind=KIND, status=status, message="7 predicted, 0 already in the file, 1 refused", started_at=now - 60,
        settings={"out": str(out)}, progress={"engine": "LocalCluster of 2 worker processes", "out": str(out),
                                              "first_progress_at": now - 50, "rows_start": 0, **progress}).to_dict())
    return folder


def test_local_mode_offers_the_job_controls(with_demo: Path, isolated_home: Path):
    at = _page()
    assert any("is not a folder (download images on the Images page)" in e for e in _errors(at))
    assert _button(at, state_keys.PREDICT_JOB_START).disabled
    (isolated_home / "images").mkdir(parents=True)
    at.run()
    assert SRC_DEMO in at.radio(key=state_keys.PREDICT_JOB_SOURCE).options
    assert at.number_input(key=state_keys.PREDICT_JOB_WORKERS).value >= 1
    assert at.number_input(key=state_keys.PREDICT_JOB_PARTITION).value == 2000
    start = _button(at, state_keys.PREDICT_JOB_START)
    assert not start.disabled  # the built-in sample catalogue and the workspace's image folder
    out = next(t for t in at.text_input if t.label == "Output CSV")
    assert out.value == str(default_output("demo", "built-in sample (gz1_table2_sample695.csv)"))
    assert out.value == str(isolated_home / "predictions" / "demo_built-in_sample_gz1_table2_sample695.csv")
    assert "No whole-catalogue job has run yet" in _texts(at)


def test_public_mode_hides_the_job_controls(with_demo: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("GZ_MODE", "public")
    at = _page()
    assert not [b for b in at.button if b.key == state_keys.PREDICT_JOB_START]
    assert not [r for r in at.radio if r.key == state_keys.PREDICT_JOB_ENGINE]
    assert any("whole-catalogue jobs" in i.value and "public mode" in i.value for i in at.info)


def test_a_bad_scheduler_address_or_path_is_refused_clearly(with_demo: Path, tmp_path: Path):
    at = _page()
    at.radio(key=state_keys.PREDICT_JOB_ENGINE).set_value(ENGINE_SCHEDULER).run()
    at.text_input(key=state_keys.PREDICT_JOB_SCHEDULER).input("http://example.org").run()
    assert any("is not of the form tcp://HOST:PORT" in e for e in _errors(at))
    assert _button(at, state_keys.PREDICT_JOB_START).disabled
    at.text_input(key=state_keys.PREDICT_JOB_SCHEDULER).input("127.0.0.1:8786").run()
    assert not any("tcp://HOST:PORT" in e for e in _errors(at))
    next(t for t in at.text_input if t.label == "Output CSV").input("/etc/predictions.csv").run()
    assert any("Output CSV" in e and "outside the folders" in e for e in _errors(at))
    assert _button(at, state_keys.PREDICT_JOB_START).disabled


def test_a_running_job_shows_its_progress_dashboard_and_cancel(with_demo: Path, isolated_home: Path):
    out = isolated_home / "predictions" / "big.csv"
    folder = _write_state(out, JobStatus.RUNNING, parts_done=3, parts_total=10, rows_done=6000, rows_total=20000,
                          failures=4, dashboard="http://127.0.0.1:8787/status")
    with jobs.JobLock(folder):  # the test plays the worker: the lock says the job runs
        at = _page()
        bar = at.get("progress")[0].proto
        assert bar.value == 30 and "3 / 10 partitions · 6,000 / 20,000 galaxies · predicting" in bar.text
        metrics = {m.label: m.value for m in at.metric}
        assert metrics["Partitions"] == "3 / 10" and metrics["Refused so far"] == "4"
        assert metrics["Galaxies done"] == "6,000" and metrics["ETA"] == "1m 57s"  # 14,000 left at 120 rows/s
        assert "120.0 galaxies/s" in _texts(at)
        assert "http://127.0.0.1:8787/status" in _texts(at) and "listens on 127.0.0.1" in _texts(at)
        _button(at, "predict_job_cancel").click().run()
        assert (folder / jobs.CANCEL_NAME).exists()


def test_a_finished_job_offers_its_csv(with_demo: Path, isolated_home: Path):
    out = isolated_home / "predictions" / "done.csv"
    out.parent.mkdir(parents=True)
    out.write_text("ID,IMAGE\n1,1.jpg\n")
    _write_state(out, JobStatus.FINISHED, parts_done=3, parts_total=3, rows_done=8, rows_total=8, failures=1,
                 refused=[["587000000000000001", "is not a JPEG or PNG image"]])
    at = _page()
    assert any("Finished: 7 predicted" in _plain(w.value) and "done.csv" in _plain(w.value) for w in at.warning)  # refused: not green
    assert [b for b in at.get("download_button") if "Download the predictions" in b.proto.label]
    assert at.get("progress")[0].proto.value == 100

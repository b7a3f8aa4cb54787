"""Whole-catalogue prediction as a detached job: state.json progress, output, cancel and resume, ETA."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

from core import jobs
from core.cli import main
from core.cluster.engine import Engine, EngineError
from core.cluster.predict import part_path, parts_dir, predict_partition
from core.cluster.predict_job import (
    KIND,
    PredictJobSpec,
    engine_for,
    eta_words,
    job_active,
    job_folder_for,
    jobs_root,
    list_jobs,
    pick_job,
    predict_progress,
    restart_predict_job,
    start_predict_job,
)
from core.inference.galaxy_sets import set_from_catalog_file
from core.inference.predictions_csv import largest_difference, read_predictions
from core.jobs import JobState, JobStatus
from tests.support.dask_cluster import external_cluster
from tests.support.tiny_runs import FIXTURES, make_run

pytestmark = pytest.mark.slow

WAIT_S = 180  # bound on every wait for a worker (2 shared cores: start-up of torch and a LocalCluster)


@pytest.fixture
def images(tmp_path: Path) -> Path:
    folder = tmp_path / "images"
    shutil.copytree(FIXTURES / "gz1", folder)
    (folder / "587000000000000001.jpg").write_bytes(b"not a jpeg")  # a refused image, in the catalogue too
    with open(folder / "labels.csv", "a", encoding="utf-8") as fh:
        fh.write("587000000000000001,0,ELLIPTICAL,587000000000000001.jpg" + "," * 13 + "\n")
    return folder


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    return make_run(tmp_path / "models" / "tiny")


def _wait(folder: Path, until, what: str) -> JobState:
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        state = jobs.read_job(folder)
        if state is not None and until(state):
            return state
        time.sleep(0.2)
    log = (folder / jobs.LOG_NAME).read_text(errors="replace") if (folder / jobs.LOG_NAME).exists() else ""
    raise AssertionError(f"job never {what}; state {jobs.read_state(folder)}; log:\n{log[-3000:]}")


def _ended(state: JobState) -> bool:
    return not job_active(state) and state.status != JobStatus.STARTING


def _same(a: Path, b: Path) -> None:
    left, right = read_predictions(a), read_predictions(b)
    assert list(left["ID"]) == list(right["ID"])
    assert largest_difference(left, right) <= 1e-5


def test_job_on_a_local_cluster_writes_progress_and_the_same_output(images: Path, run_dir: Path, tmp_path: Path):
    direct = tmp_path / "direct.csv"
    assert main(["predict", "--catalog", str(images / "labels.csv"), "--images", str(images), "--model",
                 str(run_dir), "--out", str(direct), "--no-progress"]) == 1  # one refused image
    out = tmp_path / "gzhome" / "predictions" / "job.csv"
    spec = PredictJobSpec(images=images, run_dir=run_dir, out=out, engine=engine_for(workers=1),
                          catalog=images / "labels.csv", partition_rows=3)
    folder = job_folder_for(out)
    assert folder.parent == jobs_root() and jobs_root().is_relative_to(tmp_path / "gzhome")
    start_predict_job(spec)
    with pytest.raises(jobs.JobBusy):  # a second start while the first is starting or running
        start_predict_job(spec)
    state = _wait(folder, _ended, "ended")
    assert state.status == JobStatus.FINISHED, state.message
    assert state.kind == KIND and state.settings["partition_rows"] == 3 and state.settings["workers"] == 1
    p = state.progress
    assert (p["parts_done"], p["parts_total"], p["rows_done"], p["rows_total"]) == (3, 3, 8, 8)
    assert p["failures"] == 1 and p["refused"][0][0] == "587000000000000001"
    assert p["engine"] == "LocalCluster of 1 worker process"
    assert p["dashboard"].startswith("http://127.0.0.1:")  # the embedded cluster's dashboard binds 127.0.0.1
    shown = predict_progress(state)
    assert shown.fraction == 1.0 and shown.eta_s is None and shown.failures == 1 and shown.out == str(out)
    _same(direct, out)
    assert not parts_dir(out).exists()
    assert pick_job(list_jobs()) == (folder, state)
    restart_predict_job(folder)  # the same job again, from its stored settings: only the refused image is left
    again = _wait(folder, lambda s: _ended(s) and s.started_at != state.started_at, "ended")
    assert again.status == JobStatus.FINISHED and again.message.startswith("0 predicted, 7 already in the file")
    _same(direct, out)


def test_cancel_keeps_finished_parts_and_a_rerun_continues(images: Path, run_dir: Path, tmp_path: Path):
    out = tmp_path / "gzhome" / "predictions" / "resumed.csv"
    gset = set_from_catalog_file(images / "labels.csv", images)
    with external_cluster(tmp_path, n_workers=0) as cluster:  # a scheduler with no worker: nothing finishes
        spec = PredictJobSpec(images=images, run_dir=run_dir, out=out, engine=engine_for(scheduler=cluster.address),
                              catalog=images / "labels.csv", partition_rows=3)
        start_predict_job(spec)
        folder = job_folder_for(out)
        running = _wait(folder, lambda s: s.running and s.progress.get("parts_total") == 3, "ran")
        assert running.progress["parts_done"] == 0 and running.progress["rows_done"] == 0
        assert predict_progress(running).eta_s is None  # no rate yet
        jobs.request_cancel(folder)
        cancelled = _wait(folder, _ended, "stopped after cancel")
    assert cancelled.status == JobStatus.CANCELLED
    assert not (folder / jobs.CANCEL_NAME).exists()
    parts = parts_dir(out)
    assert (parts / "manifest.json").exists() and not out.exists()
    # A worker that finished the first partition before the cancel, as it would on a real cluster.
    predict_partition(str(run_dir.resolve()), gset.head(3), str(part_path(parts, 0)), False, None, 64)
    start_predict_job(PredictJobSpec(**{**spec.__dict__, "engine": Engine(local_workers=2)}))
    done = _wait(folder, _ended, "ended")
    assert done.status == JobStatus.FINISHED, done.message
    assert done.progress["partitions_reused"] == 1 and done.progress["rows_start"] == 3
    direct = tmp_path / "direct.csv"
    main(["predict", "--catalog", str(images / "labels.csv"), "--images", str(images), "--model", str(run_dir),
          "--out", str(direct), "--no-progress"])
    _same(direct, out)


def test_bad_settings_are_refused_before_a_job_starts(images: Path, run_dir: Path, tmp_path: Path, monkeypatch):
    with pytest.raises(EngineError, match="not of the form tcp://HOST:PORT"):
        engine_for(scheduler="http://example.org")
    with pytest.raises(EngineError, match="at least 1 worker"):
        engine_for(workers=0)
    assert engine_for(scheduler="127.0.0.1:8786").scheduler == "tcp://127.0.0.1:8786"
    out = tmp_path / "o.csv"
    spec = PredictJobSpec(images=images, run_dir=run_dir, out=out, engine=Engine(local_workers=1))
    with pytest.raises(FileNotFoundError, match="does not exist"):
        start_predict_job(PredictJobSpec(**{**spec.__dict__, "images": tmp_path / "nowhere"}))
    with pytest.raises(EngineError, match="Dask cluster"):
        start_predict_job(PredictJobSpec(**{**spec.__dict__, "engine": Engine()}))
    monkeypatch.setenv("GZ_MODE", "public")
    with pytest.raises(PermissionError, match="public mode"):
        start_predict_job(spec)
    assert not jobs_root().exists()


def test_a_worker_that_cannot_read_its_catalogue_records_why(images: Path, run_dir: Path, tmp_path: Path):
    folder = tmp_path / "job"
    code = main(["predict", "--catalog", str(tmp_path / "missing.csv"), "--images", str(images), "--model",
                 str(run_dir), "--out", str(tmp_path / "o.csv"), "--cluster", "1", "--job-folder", str(folder)])
    assert code == 2
    state = jobs.read_job(folder)
    assert state.status == JobStatus.FAILED and "missing.csv" in state.message
    assert main(["predict", "--images", str(images), "--out", str(tmp_path / "o.csv"), "--model", str(run_dir),
                 "--job-folder", str(folder)]) == 2  # a job needs a cluster engine


def test_progress_figures_and_eta_from_a_written_state():
    now = 1_000_000.0
    state = JobState(kind=KIND, status=JobStatus.RUNNING, started_at=now - 100, updated_at=now - 10, running=True,
                     progress={"rows_done": 600, "rows_total": 1000, "rows_start": 200, "parts_done": 6,
                               "parts_total": 10, "failures": 2, "first_progress_at": now - 90,
                               "dashboard": "http://127.0.0.1:8787/status", "engine": "LocalCluster of 2 worker "
                               "processes", "out": "/x/p.csv"})
    p = predict_progress(state, now=now)
    assert p.fraction == pytest.approx(0.6) and (p.parts_done, p.parts_total, p.failures) == (6, 10, 2)
    assert p.rows_per_s == pytest.approx(5.0)  # 400 rows of this run in the 80 s between updates
    assert p.eta_s == pytest.approx(80.0) and eta_words(p.eta_s) == "1m 20s" and eta_words(3725) == "1h 02m"
    assert p.elapsed_s == pytest.approx(100.0)
    ended = predict_progress(JobState(**{**state.__dict__, "status": JobStatus.CANCELLED, "running": False}), now=now)
    assert ended.eta_s is None and ended.elapsed_s == pytest.approx(90.0)  # to the last update
    empty = predict_progress(JobState(kind=KIND, status=JobStatus.FINISHED))
    assert empty.fraction == 1.0 and empty.dashboard is None and eta_words(None) == "–"

"""core.jobs: job state on disk, one worker per folder, SIGKILL-safe locks, prompt cancel."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from core import jobs

HOLD_LOCK = """
import sys, time
from core import jobs
folder = {folder!r}
with jobs.JobLock(folder):
    jobs.install_sigterm_as_cancel(folder)
    jobs.write_state(folder, {{"status": "running", "done": 1}})
    print("locked", flush=True)
    while not jobs.cancel_requested(folder):
        time.sleep(0.05)
    jobs.write_state(folder, {{"status": "cancelled", "done": 1}})
"""


def _hold(folder: Path) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", HOLD_LOCK.format(folder=str(folder))],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "locked"
    return proc


def test_second_worker_is_refused_and_state_is_shared(tmp_path):
    proc = _hold(tmp_path)
    try:
        assert jobs.is_running(tmp_path)
        assert jobs.lock_owner_pid(tmp_path) == proc.pid
        with pytest.raises(jobs.JobBusy, match=str(tmp_path)):
            jobs.JobLock(tmp_path).acquire()
        state = jobs.read_state(tmp_path)
        assert state["status"] == "running" and state["running"] is True
    finally:
        proc.kill()
        proc.wait()


def test_sigkill_releases_the_lock_and_marks_the_job_interrupted(tmp_path):
    proc = _hold(tmp_path)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not jobs.is_running(tmp_path)
    assert jobs.read_state(tmp_path)["status"] == "interrupted"
    with jobs.JobLock(tmp_path):  # a new worker can take over at once
        assert jobs.is_running(tmp_path)


def test_cancel_is_a_file_plus_sigterm_and_the_worker_ends_cleanly(tmp_path):
    proc = _hold(tmp_path)
    t0 = time.monotonic()
    jobs.request_cancel(tmp_path)
    assert proc.wait(timeout=10) == 0
    assert time.monotonic() - t0 < 5
    assert jobs.read_state(tmp_path)["status"] == "cancelled"
    jobs.clear_cancel(tmp_path)
    assert not jobs.cancel_requested(tmp_path)


def test_state_writes_are_atomic_and_readable_by_others(tmp_path):
    jobs.write_state(tmp_path, {"status": "done", "total": 3})
    assert oct((tmp_path / jobs.STATE_NAME).stat().st_mode & 0o777) == "0o644"
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    (tmp_path / jobs.STATE_NAME).write_text("{half")  # a torn file from elsewhere reads as missing
    assert jobs.read_state(tmp_path) is None


def test_start_detached_runs_the_cli_and_logs_to_the_job_folder(tmp_path):
    proc = jobs.start_detached(["--help"], tmp_path)
    assert proc.wait(timeout=60) == 0
    assert "catalog" in (tmp_path / jobs.LOG_NAME).read_text()


@pytest.mark.parametrize("content", [b"[1, 2, 3]", b'"running"', b"\xff\xfe not utf-8 {}", b"null", b""])
def test_odd_state_files_read_as_no_state(tmp_path, content):
    (tmp_path / jobs.STATE_NAME).write_bytes(content)
    assert jobs.read_state(tmp_path) is None and jobs.read_job(tmp_path) is None


def test_read_job_is_typed_and_marks_a_dead_worker_interrupted(tmp_path):
    state = jobs.JobState(kind="download", status=jobs.JobStatus.RUNNING, done=3, total=5,
                          settings={"size": 128}, progress={"pending": 2})
    jobs.write_state(tmp_path, state.to_dict())
    job = jobs.read_job(tmp_path)
    assert job.status == jobs.JobStatus.INTERRUPTED and job.running is False  # nobody holds the lock
    assert (job.done, job.total, job.settings, job.progress) == (3, 5, {"size": 128}, {"pending": 2})
    jobs.write_state(tmp_path, {"kind": "download", "status": "no such status"})
    assert jobs.read_job(tmp_path) is None


def test_launched_job_reads_a_worker_that_died_before_its_state():
    from core.jobs import LOG_NAME, STATE_NAME, JobStatus, read_launched_job

    def check(tmp, log, status, words):
        tmp.mkdir()
        if log is not None:
            (tmp / LOG_NAME).write_text(log)
        job = read_launched_job(tmp, "training")
        assert job.status == status and words in job.message and job.kind == "training"

    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as d:
        root = Path(d)
        check(root / "a", None, JobStatus.STARTING, "starting")
        check(root / "b", "loading…\n", JobStatus.STARTING, "starting")  # "error" as a word is no failure
        check(root / "c", "error: --images /x: no such folder\n", JobStatus.FAILED, "--images /x: no such folder")
        check(root / "d", "usage: gz train ...\ngz train: error: the following arguments are required: "
                          "--catalog\n", JobStatus.FAILED, "required: --catalog")
        check(root / "e", "Traceback (most recent call last):\n  File x\nKeyError: 'k'\n", JobStatus.FAILED,
              "KeyError")
        (root / "c" / STATE_NAME).write_text('{"status": "finished", "kind": "training"}')
        assert read_launched_job(root / "c", "training").status == JobStatus.FINISHED  # state.json decides


def test_log_tail_gives_the_last_lines_or_nothing(tmp_path):
    from core.jobs import LOG_NAME, log_tail

    assert log_tail(tmp_path) == ""
    (tmp_path / LOG_NAME).write_text("\n".join(f"line {i}" for i in range(20)) + "\n")
    assert log_tail(tmp_path, lines=3) == "line 17\nline 18\nline 19"

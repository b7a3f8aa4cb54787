"""The downloader against the fake SkyServer: outcomes, faults, retries, cancel, resume."""

from __future__ import annotations

import csv
import random
import threading
import time
from pathlib import Path

import pytest

from core import jobs
from core.images.check import check_file
from core.images.cutouts import CutoutSettingsError
from core.images.download import run_download
from core.images.download_config import DownloadConfig
from core.images.failures import Target, read_failures
from core.images.folder import InvalidObjid, image_path, list_cutouts, safe_objid
from core.jobs import JobState, JobStatus
from tests.support.fake_skyserver import fake_skyserver
from tests.support.paths import CUTOUT_FIXTURES

FIXTURES = CUTOUT_FIXTURES
SIZE = 96


def _targets() -> list[Target]:
    with open(FIXTURES / "catalog_positions.csv", newline="") as fh:
        return [Target(r["OBJID"], float(r["RA"]), float(r["DEC"])) for r in csv.DictReader(fh)]


def _fast(base: str, **changes) -> DownloadConfig:
    values = dict(workers=4, backoff=0.01, backoff_max=0.05, timeout=2.0, connect_timeout=2.0,
                  state_interval=0.05, base_url=base, size=SIZE)
    values.update(changes)
    return DownloadConfig(**values)


@pytest.fixture
def server():
    with fake_skyserver() as srv:
        yield srv


@pytest.fixture
def fast(server):
    """Quick settings against the fake server; keyword arguments change any field."""
    return lambda **changes: _fast(server.dr18_base, **changes)


def _assert_every_jpg_valid(folder: Path) -> None:
    for path in folder.glob("*.jpg"):
        check_file(path, (SIZE, SIZE))


class _Watcher:
    """Scans the folder while a job runs and records any .jpg that is not a whole, valid image."""

    def __init__(self, folder: Path):
        self.folder, self.bad, self.seen = folder, [], 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            for path in list(self.folder.glob("*.jpg")):
                self.seen += 1
                try:
                    check_file(path, (SIZE, SIZE))
                except Exception as exc:  # noqa: BLE001 - record anything
                    self.bad.append((path.name, str(exc)))

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def test_every_galaxy_ends_valid_or_reported_under_faults(tmp_path, server, fast):
    targets = _targets()
    t = targets
    # Transient faults (recovered by retries) and permanent ones (reported).
    for kind, i in [("500", 3), ("503", 4), ("truncate", 5), ("reset", 6), ("html200", 7)]:
        server.add_fault(kind, ra=t[i].ra, dec=t[i].dec, times=1)
    server.add_fault("delay", ra=t[8].ra, dec=t[8].dec, times=1, delay=1.5)
    for kind, i in [("wrong_size", 10), ("blank", 11), ("404", 12), ("400", 13), ("500", 14), ("truncate", 15)]:
        server.add_fault(kind, ra=t[i].ra, dec=t[i].dec)
    targets = targets + [Target("../../escape", 10.0, 10.0), Target("999999999999999999", 0.5, 0.5)]
    folder = tmp_path / "img"
    with _Watcher(folder) as watcher:
        summary = run_download(targets, folder, fast(timeout=0.5, retries=2))

    assert watcher.seen > 0 and watcher.bad == []
    assert summary.status == JobStatus.FINISHED
    assert summary.downloaded + summary.failed == len(targets) and summary.skipped == 0
    failed = {f.objid: f for f in summary.failures}
    assert set(failed) == {t[i].objid for i in (10, 11, 12, 13, 14, 15)} | {"../../escape", "999999999999999999"}
    # Content faults are retried like 5xx, up to the retry limit; other 4xx are final.
    assert "wrong size" in failed[t[10].objid].reason and failed[t[10].objid].attempts == 3
    assert "blank" in failed[t[11].objid].reason and failed[t[11].objid].attempts == 3
    assert failed[t[12].objid].reason == "server answered HTTP 404" and failed[t[12].objid].attempts == 1
    assert failed[t[13].objid].reason == "server answered HTTP 400" and failed[t[13].objid].attempts == 1
    assert failed[t[14].objid].reason == "server answered HTTP 500" and failed[t[14].objid].attempts == 3
    assert failed[t[15].objid].reason == "127.0.0.1 closed the connection before the whole image arrived"
    assert failed[t[15].objid].attempts == 3 and "IncompleteRead" in failed[t[15].objid].detail
    assert "not 1-20 digits" in failed["../../escape"].reason
    assert failed["999999999999999999"].reason == "server answered HTTP 404"  # nothing within 3" of it

    # Every galaxy: a valid file or a failure row, never both, never neither.
    files = {p.stem for p in list_cutouts(folder)}
    assert files | set(failed) == {x.objid for x in targets} and not files & set(failed)
    _assert_every_jpg_valid(folder)
    assert not list(folder.glob(".*.part")) and not list(folder.glob(".*.tmp")) and not (tmp_path / "escape.jpg").exists()
    rows = read_failures(folder)
    assert {r["OBJID"] for r in rows} == set(failed) and all(r["REASON"] for r in rows)
    state = jobs.read_job(folder)
    assert state.status == JobStatus.FINISHED and state.running is False
    assert (state.total, state.done, state.failed, state.progress["pending"]) == (len(targets), 34, 8, 0)


def test_retry_rules_count_requests(tmp_path, server, fast):
    t = _targets()[:4]
    server.add_fault("503", ra=t[0].ra, dec=t[0].dec, times=2)   # retried, then succeeds on the 3rd try
    server.add_fault("delay", ra=t[1].ra, dec=t[1].dec, times=1, delay=1.0)  # timeout, then succeeds
    server.add_fault("404", ra=t[2].ra, dec=t[2].dec)  # 4xx: never retried
    server.add_fault("503", ra=t[3].ra, dec=t[3].dec)  # always 5xx: gives up after max_attempts
    summary = run_download(t, tmp_path, fast(retries=3, timeout=0.3))
    by_pos = {}
    for r in server.requests:
        by_pos.setdefault(round(float(r["query"]["ra"]), 4), []).append(r["answer"])
    assert by_pos[round(t[0].ra, 4)] == ["503", "503", "200"]
    assert by_pos[round(t[1].ra, 4)] == ["delay", "200"]
    assert by_pos[round(t[2].ra, 4)] == ["404"]
    assert by_pos[round(t[3].ra, 4)] == ["503"] * 4
    assert summary.downloaded == 2 and summary.failed == 2
    assert {f.objid: f.attempts for f in summary.failures} == {t[2].objid: 1, t[3].objid: 4}


def test_backoff_is_exponential_with_bounded_jitter():
    opts = DownloadConfig(backoff=1.0, backoff_max=10.0, jitter=0.5)
    rng = random.Random(1)
    for attempt, nominal in [(1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (5, 10.0), (9, 10.0)]:
        delays = [opts.backoff_delay(attempt, rng) for _ in range(200)]
        assert nominal * 0.5 <= min(delays) and max(delays) <= nominal * 1.5
        assert max(delays) - min(delays) > nominal * 0.5  # jitter really spreads the retries
    assert DownloadConfig(jitter=0.0, backoff=0.5).backoff_delay(3, rng) == 2.0


def test_min_interval_spaces_requests(tmp_path, server, fast):
    t0 = time.time()
    run_download(_targets()[:8], tmp_path, fast(workers=4, min_interval=0.08))
    times = sorted(r["time"] for r in server.requests)
    # Request k may not start before k * interval; a busy machine can only make it later.
    assert len(times) == 8 and times[-1] - t0 >= 7 * 0.08
    assert all(times[k] - t0 >= k * 0.08 - 0.005 for k in range(8))


def test_settings_are_validated_before_any_request(tmp_path, server, fast):
    with pytest.raises(CutoutSettingsError, match="width"):
        run_download(_targets(), tmp_path, fast(width=20))
    with pytest.raises(ValueError, match="workers"):
        run_download(_targets(), tmp_path, fast(workers=0))
    assert server.count() == 0 and not list(tmp_path.glob("*.jpg"))


def test_resume_skips_valid_files_and_replaces_damaged_ones(tmp_path, server, fast):
    targets = _targets()[:10]
    run_download(targets[:6], tmp_path, fast())
    damaged = image_path(tmp_path, targets[0].objid)
    damaged.write_bytes(damaged.read_bytes()[:300])  # e.g. copied in by hand, cut short
    (tmp_path / f".{targets[9].objid}.jpg.dead.part").write_bytes(b"partial")  # left by a killed run
    before = server.count()
    summary = run_download(targets, tmp_path, fast())
    assert (summary.skipped, summary.downloaded, summary.failed) == (5, 5, 0)
    assert server.count() - before == 5
    assert not list(tmp_path.glob(".*.part")) and not list(tmp_path.glob(".*.tmp"))
    _assert_every_jpg_valid(tmp_path)


def test_cancel_is_prompt_and_keeps_finished_work(tmp_path, fast):
    with fake_skyserver(latency=0.15) as slow:
        config = fast(base_url=slow.dr18_base, workers=2)
        result = {}
        worker = threading.Thread(target=lambda: result.update(s=run_download(_targets(), tmp_path, config)))
        worker.start()
        deadline = time.monotonic() + 10
        while len(list_cutouts(tmp_path)) < 4 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert jobs.is_running(tmp_path)
        t0 = time.monotonic()
        jobs.request_cancel(tmp_path)
        worker.join(timeout=5)
        stopped_in = time.monotonic() - t0
    assert not worker.is_alive() and stopped_in < 1.5
    summary = result["s"]
    assert summary.status == JobStatus.CANCELLED and summary.failed == 0
    assert 4 <= summary.downloaded < 40 and summary.pending == 40 - summary.downloaded
    state = jobs.read_job(tmp_path)
    assert state.status == JobStatus.CANCELLED and state.progress["pending"] == summary.pending
    assert not jobs.cancel_requested(tmp_path)  # the flag does not cancel the next job
    _assert_every_jpg_valid(tmp_path)


def test_one_job_per_folder(tmp_path, fast):
    with jobs.JobLock(tmp_path):
        with pytest.raises(jobs.JobBusy):
            run_download(_targets()[:2], tmp_path, fast())


def test_dr7_style_requests_work_too(tmp_path, server, fast):
    summary = run_download(_targets()[:3], tmp_path, fast(source="dr7", base_url=server.dr7_base, scale=0.4))
    assert summary.downloaded == 3
    assert all(r["path"].endswith("getjpeg.aspx") and r["query"]["scale"] == "0.4" for r in server.requests)


@pytest.mark.parametrize("bad", ["../1", "/etc/passwd", "12a", "", "1" * 21, "１２３", "1.0", "-1"])
def test_objid_must_be_digits(bad):
    with pytest.raises(InvalidObjid):
        image_path(Path("/tmp"), bad)


def test_objid_digits_pass():
    assert safe_objid(" 587742772951842916 ") == "587742772951842916"


def test_job_active_covers_a_worker_that_is_still_starting():
    from core.jobs import STARTING_GRACE_S, job_active

    now = 1000.0
    assert not job_active(None)
    assert job_active(JobState("download", JobStatus.RUNNING, running=True))
    assert not job_active(JobState("download", JobStatus.INTERRUPTED, running=False))
    assert job_active(JobState("download", JobStatus.STARTING, started_at=now - 1), now=now)
    # A worker that never came up does not block the Start button for ever.
    assert not job_active(JobState("download", JobStatus.STARTING, started_at=now - STARTING_GRACE_S - 1), now=now)


def test_cli_help_lists_every_option(capsys):
    from core.__main__ import main

    with pytest.raises(SystemExit) as exc:
        main(["download", "--help"])
    out = capsys.readouterr().out
    assert exc.value.code == 0
    for option in ("--images", "--limit", "--source", "--base-url", "--scale", "--size", "--workers",
                   "--min-interval", "--retries", "--timeout", "--deadline", "--failures", "exit codes",
                   "5  the disk is full"):
        assert option in out

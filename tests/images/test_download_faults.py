"""Downloads under hostile or unlucky conditions: trickling servers, a full disk, flaky content,
racing starts, hosts outside the allow-list and spreadsheet formulas (issue 11). No network."""

from __future__ import annotations

import csv
import errno
import threading
import time

import pandas as pd
import pytest

from core import jobs
from core.atomic import write_bytes_atomic
from core.cli import main as cli_main
from core.exit_codes import ExitCode
from core.images import download as download_module
from core.images.cutouts import CutoutHostNotAllowed, check_cutout_host
from core.images.download import run_download
from core.images.download_config import DownloadConfig
from core.images.download_job import JOB_CATALOG_NAME, start_download_job
from core.images.failures import Outcome, Target, read_failures, write_failures
from core.images.folder import list_cutouts
from core.jobs import JobStatus
from tests.support.fake_skyserver import fake_skyserver
from tests.support.paths import CUTOUT_FIXTURES

SIZE = 96


def _targets() -> list[Target]:
    with open(CUTOUT_FIXTURES / "catalog_positions.csv", newline="") as fh:
        return [Target(r["OBJID"], float(r["RA"]), float(r["DEC"])) for r in csv.DictReader(fh)]


@pytest.fixture
def server():
    with fake_skyserver() as srv:
        yield srv


def _config(server, **changes) -> DownloadConfig:
    values = dict(workers=2, backoff=0.01, backoff_max=0.05, timeout=2.0, connect_timeout=2.0,
                  state_interval=0.05, base_url=server.dr18_base, size=SIZE)
    values.update(changes)
    return DownloadConfig(**values)


@pytest.mark.parametrize("kind, byte_every_s, deadline_s", [
    ("trickle", 1.0, 2.0),  # the body, one byte per second: no silence trips the read timeout
    ("trickle_headers", 0.5, 1.5),  # an endless header line before any body
])
def test_the_total_deadline_holds_when_bytes_trickle(tmp_path, server, kind, byte_every_s, deadline_s):
    t = _targets()[:2]
    server.add_fault(kind, ra=t[0].ra, dec=t[0].dec, delay=byte_every_s)
    t0 = time.monotonic()
    summary = run_download(t, tmp_path, _config(server, timeout=5.0, deadline=deadline_s, retries=0))
    elapsed = time.monotonic() - t0
    assert elapsed < deadline_s + 2.5, f"took {elapsed:.1f} s; the {deadline_s} s deadline did not hold"
    assert summary.downloaded == 1 and summary.failed == 1
    failure = summary.failures[0]
    assert failure.objid == t[0].objid
    assert failure.reason == f"127.0.0.1 took longer than {deadline_s:g} s to send the image"
    assert not (tmp_path / f"{t[0].objid}.jpg").exists()


def test_content_faults_are_retried_like_5xx(tmp_path, server):
    t = _targets()[:3]
    server.add_fault("html200", ra=t[0].ra, dec=t[0].dec, times=2)
    server.add_fault("wrong_size", ra=t[1].ra, dec=t[1].dec, times=1)
    server.add_fault("blank", ra=t[2].ra, dec=t[2].dec, times=1)
    summary = run_download(t, tmp_path, _config(server, retries=3))
    assert (summary.downloaded, summary.failed) == (3, 0)
    answers = [r["answer"] for r in server.requests]
    assert answers.count("html200") == 2 and answers.count("wrong_size") == 1 and answers.count("blank") == 1


def _disk_full_after(n_ok: int, monkeypatch) -> list[str]:
    """Make image writes fail with ENOSPC after ``n_ok`` of them; returns the names written."""
    written: list[str] = []
    lock = threading.Lock()

    def fake_write(path, data, mode=0o644, fsync=True):
        with lock:
            if len(written) >= n_ok:
                raise OSError(errno.ENOSPC, "No space left on device", str(path))
            written.append(path.name)
        return write_bytes_atomic(path, data, mode, fsync)

    monkeypatch.setattr(download_module, "write_bytes_atomic", fake_write)
    return written


def test_a_full_disk_stops_the_job_at_once_and_keeps_failures_csv(tmp_path, server, monkeypatch):
    targets = _targets()
    server.add_fault("404", ra=targets[0].ra, dec=targets[0].dec)  # a failure recorded before the disk fills
    first = run_download(targets[:1], tmp_path, _config(server))
    assert first.failed == 1 and read_failures(tmp_path)[0]["OBJID"] == targets[0].objid
    written = _disk_full_after(3, monkeypatch)
    before = server.count()
    summary = run_download(targets, tmp_path, _config(server, workers=2, retries=0))
    assert summary.status == JobStatus.DISK_FULL and "no space left" in summary.message
    # Stopped at once: a few requests in flight at most, not the 40 of the whole job.
    assert server.count() - before <= 3 + 1 + 2
    assert len(list_cutouts(tmp_path)) == len(written) == 3
    state = jobs.read_job(tmp_path)
    assert state.status == JobStatus.DISK_FULL and not state.running
    rows = read_failures(tmp_path)
    assert [r["OBJID"] for r in rows] == [targets[0].objid]  # the failures list is whole and readable


@pytest.fixture
def in_process_cli(monkeypatch):
    """Run the CLI in this process without letting it take over pytest's SIGTERM handler."""
    monkeypatch.setattr(jobs, "install_sigterm_as_cancel", lambda folder: None)
    return cli_main


def test_the_cli_exits_with_the_disk_full_code(tmp_path, server, monkeypatch, capsys, in_process_cli):
    _disk_full_after(1, monkeypatch)
    catalog = CUTOUT_FIXTURES / "catalog_positions.csv"
    code = in_process_cli(["download", str(catalog), "--images", str(tmp_path), "--base-url", server.dr18_base,
                     "--size", str(SIZE), "--workers", "1", "--no-progress"])
    assert code == ExitCode.DISK_FULL == 5
    assert "the disk is full" in capsys.readouterr().err
    assert jobs.read_state(tmp_path)["status"] == "disk full"


def test_two_starts_cannot_race(isolated_home, server, monkeypatch):
    monkeypatch.setenv("GZ_CUTOUT_HOSTS", server.url.removeprefix("http://"))
    folder = isolated_home / "images"
    rows = pd.DataFrame([t.__dict__ for t in _targets()[:4]]).rename(columns=str.upper)
    config = _config(server)
    outcomes: list[str] = []
    barrier = threading.Barrier(2)

    def start(part: pd.DataFrame) -> None:
        barrier.wait()
        try:
            start_download_job(part, folder, config, selection=f"{len(part)} rows")
            outcomes.append(f"started {len(part)}")
        except jobs.JobBusy as exc:
            outcomes.append(f"refused: {exc}")

    threads = [threading.Thread(target=start, args=(part,)) for part in (rows.iloc[:2], rows.iloc[2:3])]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    started = [o for o in outcomes if o.startswith("started")]
    assert len(started) == 1 and len(outcomes) == 2 and "already" in next(o for o in outcomes if o.startswith("refused"))
    n = int(started[0].split()[1])
    catalog_rows = list(csv.DictReader(open(folder / JOB_CATALOG_NAME)))
    assert len(catalog_rows) == n  # the winner's catalogue, not overwritten by the loser
    # A third start while the first is starting or running is refused as well.
    with pytest.raises(jobs.JobBusy):
        start_download_job(rows, folder, config)
    deadline = time.monotonic() + 30
    while (st := jobs.read_job(folder)) is None or st.status.active or st.running:
        assert time.monotonic() < deadline, st
        time.sleep(0.1)
    assert st.status == JobStatus.FINISHED and st.done == n


def test_cutout_hosts_from_the_dashboard_are_allow_listed(monkeypatch):
    monkeypatch.delenv("GZ_CUTOUT_BASE_URL", raising=False)
    monkeypatch.delenv("GZ_CUTOUT_HOSTS", raising=False)
    check_cutout_host("https://skyserver.sdss.org/dr18/SkyServerWS/ImgCutout/getjpeg?ra=1")
    check_cutout_host("http://skyservice.pha.jhu.edu/DR7/ImgCutout/getjpeg.aspx")
    for url in ("http://169.254.169.254/latest/meta-data", "http://127.0.0.1:8501/", "http://evil.example/x",
                "http://skyserver.sdss.org.evil.example/", "file:///etc/passwd"):
        with pytest.raises(CutoutHostNotAllowed, match="not allowed from the dashboard"):
            check_cutout_host(url)
    monkeypatch.setenv("GZ_CUTOUT_HOSTS", "127.0.0.1:9999, mirror.example")
    check_cutout_host("http://127.0.0.1:9999/getjpeg")
    check_cutout_host("https://mirror.example:8443/getjpeg")
    with pytest.raises(CutoutHostNotAllowed):
        check_cutout_host("http://127.0.0.1:9998/getjpeg")


def test_the_dashboard_worker_refuses_other_hosts_but_the_cli_is_not_confined(tmp_path, server, capsys,
                                                                             in_process_cli):
    catalog = CUTOUT_FIXTURES / "catalog_positions.csv"
    common = ["download", str(catalog), "--images", str(tmp_path), "--base-url", server.dr18_base,
              "--size", str(SIZE), "--limit", "2", "--no-progress"]
    assert in_process_cli([*common, "--only-allowed-hosts"]) == ExitCode.BAD_INPUT
    assert "not allowed from the dashboard" in capsys.readouterr().err and server.count() == 0
    assert in_process_cli(common) == ExitCode.OK and len(list_cutouts(tmp_path)) == 2


def test_failures_csv_neutralises_spreadsheet_formulas(tmp_path):
    hostile = Outcome("=HYPERLINK(\"http://evil\",\"x\")", 1.0, 2.0, "failed", reason="@SUM(A1:A9)",
                      url="+cmd|' /C calc'!A0", detail="-2+3")
    write_failures(tmp_path, [hostile])
    row = read_failures(tmp_path)[0]
    assert row["OBJID"].startswith("'=") and row["REASON"] == "'@SUM(A1:A9)"
    assert row["URL"].startswith("'+") and row["DETAIL"] == "'-2+3"
    assert row["RA"] == "1.0000000"


def test_defaults_bound_one_galaxy_to_a_minute_and_help_says_so(capsys):
    defaults = DownloadConfig()
    # 3 tries x 15 s + two retry delays of at most 5 s (Retry-After is honoured up to backoff_max).
    assert defaults.worst_case_s == 3 * 15 + 5 + 5 <= 60
    assert DownloadConfig(deadline=10, connect_timeout=3, retries=3, backoff=1, backoff_max=30,
                          jitter=0.5).worst_case_s == 4 * 10 + 3 * 30
    assert DownloadConfig(deadline=2, connect_timeout=5, retries=0).worst_case_s == 5  # a slow connect
    with pytest.raises(SystemExit):
        cli_main(["download", "--help"])
    assert " ".join(defaults.worst_case_text().split()) in " ".join(capsys.readouterr().out.split())


def test_a_trickling_host_costs_at_most_the_stated_worst_case(server):
    from core.images.fetch import Fetcher, RateLimiter

    t = _targets()[0]
    server.add_fault("trickle", ra=t.ra, dec=t.dec, delay=0.05)  # a byte every 50 ms, on every try
    config = _config(server, deadline=0.6, connect_timeout=0.5, timeout=2.0, retries=2, backoff=0.05,
                     backoff_max=0.1).validated()
    fetcher = Fetcher(config, RateLimiter(0), threading.Event())
    outcome = Outcome(t.objid, t.ra, t.dec, "failed", url=fetcher.cutout.url(t.ra, t.dec))
    t0 = time.monotonic()
    try:
        assert fetcher.fetch(outcome) is None
    finally:
        fetcher.close()
    elapsed = time.monotonic() - t0
    assert outcome.attempts == config.max_attempts == 3 and "took longer than 0.6 s" in outcome.reason
    # Every try ran to its deadline, and the galaxy still ended within the stated bound (scheduling slack 0.5 s).
    assert config.max_attempts * config.deadline <= elapsed <= config.worst_case_s + 0.5, elapsed


def test_a_request_waits_for_a_slot_and_a_cancel_ends_the_wait(server):
    from core.images.fetch import Fetcher, RateLimiter

    t = _targets()[0]
    cancel, slots = threading.Event(), threading.Semaphore(0)  # no slot free: the bound is in use elsewhere
    fetcher = Fetcher(_config(server), RateLimiter(0), cancel, slots=slots)
    outcome = Outcome(t.objid, t.ra, t.dec, "failed", url=fetcher.cutout.url(t.ra, t.dec))
    threading.Timer(0.3, cancel.set).start()
    assert fetcher.fetch(outcome) is None and outcome.reason == "cancelled" and server.count() == 0
    slots.release()  # one slot: the request goes, and gives the slot back after its try
    outcome = Outcome(t.objid, t.ra, t.dec, "failed", url=outcome.url)
    fetcher.cancel = threading.Event()
    assert fetcher.fetch(outcome) is not None and server.count() == 1
    assert slots.acquire(timeout=0)
    fetcher.close()

"""``python -m core download``: exit codes, failures CSV, catalogue forms, kill and resume, SIGTERM."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time

import pytest

from core import jobs
from core.catalog.reader import load_catalog
from core.images.check import check_file
from core.images.folder import list_cutouts
from core.schema import TRAINING_COLUMNS, VOTE_COLUMNS
from tests.support.fake_skyserver import fake_skyserver
from tests.support.paths import REPO_ROOT

REPO = REPO_ROOT
FIXTURES = REPO / "tests" / "fixtures" / "cutouts"
POSITIONS = FIXTURES / "catalog_positions.csv"
TABLE2 = FIXTURES / "catalog_table2.csv"


def _cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "core", "download", *map(str, args)], cwd=REPO,
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def server():
    with fake_skyserver() as srv:
        yield srv


def test_all_found_exits_zero_with_a_summary(tmp_path, server):
    r = _cli(POSITIONS, "--images", tmp_path, "--base-url", server.dr18_base, "--size", 80, "--limit", 12)
    assert r.returncode == 0, r.stderr
    assert "finished: 12 galaxies, 12 downloaded, 0 already present, 0 failed" in r.stdout
    assert len(list_cutouts(tmp_path)) == 12 and "cutouts" in r.stderr  # the tqdm bar
    for p in list_cutouts(tmp_path):
        check_file(p, (80, 80))


def test_failures_give_exit_one_and_a_csv(tmp_path, server, sample_catalog_path):
    # The first sample galaxies have no cutout in the fixture set: the stand-in answers 404.
    out = tmp_path / "report" / "failed.csv"
    r = _cli(sample_catalog_path, "--images", tmp_path / "img", "--base-url", server.dr18_base,
             "--limit", 5, "--failures", out, "--no-progress")
    assert r.returncode == 1
    assert "5 failed" in r.stdout and "5 x server answered HTTP 404" in r.stdout and str(out) in r.stdout
    rows = list(csv.DictReader(open(out)))
    assert len(rows) == 5 and {row["REASON"] for row in rows} == {"server answered HTTP 404"}
    assert all(row["OBJID"].isdigit() and row["URL"].startswith(server.dr18_base) for row in rows)
    assert (tmp_path / "img" / "failures.csv").read_text() == out.read_text()


def test_sexagesimal_table2_and_bare_list_forms(tmp_path, server):
    r = _cli(TABLE2, "--images", tmp_path / "a", "--base-url", server.dr18_base, "--no-progress")
    assert r.returncode == 0, r.stderr
    assert sorted(p.stem for p in list_cutouts(tmp_path / "a")) == sorted(load_catalog(TABLE2).table["OBJID"])
    table = load_catalog(TABLE2).table
    bare = tmp_path / "bare.csv"
    with open(bare, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["OBJID", "RA", "DEC"])
        for row in table.itertuples():
            w.writerow([row.OBJID, row.RA_STR, row.DEC_STR])
    r = _cli(bare, "--images", tmp_path / "b", "--source", "dr7", "--base-url", server.dr7_base,
             "--scale", "0.4", "--size", 128, "--no-progress")
    assert r.returncode == 0, r.stderr
    assert len(list_cutouts(tmp_path / "b")) == 3
    assert server.requests[-1]["path"].endswith("getjpeg.aspx")


def test_training_form_without_positions_is_a_clear_error(tmp_path, server):
    table = load_catalog(TABLE2).table
    training = tmp_path / "training.csv"
    table.rename(columns={"OBJID": "OBJ_ID"})[list(TRAINING_COLUMNS)].to_csv(training, index=False)
    r = _cli(training, "--images", tmp_path / "img", "--base-url", server.dr18_base)
    assert r.returncode == 2
    assert "has no RA/DEC" in r.stderr and "OBJID, RA and DEC" in r.stderr
    assert server.count() == 0 and len(VOTE_COLUMNS) == 9


def test_rejected_rows_are_reported_not_written(tmp_path, server):
    bad = tmp_path / "hostile.csv"
    bad.write_text("OBJID,RA,DEC\n../../../tmp/evil,189.072,16.3774\n587742772951842916,189.072,16.3774\n")
    r = _cli(bad, "--images", tmp_path / "img", "--base-url", server.dr18_base, "--no-progress")
    assert r.returncode == 1
    assert [p.name for p in list_cutouts(tmp_path / "img")] == ["587742772951842916.jpg"]
    rows = list(csv.DictReader(open(tmp_path / "img" / "failures.csv")))
    assert len(rows) == 1 and rows[0]["OBJID"] == "../../../tmp/evil"
    assert rows[0]["REASON"].startswith("catalogue row 1 rejected")
    assert not list(tmp_path.rglob("evil*"))


@pytest.mark.parametrize("args, word", [
    (["--size", "20"], "width"), (["--scale", "0"], "scale"), (["--workers", "0"], "workers"),
    (["--limit", "0"], "--limit"), (["--base-url", "file:///etc"], "base URL"),
])
def test_bad_settings_exit_two_before_any_request(tmp_path, server, args, word):
    r = _cli(POSITIONS, "--images", tmp_path, "--base-url", server.dr18_base, *args)
    assert r.returncode == 2 and word in r.stderr
    assert server.count() == 0
    assert jobs.read_state(tmp_path)["status"] == "failed"


def test_missing_catalogue(tmp_path):
    r = _cli(tmp_path / "nope.csv", "--images", tmp_path)
    assert r.returncode == 2 and "not found" in r.stderr


def test_busy_folder_exits_four(tmp_path, server):
    with jobs.JobLock(tmp_path):
        r = _cli(POSITIONS, "--images", tmp_path, "--base-url", server.dr18_base)
    assert r.returncode == 4 and "already running" in r.stderr


def _wait(predicate, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def _start_worker(folder, base_url):
    """A detached `python -m core download` worker on POSITIONS, as the Images page starts it."""
    return jobs.start_detached(["download", str(POSITIONS), "--images", str(folder), "--base-url", base_url,
                                "--size", "96", "--workers", "2", "--no-progress"], folder)


def test_sigkill_then_restart_downloads_nothing_twice(tmp_path):
    folder = tmp_path / "img"
    with fake_skyserver(latency=0.1) as slow:
        proc = _start_worker(folder, slow.dr18_base)
        _wait(lambda: len(list_cutouts(folder)) >= 8)
        os.killpg(proc.pid, signal.SIGKILL)
        _wait(lambda: proc.poll() is not None)
        assert proc.returncode == -signal.SIGKILL
        state = jobs.read_state(folder)
        assert state["status"] == "interrupted" and not jobs.is_running(folder)
        done = {p.name: p.stat().st_mtime_ns for p in list_cutouts(folder)}
        assert 8 <= len(done) < 40
        for name in done:
            check_file(folder / name, (96, 96))
        n_before = slow.count()

        r = _cli(POSITIONS, "--images", folder, "--base-url", slow.dr18_base, "--size", 96,
                 "--workers", 8, "--no-progress")
    assert r.returncode == 0, r.stderr
    assert f"{40 - len(done)} downloaded, {len(done)} already present, 0 failed" in r.stdout
    # The restart asked exactly once for each missing galaxy and never for a finished one.
    ra_of = {row.OBJID: f"{row.RA:.7f}" for row in load_catalog(POSITIONS).table.itertuples()}
    missing = {ra_of[o] for o in ra_of if f"{o}.jpg" not in done}
    second = [x["query"]["ra"] for x in slow.requests[n_before:]]
    assert sorted(second) == sorted(missing)
    for name, mtime in done.items():
        assert (folder / name).stat().st_mtime_ns == mtime
    assert len(list_cutouts(folder)) == 40 and not list(folder.glob(".*.part")) and not list(folder.glob(".*.tmp"))
    assert jobs.read_state(folder)["status"] == "finished"


def test_sigterm_cancels_promptly_with_exit_three(tmp_path):
    folder = tmp_path / "img"
    with fake_skyserver(latency=0.2) as slow:
        proc = _start_worker(folder, slow.dr18_base)
        _wait(lambda: len(list_cutouts(folder)) >= 2)
        t0 = time.monotonic()
        jobs.request_cancel(folder)  # CANCEL file + SIGTERM to the lock holder
        _wait(lambda: proc.poll() is not None, timeout=10)
        assert time.monotonic() - t0 < 3.0
    assert proc.returncode == 3
    state = jobs.read_state(folder)
    assert state["status"] == "cancelled" and state["failed"] == 0 and state["progress"]["pending"] > 0
    assert "cancelled" in (folder / "job.log").read_text()
    for p in list_cutouts(folder):
        check_file(p, (96, 96))


def test_cluster_options_are_checked_before_any_request(tmp_path, server, capsys, monkeypatch):
    from core.cli import main as in_process

    monkeypatch.delenv("GZ_DASK_SCHEDULER", raising=False)
    common = ["download", str(POSITIONS), "--images", str(tmp_path), "--base-url", server.dr18_base, "--limit", "2",
              "--no-progress"]
    assert in_process([*common, "--scheduler", "nonsense"]) == 2
    assert "not of the form tcp://HOST:PORT" in capsys.readouterr().err
    assert in_process([*common, "--cluster", "1", "--partition-rows", "0"]) == 2
    assert "--partition-rows must be at least 1" in capsys.readouterr().err
    assert in_process([*common, "--cluster", "2", "--scheduler", "tcp://127.0.0.1:1"]) == 2
    assert "not both" in capsys.readouterr().err
    assert server.count() == 0 and not list_cutouts(tmp_path)

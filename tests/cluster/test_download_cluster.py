"""Downloads on Dask: --workers bounds the requests in flight across the whole cluster, failures
merge into one failures.csv, resume skips finished images, cancel stops every task.

A loopback server stands in for SkyServer: it answers slowly, counts the requests it is
serving at once (the maximum is what the bound must hold) and fails chosen galaxies with
404 (final) or 500 (retried).
"""

from __future__ import annotations

import csv
import io
import threading
import time
from collections import Counter
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from core import jobs
from core.cli import main
from core.cluster.download import PARTS_NAME, download_on_cluster, start_cluster_download_job
from core.cluster.engine import Engine
from core.images.check import check_file
from core.images.download_config import DownloadConfig
from core.images.download_job import restartable
from core.images.failures import Target, read_failures
from core.images.folder import list_cutouts
from core.jobs import JobStatus
from tests.support.dask_cluster import external_cluster

pytestmark = pytest.mark.slow

SIZE = 64
N = 24
RA0, STEP, DEC = 150.0, 0.01, 2.0
IDS = [f"5870000000000{i:05d}" for i in range(N)]
FAIL_404 = {IDS[3], IDS[17]}
FAIL_500 = {IDS[8]}


class CountingServer:
    """``getjpeg`` on 127.0.0.1: a noise JPEG after ``delay`` s; records hits and the most requests at once."""

    def __init__(self, delay: float):
        self.delay = delay
        self.lock = threading.Lock()
        self.in_flight = self.max_in_flight = 0
        self.hits: Counter[str] = Counter()
        rng = np.random.default_rng(0)
        buf = io.BytesIO()
        Image.fromarray(rng.integers(0, 255, (SIZE, SIZE, 3), dtype=np.uint8)).save(buf, format="JPEG")
        self.jpeg = buf.getvalue()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802
                query = {k: v[0] for k, v in parse_qs(urlsplit(self.path).query).items()}
                objid = IDS[round((float(query["ra"]) - RA0) / STEP)]
                with server.lock:
                    server.hits[objid] += 1
                    server.in_flight += 1
                    server.max_in_flight = max(server.max_in_flight, server.in_flight)
                try:
                    time.sleep(server.delay)
                finally:
                    # Counted out before the answer goes: the client holds its lease until it has read it.
                    with server.lock:
                        server.in_flight -= 1
                status = 404 if objid in FAIL_404 else 500 if objid in FAIL_500 else 200
                body = server.jpeg if status == 200 else b"<html>error</html>"
                self.send_response(status)
                self.send_header("Content-Type", "image/jpeg" if status == 200 else "text/html")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/dr18/SkyServerWS/ImgCutout/getjpeg"

    def reset(self) -> None:
        with self.lock:
            self.hits.clear()
            self.max_in_flight = 0


@contextmanager
def counting_server(delay: float):
    server = CountingServer(delay)
    server.thread.start()
    try:
        yield server
    finally:
        server.httpd.shutdown()
        server.httpd.server_close()
        server.thread.join(timeout=5)


def _targets() -> list[Target]:
    return [Target(objid, RA0 + i * STEP, DEC) for i, objid in enumerate(IDS)]


def _catalog(tmp_path: Path) -> Path:
    path = tmp_path / "targets.csv"
    with open(path, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(("OBJID", "RA", "DEC"))
        for t in _targets():
            writer.writerow((t.objid, f"{t.ra:.5f}", f"{t.dec:.5f}"))
    return path


def _config(base: str) -> DownloadConfig:
    return DownloadConfig(base_url=base, size=SIZE, workers=2, retries=1, backoff=0.01, backoff_max=0.02,
                          timeout=5.0, connect_timeout=5.0, deadline=10.0, state_interval=0.1)


def _assert_complete(folder: Path) -> None:
    have = {p.stem for p in list_cutouts(folder)}
    assert have == set(IDS) - FAIL_404 - FAIL_500
    for p in list_cutouts(folder):
        check_file(p, (SIZE, SIZE))
    rows = read_failures(folder)
    # One merged failures.csv, in catalogue order, each failed galaxy once.
    assert [r["OBJID"] for r in rows] == [i for i in IDS if i in FAIL_404 | FAIL_500]
    by_id = {r["OBJID"]: r for r in rows}
    assert by_id[IDS[3]]["REASON"] == "server answered HTTP 404" and by_id[IDS[3]]["ATTEMPTS"] == "1"
    assert by_id[IDS[8]]["REASON"] == "server answered HTTP 500" and by_id[IDS[8]]["ATTEMPTS"] == "2"
    assert not (folder / PARTS_NAME).exists()


def test_local_cluster_bounds_requests_in_flight_and_merges_failures(tmp_path: Path, capsys):
    folder, catalog = tmp_path / "images", _catalog(tmp_path)
    with counting_server(delay=0.15) as server:
        args = ["download", str(catalog), "--images", str(folder), "--base-url", server.base, "--size", str(SIZE),
                "--workers", "2", "--retries", "1", "--backoff", "0.01", "--no-progress", "--cluster", "2",
                "--partition-rows", "5"]
        # 2 Dask workers x 2 fetching threads per task: 4 would-be requests at once, 2 allowed.
        assert main(args) == 1  # failures exit 1, as on one process
        assert "5 partitions of up to 5 galaxies, at most 2 requests in flight" in capsys.readouterr().err
        assert server.max_in_flight == 2, "the bound was never reached (vacuous) or not held"
        _assert_complete(folder)
        assert server.hits[IDS[8]] == 2 and server.hits[IDS[3]] == 1
        state = jobs.read_job(folder)
        assert state.status == JobStatus.FINISHED and state.done == N - 3 and state.failed == 3
        assert state.total == N and state.progress["partitions_done"] == state.progress["partitions"] == 5
        assert state.settings["engine"] == "LocalCluster of 2 worker processes" and state.settings["workers"] == 2


def test_external_scheduler_cancel_then_resume_and_a_page_job(tmp_path: Path, monkeypatch):
    folder = tmp_path / "images"
    with counting_server(delay=0.15) as server, external_cluster(tmp_path, n_workers=2) as cluster:
        engine = Engine(scheduler=cluster.address)
        config = _config(server.base)

        def cancel_after_four() -> None:
            deadline = time.monotonic() + 60
            while len(list_cutouts(folder)) < 4 and time.monotonic() < deadline:
                time.sleep(0.05)
            (folder / jobs.CANCEL_NAME).write_text("cancel")  # what the page and SIGTERM write

        canceller = threading.Thread(target=cancel_after_four, daemon=True)
        canceller.start()
        seen = []
        first = download_on_cluster(engine, _targets(), folder, config, partition_rows=4, on_progress=seen.append)
        canceller.join(timeout=10)
        assert first.status == JobStatus.CANCELLED and first.pending > 0
        assert 4 <= first.downloaded < N
        # state.json was written while the job ran, with the counts the tasks streamed.
        assert any(s.status == JobStatus.RUNNING and 0 < s.progress["processed"] < N for s in seen)
        assert server.max_in_flight <= 2
        for p in list_cutouts(folder):
            check_file(p, (SIZE, SIZE))
        state = jobs.read_job(folder)
        assert state.status == JobStatus.CANCELLED and not (folder / jobs.CANCEL_NAME).exists()

        time.sleep(0.5)  # an abandoned task, if any, sees the cancel event within 0.25 s
        on_disk = {p.stem for p in list_cutouts(folder)}
        server.reset()
        second = download_on_cluster(engine, _targets(), folder, config, partition_rows=4)
        assert second.status == JobStatus.FINISHED and second.failed == 3
        assert second.skipped == len(on_disk) and second.downloaded + second.skipped == N - 3
        assert not on_disk & set(server.hits)  # images already there are never fetched again
        assert FAIL_404 | FAIL_500 <= set(server.hits)  # failures are retried
        assert server.max_in_flight == 2
        _assert_complete(folder)

        # What the Images page starts: a detached worker on the cluster; a restart runs there again.
        monkeypatch.setenv("GZ_CUTOUT_HOSTS", server.base.split("/")[2])
        page_folder = tmp_path / "page"
        table = pd.DataFrame({"OBJID": IDS[:6], "RA": [t.ra for t in _targets()[:6]], "DEC": DEC})
        proc = start_cluster_download_job(table, page_folder, config, engine, partition_rows=3)
        assert proc.wait(timeout=120) == 1  # IDS[3] answers 404
        state = jobs.read_job(page_folder)
        assert state.status == JobStatus.FINISHED and (state.done, state.failed) == (5, 1)
        assert state.settings["engine"] == f"Dask scheduler {cluster.address}"
        assert state.settings["engine_args"] == ["--scheduler", cluster.address, "--partition-rows", "3"]
        assert state.progress["partitions"] == 2 and restartable(page_folder, state)


def test_a_full_disk_on_a_worker_stops_the_whole_job(tmp_path: Path, monkeypatch):
    import errno
    import logging

    from distributed import LocalCluster

    from core.images import download as download_module

    writes = []

    def write_until_full(path, data, fsync=True):
        writes.append(path)
        if len(writes) > 3:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(path, data, fsync=fsync)

    real_write = download_module.write_bytes_atomic
    # Worker threads in this process (processes=False), so the patched writer is the one the tasks use;
    # 2 threads run 2 tasks at once.
    monkeypatch.setattr(download_module, "write_bytes_atomic", write_until_full)
    folder = tmp_path / "images"
    with counting_server(delay=0.05) as server, LocalCluster(
            n_workers=1, threads_per_worker=2, processes=False, protocol="tcp", host="127.0.0.1", dashboard_address="127.0.0.1:0",
            silence_logs=logging.ERROR) as cluster:
        summary = download_on_cluster(Engine(scheduler=cluster.scheduler_address), _targets(), folder,
                                      _config(server.base), partition_rows=4)
        assert server.max_in_flight <= 2
    assert summary.status == JobStatus.DISK_FULL and "no space left on the disk" in summary.message
    assert summary.pending > 0 and len(list_cutouts(folder)) == 3
    state = jobs.read_job(folder)
    assert state.status == JobStatus.DISK_FULL and not (folder / PARTS_NAME).exists()


def test_progress_streams_from_inside_a_task(tmp_path: Path):
    import logging

    from distributed import LocalCluster

    with counting_server(delay=0.05) as server, LocalCluster(
            n_workers=1, threads_per_worker=1, processes=False, protocol="tcp", host="127.0.0.1",
            dashboard_address="127.0.0.1:0", silence_logs=logging.ERROR) as cluster:
        seen = []
        summary = download_on_cluster(Engine(scheduler=cluster.scheduler_address), _targets(), tmp_path,
                                      _config(server.base), partition_rows=N, on_progress=seen.append)
    assert summary.status == JobStatus.FINISHED and (summary.downloaded, summary.failed) == (N - 3, 3)
    # One task holds every galaxy, yet state.json counted them while it ran (Dask events).
    running = [s.progress["processed"] for s in seen if s.status == JobStatus.RUNNING]
    assert any(0 < p < N for p in running) and running == sorted(running)
    _assert_complete(tmp_path)

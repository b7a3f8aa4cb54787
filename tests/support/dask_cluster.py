"""A real Dask cluster for tests: ``dask scheduler`` and ``dask worker`` processes on 127.0.0.1.

The CLIs that ship with ``distributed`` are started as subprocesses (as an analyst would
start them by hand), the scheduler on a free port given through a scheduler file; every
process is stopped on exit, killed if it does not stop within a few seconds.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

DASK = [sys.executable, "-m", "distributed.cli.dask_scheduler"]
WORKER = [sys.executable, "-m", "distributed.cli.dask_worker"]


@dataclass
class ExternalCluster:
    address: str
    scheduler: subprocess.Popen
    workers: list[subprocess.Popen] = field(default_factory=list)


def _wait_for_address(scheduler_file: Path, proc: subprocess.Popen, timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"dask scheduler exited with {proc.returncode}")
        if scheduler_file.exists():
            try:
                return json.loads(scheduler_file.read_text())["address"]
            except (json.JSONDecodeError, KeyError):
                pass
        time.sleep(0.2)
    raise TimeoutError("dask scheduler wrote no scheduler file")


def _wait_for_workers(address: str, n: int, timeout: float = 90) -> None:
    from distributed import Client

    with Client(address, timeout=30) as client:
        client.wait_for_workers(n, timeout=timeout)


@contextmanager
def external_cluster(tmp_path: Path, n_workers: int = 2) -> Iterator[ExternalCluster]:
    """Start a scheduler and ``n_workers`` one-thread worker processes; stop them all after."""
    scheduler_file = tmp_path / "scheduler.json"
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    scheduler = subprocess.Popen(DASK + ["--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                                         "--scheduler-file", str(scheduler_file)], **quiet)
    cluster = ExternalCluster(address="", scheduler=scheduler)
    try:
        cluster.address = _wait_for_address(scheduler_file, scheduler)
        for _ in range(n_workers):
            cluster.workers.append(subprocess.Popen(
                WORKER + [cluster.address, "--nthreads", "1", "--nworkers", "1", "--host", "127.0.0.1",
                          "--no-dashboard", "--local-directory", str(tmp_path / "dask-worker-space")], **quiet))
        if n_workers:  # n_workers=0: a scheduler alone, whose tasks never run (tests of cancel)
            _wait_for_workers(cluster.address, n_workers)
        yield cluster
    finally:
        for proc in [*cluster.workers, scheduler]:
            if proc.poll() is None:
                proc.terminate()
        for proc in [*cluster.workers, scheduler]:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)

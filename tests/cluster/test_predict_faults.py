"""Faults on a real cluster (``dask scheduler`` + 2 ``dask worker`` processes): a worker or the client is killed.

To kill a process *while* a task runs, without timing guesses, some images are named
pipes (FIFOs): a task that reaches one blocks in ``open`` until the test writes the
image's bytes into it. Its temporary part file ``.part-NNNNN.csv.PID.tmp`` (created when
the task starts) says which worker process runs it. Every wait is bounded.
"""

from __future__ import annotations

import errno
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from core.cluster.engine import Engine
from core.cluster.predict import parts_dir, predict_on_cluster
from core.config import REPO_ROOT
from core.inference.batch import predict_set
from core.inference.galaxy_sets import GalaxySet
from core.inference.predict import load_run
from core.inference.predictions_csv import largest_difference, read_predictions
from tests.support.dask_cluster import external_cluster
from tests.support.tiny_runs import FIXTURES, make_run

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")]

WAIT_S = 30

#: A client as a process of its own: predicts the galaxies of a JSON spec with partition_rows=1.
CLIENT = """
import json, sys
from pathlib import Path
import numpy as np
from core.cluster.engine import Engine
from core.cluster.predict import predict_on_cluster
from core.inference.galaxy_sets import GalaxySet
spec = json.loads(Path(sys.argv[1]).read_text())
files = [Path(f) for f in spec["files"]]
n = len(files)
gset = GalaxySet("faults", [f.stem for f in files], files, np.full((n, 9), np.nan), np.zeros(n, dtype=bool))
r = predict_on_cluster(Engine(scheduler=spec["address"]), spec["run"], gset, spec["out"], partition_rows=1)
print(json.dumps({"predicted": r.predicted, "reused": r.partitions_reused, "failed": len(r.failed)}))
"""


def _galaxies(files: list[Path]) -> GalaxySet:
    n = len(files)
    return GalaxySet("faults", [f.stem for f in files], files, np.full((n, 9), np.nan), np.zeros(n, dtype=bool))


def _images(tmp_path: Path, pipe_positions: tuple[int, ...]) -> tuple[list[Path], list[Path], dict[Path, bytes]]:
    """(files with FIFOs at ``pipe_positions``, the same files all regular, FIFO -> the bytes it must give)."""
    real = sorted(p for p in (FIXTURES / "gz1").glob("*.jpg"))
    piped, plain = tmp_path / "piped", tmp_path / "plain"
    piped.mkdir()
    plain.mkdir()
    files, reference, pipes = [], [], {}
    for k, source in enumerate(real + real[:len(pipe_positions)]):
        name = f"58700000000000{k:04d}.jpg"
        shutil.copy(source, plain / name)
        reference.append(plain / name)
        if k in pipe_positions:
            os.mkfifo(piped / name)
            pipes[piped / name] = source.read_bytes()
        else:
            shutil.copy(source, piped / name)
        files.append(piped / name)
    return files, reference, pipes


def _feed(fifo: Path, data: bytes, timeout: float = WAIT_S) -> None:
    """Wait for a reader to open ``fifo``, give it ``data`` and close (its reader then sees a whole file)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
            break
        except OSError as exc:
            if exc.errno != errno.ENXIO or time.monotonic() > deadline:  # ENXIO: no reader yet
                raise
            time.sleep(0.05)
    try:
        os.set_blocking(fd, True)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
    finally:
        os.close(fd)


def _task_pid(parts: Path, index: int, other_than: int | None = None, timeout: float = WAIT_S) -> int:
    """PID of a worker process that started partition ``index`` (from its temporary part file)."""
    pattern = re.compile(rf"^\.part-{index:05d}\.csv\.(\d+)\.tmp$")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if parts.is_dir():
            for name in os.listdir(parts):
                m = pattern.match(name)
                if m and int(m.group(1)) != other_than:
                    return int(m.group(1))
        time.sleep(0.05)
    raise TimeoutError(f"no worker started partition {index} within {timeout} s")


def _wait_for(path: Path, timeout: float = WAIT_S) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{path} did not appear within {timeout} s")
        time.sleep(0.05)


def _assert_equal_to_single_process(out: Path, reference_files: list[Path], run_dir: Path, tmp_path: Path) -> None:
    single = tmp_path / "single.csv"
    predict_set(load_run(run_dir), _galaxies(reference_files), out_csv=single, workers=0)
    left, right = read_predictions(out), read_predictions(single)
    assert left["ID"].is_unique and list(left["ID"]) == list(right["ID"])  # every row once, catalogue order
    assert list(left["IMAGE"]) == list(right["IMAGE"])
    diff = largest_difference(left, right)
    assert diff <= 1e-5


def test_worker_killed_mid_task_has_its_partition_rerun_elsewhere(tmp_path: Path):
    run_dir = make_run(tmp_path / "run")
    files, reference, pipes = _images(tmp_path, pipe_positions=(3,))  # 8 rows, partitions of 2: the pipe is in #1
    (fifo, data), = pipes.items()
    out = tmp_path / "pred.csv"
    outcome: dict = {}

    def client(address: str) -> None:
        try:
            outcome["result"] = predict_on_cluster(Engine(scheduler=address), run_dir, _galaxies(files), out,
                                                   partition_rows=2)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the test thread
            outcome["error"] = exc

    with external_cluster(tmp_path, n_workers=2) as cluster:
        from distributed import Client

        with Client(cluster.address, timeout=WAIT_S) as probe:  # one worker death must not fail a task
            assert probe.run_on_scheduler(lambda dask_scheduler: dask_scheduler.allowed_failures) >= 1
        thread = threading.Thread(target=client, args=(cluster.address,), daemon=True)
        thread.start()
        victim = _task_pid(parts_dir(out), 1)          # blocked on the pipe, mid-task
        os.kill(victim, signal.SIGKILL)
        rerun_by = _task_pid(parts_dir(out), 1, other_than=victim)
        _feed(fifo, data)                               # only the rerun reads it: the victim is gone
        thread.join(timeout=WAIT_S * 2)
        assert not thread.is_alive(), "the client did not finish after the worker was killed"
    if "error" in outcome:
        raise outcome["error"]
    result = outcome["result"]
    assert rerun_by != victim
    assert result.predicted == len(files) and not result.failed and result.partitions == 4
    assert not parts_dir(out).exists()
    _assert_equal_to_single_process(out, reference, run_dir, tmp_path)


def test_killed_client_is_recovered_by_running_the_same_command_again(tmp_path: Path):
    run_dir = make_run(tmp_path / "run")
    files, reference, pipes = _images(tmp_path, pipe_positions=(0, 1))  # 9 rows, one partition each
    out = tmp_path / "pred.csv"
    with external_cluster(tmp_path, n_workers=2) as cluster:
        spec = tmp_path / "spec.json"
        spec.write_text(json.dumps({"address": cluster.address, "run": str(run_dir), "out": str(out),
                                    "files": [str(f) for f in files]}))
        command = [sys.executable, "-c", CLIENT, str(spec)]
        first = subprocess.Popen(command, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            _task_pid(parts_dir(out), 0)                # both workers blocked on a pipe: the rest is queued
            _task_pid(parts_dir(out), 1)
        finally:
            first.kill()
            first.communicate(timeout=WAIT_S)
        # The two tasks the dead client left running finish on their own, each writing its whole part.
        for fifo, data in pipes.items():
            _feed(fifo, data)
        for i in range(2):
            _wait_for(parts_dir(out) / f"part-{i:05d}.csv")
        kept = sorted(p.name for p in parts_dir(out).glob("part-*.csv"))
        assert not out.exists() and len(kept) < len(files)
        again = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=WAIT_S * 2)
    assert again.returncode == 0, again.stderr[-2000:]
    summary = json.loads(again.stdout.strip().splitlines()[-1])
    assert summary == {"predicted": len(files), "reused": len(kept), "failed": 0}
    assert not parts_dir(out).exists()
    _assert_equal_to_single_process(out, reference, run_dir, tmp_path)

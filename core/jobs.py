"""Background jobs whose state lives on disk, not in a browser session.

A job is a folder. The worker process that does the work holds an exclusive
``flock`` on ``<folder>/job.lock`` for as long as it runs, so

* only one job runs per folder (a second worker fails fast with :class:`JobBusy`);
* a killed worker (even SIGKILL) releases the lock by dying: no stale locks;
* any process (a second tab, a restarted dashboard, the CLI) can ask
  :func:`is_running` and read ``<folder>/state.json`` to show progress.

Cancel is a file, ``<folder>/CANCEL``, that the worker polls between units of
work; :func:`request_cancel` also sends SIGTERM so a sleeping worker wakes.
The dashboard starts workers with :func:`start_detached` (``python -m core ...``
in a new session), so closing the browser or restarting Streamlit does not
stop them.
"""

from __future__ import annotations

import fcntl
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field, fields
from enum import StrEnum
from pathlib import Path
from typing import Any

from core.atomic import write_json_atomic
from core.config import REPO_ROOT
from core.json_files import JsonObjectError, read_json_object

LOCK_NAME = "job.lock"
STATE_NAME = "state.json"
CANCEL_NAME = "CANCEL"
LOG_NAME = "job.log"


class JobStatus(StrEnum):
    """Where a job (download or training run) stands; the value is what ``state.json`` stores."""

    STARTING = "starting"
    RUNNING = "running"
    FINISHED = "finished"
    FAILED = "failed"
    CANCELLED = "cancelled"
    INTERRUPTED = "interrupted"  # the worker died without writing a final state
    DISK_FULL = "disk full"

    @property
    def active(self) -> bool:
        return self in (JobStatus.STARTING, JobStatus.RUNNING)


class JobKind(StrEnum):
    """What a job does; the value is ``state.json``'s ``kind`` ("" in states written before kinds)."""

    DOWNLOAD = "download"
    TRAINING = "training"
    PREDICTION = "predict"


@dataclass
class JobState:
    """What ``<folder>/state.json`` holds, typed; shared by downloads and training runs.

    ``settings`` is everything the job was started with (so retry and resume can reuse it);
    ``progress`` holds kind-specific figures (epochs and losses, throughput and ETA).
    ``running`` comes from the folder lock when read, and is never stored.
    """

    kind: str
    status: JobStatus
    message: str = ""
    phase: str = ""
    done: int = 0
    total: int = 0
    failed: int = 0
    skipped: int = 0
    pid: int | None = None
    started_at: float | None = None
    updated_at: float | None = None
    settings: dict[str, Any] = field(default_factory=dict)
    progress: dict[str, Any] = field(default_factory=dict)
    running: bool = False

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["status"] = str(self.status)
        out.pop("running")
        return out

    @classmethod
    def from_dict(cls, data: Any) -> JobState | None:
        """Parse a stored state; None for anything that is not a JSON object with a known status."""
        if not isinstance(data, dict):
            return None
        try:
            status = JobStatus(data.get("status"))
        except ValueError:
            return None
        known = {f.name for f in fields(cls)} - {"status", "running"}
        kwargs: dict[str, Any] = {}
        for name in known:
            if name in data:
                kwargs[name] = data[name]
        kwargs.setdefault("kind", str(data.get("kind", "")))
        for name in ("done", "total", "failed", "skipped"):
            value = kwargs.get(name, 0)
            kwargs[name] = int(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0
        for name in ("settings", "progress"):
            if not isinstance(kwargs.get(name, {}), dict):
                kwargs[name] = {}
        return cls(status=status, **kwargs)


class JobBusy(RuntimeError):
    """Another worker already holds this job folder's lock."""


def read_json(path: Path) -> dict[str, Any] | None:
    """The JSON object at ``path``, or None where :func:`core.json_files.read_json_object` refuses it.

    For job files, where a missing or damaged file means "no such job yet".
    """
    try:
        return read_json_object(path, what="job file")
    except JsonObjectError:
        return None


class JobLock:
    """Exclusive, non-blocking lock on ``<folder>/<name>``; use as a context manager."""

    def __init__(self, folder: Path, name: str = LOCK_NAME):
        self.path = Path(folder) / name
        self._fh = None

    def acquire(self) -> JobLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fh = open(self.path, "a+")
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.close()
            raise JobBusy(f"another job is already running in {self.path.parent}") from None
        fh.seek(0)
        fh.truncate()
        fh.write(str(os.getpid()))
        fh.flush()
        self._fh = fh
        return self

    def release(self) -> None:
        if self._fh is not None:
            fcntl.flock(self._fh.fileno(), fcntl.LOCK_UN)
            self._fh.close()
            self._fh = None

    def __enter__(self) -> JobLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def is_running(folder: Path, name: str = LOCK_NAME) -> bool:
    """True while some process holds the lock of this job folder."""
    path = Path(folder) / name
    if not path.exists():
        return False
    with open(path, "a+") as fh:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
        return False


def lock_owner_pid(folder: Path, name: str = LOCK_NAME) -> int | None:
    """PID written by the current lock holder, if the lock is held."""
    if not is_running(folder, name):
        return None
    try:
        return int((Path(folder) / name).read_text().strip() or 0) or None
    except (OSError, ValueError):
        return None


def request_cancel(folder: Path, name: str = LOCK_NAME) -> None:
    """Ask the worker of this folder to stop: write the CANCEL file and send SIGTERM."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / CANCEL_NAME).write_text(str(time.time()))
    pid = lock_owner_pid(folder, name)
    if pid and pid != os.getpid():
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass


def cancel_requested(folder: Path) -> bool:
    return (Path(folder) / CANCEL_NAME).exists()


def clear_cancel(folder: Path) -> None:
    (Path(folder) / CANCEL_NAME).unlink(missing_ok=True)


def read_state(folder: Path) -> dict[str, Any] | None:
    """The job's last written state, with ``running`` added from the lock."""
    state = read_json(Path(folder) / STATE_NAME)
    if state is None:
        return None
    state["running"] = is_running(folder)
    if state.get("status") == JobStatus.RUNNING and not state["running"]:
        # The worker died without writing a final state (SIGKILL, power loss).
        state["status"] = str(JobStatus.INTERRUPTED)
    return state


def read_job(folder: Path) -> JobState | None:
    """:func:`read_state`, typed: None when there is no state or it is not a known job state."""
    data = read_state(folder)
    job = JobState.from_dict(data)
    if job is not None and data is not None:
        job.running = bool(data["running"])
    return job


def read_launched_job(folder: Path, kind: JobKind | str, log_name: str = LOG_NAME) -> JobState:
    """The state of a job started with :func:`start_detached`, also before its worker wrote ``state.json``.

    No state yet: FAILED when the worker's log already holds the ``error: ...`` line every
    ``python -m core`` command (and argparse) prints before exiting on bad input, or a traceback
    (the message quotes that line), else STARTING.
    ``running`` says whether the worker holds the folder's lock.
    """
    job = read_job(folder)
    if job is not None:
        return job
    try:
        lines = (Path(folder) / log_name).read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        lines = []
    errors = [line.split("error:", 1)[1].strip() for line in lines
              if line.startswith("error:") or ": error: " in line]  # ours, argparse's
    if not errors and any(line.startswith("Traceback (most recent call last)") for line in lines):
        errors = [lines[-1].strip()]
    if errors:
        return JobState(kind=kind, status=JobStatus.FAILED, phase="done",
                        message=f"the process stopped before it started: {errors[-1]}")
    return JobState(kind=kind, status=JobStatus.STARTING, message="starting the process…")


#: How long a job the dashboard asked for may stay "starting" before the page stops waiting for
#: its worker (a Dask worker's start-up takes longest).
STARTING_GRACE_S = 30.0


def job_active(state: JobState | None, now: float | None = None) -> bool:
    """True while a worker holds the folder's lock, or the job was requested less than
    :data:`STARTING_GRACE_S` seconds ago and its worker is still starting."""
    if state is None:
        return False
    if state.running:
        return True
    if state.status != JobStatus.STARTING:
        return False
    return ((time.time() if now is None else now) - float(state.started_at or 0.0)) < STARTING_GRACE_S


def log_tail(folder: Path, lines: int = 8, log_name: str = LOG_NAME) -> str:
    """The last ``lines`` lines of a job's log ("" when it has none yet)."""
    try:
        return "\n".join((Path(folder) / log_name).read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def write_state(folder: Path, state: dict[str, Any]) -> None:
    state = dict(state)
    state["updated_at"] = time.time()
    write_json_atomic(Path(folder) / STATE_NAME, state)


def install_sigterm_as_cancel(folder: Path) -> None:
    """Make SIGTERM write the cancel flag instead of killing the worker outright.

    The worker then stops at its next check and leaves finished work intact.
    """

    def _handler(signum: int, frame: object) -> None:
        (Path(folder) / CANCEL_NAME).write_text(str(time.time()))

    signal.signal(signal.SIGTERM, _handler)


def start_detached(args: list[str], folder: Path, log_name: str = LOG_NAME,
                   env: dict[str, str] | None = None) -> subprocess.Popen:
    """Start ``python -m core <args>`` in its own session, logging to ``<folder>/<log_name>``.

    The child outlives the Streamlit script run, the browser tab and the server.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    log = open(folder / log_name, "ab")
    child_env = dict(os.environ if env is None else env)
    child_env.setdefault("PYTHONUNBUFFERED", "1")
    proc = subprocess.Popen(
        [sys.executable, "-m", "core", *args],
        cwd=REPO_ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        env=child_env,
        start_new_session=True,
        close_fds=True,
    )
    log.close()
    # Reap the child when it ends so it does not linger as a zombie of the server.
    threading.Thread(target=proc.wait, daemon=True).start()
    return proc

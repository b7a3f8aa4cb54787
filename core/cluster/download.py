"""Catalogue-wide cutout downloads on Dask: one task per partition, one bound on requests for the cluster.

The galaxies are cut into partitions of ``partition_rows`` in catalogue order; each partition
is one task (:func:`download_partition`) that runs the single-process per-galaxy step
(:func:`core.images.download.process_target`: skip a valid image, else fetch, check, save
atomically) on ``min(config.workers, rows)`` threads. Every try of every request first takes
a lease of one ``distributed.Semaphore(max_leases=config.workers)`` named for the job, so
``--workers`` bounds the HTTP requests in flight across the WHOLE cluster, whatever the
number of Dask workers, threads or tasks (SkyServer stays politely loaded). Each task writes
its failures to ``<folder>/.download-parts/part-00042.json`` (atomically); the client merges
them into the one ``failures.csv`` in catalogue order (catalogue rows that did not validate
first, as on one process).

The client holds the folder's job lock, and writes ``state.json`` (the same
:class:`core.jobs.JobState` as a single-process job, plus ``settings.engine`` and
``settings.partition_rows``, and ``progress.partitions_done`` / ``progress.partitions``)
every ``config.state_interval`` seconds from the counts the tasks stream to it (Dask
events, ``Worker.log_event``). Cancel is today's: the folder's ``CANCEL`` file (SIGTERM
writes it) is seen by the client, which sets a ``distributed.Event`` that every task polls;
requests still in flight after ``config.cancel_grace`` are abandoned. A full disk on any
worker stops the job with :attr:`JobStatus.DISK_FULL`. Resume is today's too: valid images
are skipped, so a rerun fetches only what is missing. The image folder must be on a
filesystem every worker sees (as for ``gz predict --cluster``).
"""

from __future__ import annotations

import queue
import shutil
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from core import jobs
from core.atomic import write_json_atomic
from core.cluster.engine import Engine, dashboard_link, dask_client
from core.images.download import DiskFull, DownloadSummary, JobTally, prepare_folder, process_target
from core.images.download_config import DownloadConfig
from core.images.download_job import start_download_job
from core.images.failures import COUNTED_OUTCOMES, Outcome, OutcomeStatus, Target, outcome_counts
from core.images.fetch import Fetcher, RateLimiter
from core.jobs import JobState, JobStatus

#: Galaxies per task by default (a few minutes of requests at the polite default rate).
DEFAULT_PARTITION_ROWS = 1000
#: Folder, inside the image folder, of the tasks' failure files during a run.
PARTS_NAME = ".download-parts"
#: How often a task checks the job's cancel event and sends its counts, seconds.
TASK_POLL_S = 0.25

_COUNTS = tuple(str(s) for s in COUNTED_OUTCOMES)


def part_path(parts: Path, index: int) -> Path:
    return parts / f"part-{index:05d}.json"


def job_names(job_id: str) -> dict[str, str]:
    """The cluster-wide names of one job's semaphore, cancel event and progress topic."""
    return {"semaphore": f"gz-download-requests-{job_id}", "cancel": f"gz-download-cancel-{job_id}",
            "topic": f"gz-download-progress-{job_id}"}


def download_partition(index: int, targets: list[Target], folder: str, config: DownloadConfig,
                       names: dict[str, str], part: str) -> dict[str, Any]:
    """Worker task: fetch ``targets`` into ``folder``, each request holding a lease of the job's semaphore.

    Writes the partition's failures (catalogue order) to ``part`` and returns its counts
    (``downloaded``, ``skipped``, ``failed``, ``pending``: cancelled or never tried) and
    ``disk_full`` (a message, or "").
    """
    from distributed import Event, Semaphore, get_client, get_worker

    worker = get_worker()
    # Bound here, in the task's thread: the fetching threads below have no worker context.
    slots = Semaphore(max_leases=config.workers, name=names["semaphore"], scheduler_rpc=worker.scheduler,
                      loop=worker.loop)
    cancel_event = Event(names["cancel"], client=get_client())
    cancel = threading.Event()
    outcomes: list[Outcome | None] = [None] * len(targets)
    work: queue.Queue[int] = queue.Queue()
    for i in range(len(targets)):
        work.put(i)
    disk_full: list[str] = []
    limiter = RateLimiter(config.min_interval)  # per task; the semaphore is the cluster-wide bound

    def fetch_some() -> None:
        fetcher = Fetcher(config, limiter, cancel, slots=slots)
        try:
            while not cancel.is_set():
                try:
                    i = work.get_nowait()
                except queue.Empty:
                    return
                try:
                    outcomes[i] = process_target(targets[i], Path(folder), config, fetcher)
                except DiskFull as exc:
                    disk_full.append(exc.strerror or str(exc))
                    cancel.set()
        finally:
            fetcher.close()

    def counts() -> dict[str, int]:
        done = [o.status for o in outcomes if o is not None]
        return {k: done.count(k) for k in _COUNTS}

    threads = [threading.Thread(target=fetch_some, name=f"cutout-{index}-{k}", daemon=True)
               for k in range(max(1, min(config.workers, len(targets))))]
    try:
        if not cancel_event.is_set():
            for t in threads:
                t.start()
        last_sent = time.monotonic()
        while alive := [t for t in threads if t.is_alive()]:
            alive[0].join(TASK_POLL_S)
            if not cancel.is_set() and cancel_event.is_set():
                cancel.set()
            if time.monotonic() - last_sent >= config.state_interval:
                worker.log_event(names["topic"], {"part": index, **counts()})
                last_sent = time.monotonic()
    finally:
        cancel.set()
        if hasattr(slots, "refresh_callback"):  # else it keeps the semaphore alive on the worker forever
            worker.loop.add_callback(slots.refresh_callback.stop)
    failures = [asdict(o) for o in outcomes if o is not None and o.status == OutcomeStatus.FAILED]
    write_json_atomic(part, {"part": index, "failures": failures})
    result = counts()
    result["pending"] = len(targets) - sum(result.values())
    result["disk_full"] = disk_full[0] if disk_full else ""
    return result


def start_cluster_download_job(table, folder: Path, config: DownloadConfig, engine: Engine, selection: str = "",
                               partition_rows: int = DEFAULT_PARTITION_ROWS, env: dict[str, str] | None = None):
    """Start a download of ``table`` (OBJID, RA, DEC; None: the folder's job catalogue again) in ``folder``
    as a detached ``python -m core download`` worker that runs on ``engine``.

    The page's entry point: as :func:`core.images.download_job.start_download_job` (same errors,
    same ``state.json``), plus ``settings.engine`` ("LocalCluster of 2 worker processes",
    "Dask scheduler tcp://..."), ``settings.engine_args`` (kept for a restart) and
    ``progress.partitions`` / ``progress.partitions_done``. A single-process ``engine`` runs as
    today. Raises ValueError for ``partition_rows`` < 1. Returns the worker's Popen.
    """
    if isinstance(partition_rows, bool) or not isinstance(partition_rows, int) or partition_rows < 1:
        raise ValueError(f"partition rows must be at least 1, got {partition_rows!r}")
    engine_args = [*engine.cli_args(), "--partition-rows", str(partition_rows)] if engine.distributed else []
    return start_download_job(table, folder, config, selection, env=env, engine_args=engine_args)


def _read_part(path: Path) -> list[Outcome]:
    data = jobs.read_json(path)  # None when missing or unreadable
    if data is None:
        raise FileNotFoundError(
            f"{path}, written by a Dask worker, cannot be read here: the image folder must be on a "
            "filesystem that every worker and this machine see (NFS, Lustre, a mounted bucket)")
    return [Outcome(**{**row, "status": OutcomeStatus(row["status"])}) for row in data["failures"]]


def download_on_cluster(engine: Engine, targets: list[Target], folder: Path, config: DownloadConfig | None = None,
                        *, on_progress: Callable[[JobState], None] | None = None,
                        job_settings: dict[str, Any] | None = None, cancel_since: float | None = None,
                        rejected: Iterable[Outcome] = (),
                        partition_rows: int = DEFAULT_PARTITION_ROWS) -> DownloadSummary:
    """Fetch every target into ``folder`` on ``engine`` (blocking); the Dask twin of
    :func:`core.images.download.run_download`, with the same arguments, guarantees, state and result.

    ``config.workers`` is the number of requests in flight across the whole cluster.
    Raises ValueError for a bad ``partition_rows`` or settings, :class:`core.jobs.JobBusy`,
    :class:`DiskFull` when the disk is full before it starts, and
    :class:`core.cluster.engine.EngineError` when no scheduler answers.
    """
    if isinstance(partition_rows, bool) or not isinstance(partition_rows, int) or partition_rows < 1:
        raise ValueError(f"--partition-rows must be at least 1, got {partition_rows!r}")
    config = (config or DownloadConfig()).validated().resolved()
    folder = Path(folder).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    with jobs.JobLock(folder):
        try:
            prepare_folder(folder, config, cancel_since)
            settings = {**config.to_dict(), **(job_settings or {}), "engine": engine.describe(),
                        "partition_rows": partition_rows}
            run = _ClusterRun(targets, folder, config, list(rejected), settings, partition_rows)
            return run.execute(engine, on_progress)
        finally:
            jobs.clear_cancel(folder)


class _ClusterRun(JobTally):
    """The client's side of one run: submits the partitions, sums their counts, publishes, cancels."""

    def __init__(self, targets: list[Target], folder: Path, config: DownloadConfig, rejected: list[Outcome],
                 settings: dict[str, Any], partition_rows: int):
        super().__init__(len(targets), folder, config, rejected, settings)
        self.rejected = rejected
        self.partitions = [targets[s:s + partition_rows] for s in range(0, len(targets), partition_rows)]
        self.names = job_names(uuid.uuid4().hex[:16])
        self.parts = folder / PARTS_NAME
        self.live: dict[int, dict[str, int]] = {}   # counts streamed by running tasks
        self.final: dict[int, dict[str, Any]] = {}  # results of finished tasks
        self.part_failures: dict[int, list[Outcome]] = {}
        self._lock = threading.Lock()

    def _on_event(self, event: tuple[float, dict[str, Any]]) -> None:
        msg = event[1]
        with self._lock:
            part = int(msg["part"])
            old = self.live.get(part, {})
            self.live[part] = {k: max(int(msg.get(k, 0)), old.get(k, 0)) for k in _COUNTS}

    def _recount(self) -> None:
        with self._lock:
            counts = outcome_counts(failed=len(self.rejected))
            for i in range(len(self.partitions)):
                source = self.final.get(i) or self.live.get(i) or {}
                for k in _COUNTS:
                    counts[k] += int(source.get(k, 0))
            self.counts = counts
            self.failures = [*self.rejected, *(o for i in sorted(self.part_failures) for o in self.part_failures[i])]

    def state(self, status: JobStatus, message: str = "") -> JobState:
        st = super().state(status, message)
        st.progress.update(partitions=len(self.partitions), partitions_done=len(self.final))
        return st

    def _publish(self, status: JobStatus, message: str = "", tolerate_disk_full: bool = False) -> JobState:
        self._recount()
        return self.publish(status, message, tolerate_disk_full=tolerate_disk_full)

    def execute(self, engine: Engine, on_progress) -> DownloadSummary:
        shutil.rmtree(self.parts, ignore_errors=True)  # left by a killed client: this run fetches it all again
        self.parts.mkdir()
        try:
            self._report(self._publish(JobStatus.RUNNING), on_progress)
            status, message = self._run(engine, on_progress) if self.partitions else (JobStatus.FINISHED, "")
        except BaseException as exc:
            interrupted = isinstance(exc, KeyboardInterrupt)
            self._publish(JobStatus.CANCELLED if interrupted else JobStatus.FAILED,
                          "interrupted" if interrupted else f"{type(exc).__name__}: {exc}", tolerate_disk_full=True)
            raise
        final = self._publish(status, message, tolerate_disk_full=status == JobStatus.DISK_FULL)
        self._report(final, on_progress)
        shutil.rmtree(self.parts, ignore_errors=True)
        return self.summary(status, message, final)

    def _run(self, engine: Engine, on_progress) -> tuple[JobStatus, str]:
        from distributed import Event, Semaphore

        with dask_client(engine) as client:
            self.settings["dashboard"] = dashboard_link(client)
            slots = Semaphore(max_leases=self.config.workers, name=self.names["semaphore"],
                              scheduler_rpc=client.scheduler, loop=client.loop)
            slots.register()  # created before any task, with this job's bound
            cancel = Event(self.names["cancel"], client=client)
            client.subscribe_topic(self.names["topic"], self._on_event)
            futures = {client.submit(download_partition, i, part, str(self.folder), self.config, self.names,
                                     str(part_path(self.parts, i)), key=f"gz-download-part-{i:05d}-"
                                     f"{self.names['topic'][-16:]}", pure=False): i
                       for i, part in enumerate(self.partitions)}
            try:
                status, message = self._collect(client, futures, cancel, on_progress)
            except BaseException:
                cancel.set()  # left set: a task still running on a cluster we leave stops at once
                client.cancel(list(futures))
                raise
            if futures and any(not f.done() for f in futures):
                client.cancel([f for f in futures if not f.done()])
            try:
                client.unsubscribe_topic(self.names["topic"])
            except ValueError:
                pass
            if status == JobStatus.FINISHED:
                cancel.clear()
            slots.close()
        return status, message

    def _collect(self, client, futures: dict, cancel, on_progress) -> tuple[JobStatus, str]:
        status, message = JobStatus.FINISHED, ""
        pending = dict(futures)
        last_write, deadline = time.monotonic(), None
        while pending:
            time.sleep(min(0.05, self.config.state_interval))
            for future in [f for f in pending if f.done()]:
                i = pending.pop(future)
                if future.status == "finished":
                    result = future.result()
                    self.part_failures[i] = _read_part(part_path(self.parts, i))
                elif future.status == "cancelled":
                    continue
                else:
                    result = self._task_error(i, future.exception())
                with self._lock:
                    self.final[i] = result
                if result.get("disk_full") and status != JobStatus.DISK_FULL:
                    cancel.set()
                    status, message = JobStatus.DISK_FULL, f"stopped: {result['disk_full']}"
                    deadline = time.monotonic() + self.config.cancel_grace
            if status == JobStatus.FINISHED and jobs.cancel_requested(self.folder):
                cancel.set()
                status, message = JobStatus.CANCELLED, "cancelled by request"
                deadline = time.monotonic() + self.config.cancel_grace
            if deadline is not None and time.monotonic() > deadline:
                break  # tasks still running are abandoned (they stop at their next check); their files are whole
            if time.monotonic() - last_write >= self.config.state_interval:
                self._report(self._publish(JobStatus.RUNNING), on_progress)
                last_write = time.monotonic()
        self._recount()
        if status == JobStatus.FINISHED and sum(self.counts.values()) < self.total:
            status = JobStatus.CANCELLED
        return status, message

    def _task_error(self, index: int, exc: BaseException | None) -> dict[str, Any]:
        """A task that raised (a bug, a worker lost too often): its galaxies become failures, none lost."""
        detail = f"{type(exc).__name__}: {exc}"[:300]
        self.part_failures[index] = [
            Outcome(t.objid, t.ra, t.dec, OutcomeStatus.FAILED, reason="the Dask task of this partition failed",
                    detail=detail)
            for t in self.partitions[index]]
        return {**outcome_counts(failed=len(self.partitions[index])), "pending": 0, "disk_full": ""}


def describe_partitions(n_targets: int, partition_rows: int) -> str:
    """'3 partitions of up to 1000 galaxies' (for logs and pages)."""
    n = -(-n_targets // partition_rows) if n_targets else 0
    return f"{n} partition{'s' if n != 1 else ''} of up to {partition_rows} galaxies"

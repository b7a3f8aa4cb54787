"""Download one SDSS cutout per galaxy into an image folder: the run loop of a download job.

An image folder holds ``<OBJID>.jpg`` files plus the job's files (see
:mod:`core.jobs`): ``job.lock`` (one job per folder), ``state.json`` (a
:class:`core.jobs.JobState`: counts, throughput, ETA and every setting the job ran
with), ``failures.csv`` (:mod:`core.images.failures`), ``imageset.json`` (what the
images are: scale, size, source), ``CANCEL`` (stop request) and ``job.log``.

Guarantees:

* every galaxy ends as a valid ``<OBJID>.jpg`` or as a row in ``failures.csv``;
* a ``.jpg`` is only ever created by renaming a complete, checked temporary file
  (:mod:`core.atomic`), so a killed job never leaves a partial image;
* valid images already in the folder are skipped, so running the same job again
  fetches only what is missing (failures included);
* OBJIDs must be digits before they become file names (no path traversal);
* a full disk (ENOSPC) stops the job at once with :attr:`JobStatus.DISK_FULL`,
  leaving the last ``failures.csv`` and images intact.

Worker threads (:class:`core.images.fetch.Fetcher`) never touch ``state.json``: the
calling thread collects their results and writes the state every
``config.state_interval`` seconds.
"""

from __future__ import annotations

import errno
import os
import queue
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core import jobs
from core.atomic import write_bytes_atomic
from core.images.check import InvalidImage, check_file
from core.images.cutouts import check_position
from core.images.download_config import DownloadConfig
from core.images.failures import Outcome, OutcomeStatus, Target, outcome_counts, write_failures
from core.images.fetch import Fetcher, RateLimiter
from core.images.folder import InvalidObjid, image_path
from core.images.imageset import write_imageset
from core.jobs import JobKind, JobState, JobStatus


@dataclass
class DownloadSummary:
    """Result of :func:`run_download`; counts are galaxies."""

    status: JobStatus  #: finished, cancelled, failed or disk full
    total: int
    downloaded: int
    skipped: int
    failed: int
    elapsed_s: float
    throughput: float  #: images downloaded per second (skipped ones not counted)
    failures: list[Outcome] = field(default_factory=list)
    message: str = ""

    @property
    def pending(self) -> int:
        return self.total - self.downloaded - self.skipped - self.failed


class DiskFull(OSError):
    """The image folder's disk is full (ENOSPC, or the user's quota is used up)."""


_DISK_FULL_ERRNOS = (errno.ENOSPC, errno.EDQUOT)


def _disk_full(exc: OSError, folder: Path) -> DiskFull | None:
    """A :class:`DiskFull` for a disk-full error, else None."""
    if exc.errno in _DISK_FULL_ERRNOS:
        return DiskFull(exc.errno, f"no space left on the disk of {folder}")
    return None


def _remove_stale_parts(folder: Path) -> None:
    # Temporary files of core.atomic (".<name>.<random>.tmp") and of earlier versions (".part").
    for part in [*folder.glob(".*.jpg.*.tmp"), *folder.glob(".*.part")]:
        part.unlink(missing_ok=True)


def _process(target: Target, folder: Path, config: DownloadConfig, fetcher: Fetcher) -> Outcome:
    outcome = Outcome(target.objid, target.ra, target.dec, OutcomeStatus.FAILED)
    try:
        path = image_path(folder, target.objid)
    except InvalidObjid as exc:
        outcome.reason = str(exc)
        return outcome
    if path.exists():
        try:
            # Any valid JPEG counts as done: finished work (downloaded or imported) is never replaced.
            check_file(path)
            outcome.status = OutcomeStatus.SKIPPED
            return outcome
        except InvalidImage:
            pass  # a damaged file from elsewhere: replace it with a good download
    try:
        check_position(target.ra, target.dec)
        outcome.url = fetcher.cutout.url(target.ra, target.dec)
    except ValueError as exc:
        outcome.reason = str(exc)
        return outcome
    data = fetcher.fetch(outcome)
    if data is None:  # failed, or cancelled (fetch then set the status)
        return outcome
    try:
        # No fsync per image (measured ~15% of throughput at 16 workers): a file that a power cut
        # left empty fails check_file, so the next run fetches it again.
        write_bytes_atomic(path, data, fsync=False)
    except OSError as exc:
        raise (_disk_full(exc, folder) or exc) from exc
    outcome.status, outcome.reason, outcome.detail = OutcomeStatus.DOWNLOADED, "", ""
    return outcome


def process_target(target: Target, folder: Path, config: DownloadConfig, fetcher: Fetcher) -> Outcome:
    """One galaxy, start to end: skip a valid image, else fetch, check and save it atomically.

    The per-galaxy step of every engine (this process's threads and Dask tasks alike).
    Raises :class:`DiskFull`; any other error becomes a failed :class:`Outcome`, so no
    galaxy is lost silently.
    """
    try:
        return _process(target, folder, config, fetcher)
    except DiskFull:
        raise
    except Exception as exc:  # a bug or a disk error must not lose the galaxy silently
        return Outcome(target.objid, target.ra, target.dec, OutcomeStatus.FAILED,
                       reason="internal error while saving the image",
                       detail=f"{type(exc).__name__}: {exc}"[:300])


def _stale_cancel(folder: Path, since: float | None) -> None:
    """Drop a CANCEL file written before ``since`` (a leftover of an earlier, killed job)."""
    path = Path(folder) / jobs.CANCEL_NAME
    if since is None:
        return
    try:
        if path.stat().st_mtime < since:
            path.unlink(missing_ok=True)
    except FileNotFoundError:
        pass


def run_download(targets: list[Target], folder: Path, config: DownloadConfig | None = None,
                 on_progress: Callable[[JobState], None] | None = None,
                 job_settings: dict[str, Any] | None = None, cancel_since: float | None = None,
                 rejected: Iterable[Outcome] = ()) -> DownloadSummary:
    """Fetch every target into ``folder`` (blocking), holding the folder's job lock.

    Raises :class:`core.jobs.JobBusy` if another job runs in the folder,
    :class:`core.images.cutouts.CutoutSettingsError` / ValueError for bad settings,
    before any request, and :class:`DiskFull` when the disk is full before it starts. ``on_progress(state)`` is called from this thread each
    time ``state.json`` is written. ``job_settings`` (catalogue, selection, ...) is
    stored in the state next to ``config``'s settings. A ``CANCEL`` file older than
    ``cancel_since`` (epoch seconds) is ignored as stale. ``rejected`` are galaxies
    already known to fail (e.g. catalogue rows that did not validate): they count
    in the total and are listed in ``failures.csv``.
    """
    config = (config or DownloadConfig()).validated().resolved()  # the environment is read once
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    with jobs.JobLock(folder):
        try:
            prepare_folder(folder, config, cancel_since)
            run = _Run(targets, folder, config, list(rejected), {**config.to_dict(), **(job_settings or {})})
            return run.execute(on_progress)
        finally:
            jobs.clear_cancel(folder)


def prepare_folder(folder: Path, config: DownloadConfig, cancel_since: float | None) -> None:
    """Before a run, holding the folder's lock: drop a stale CANCEL and temporary files, write
    ``imageset.json``. Raises :class:`DiskFull` when the disk is full."""
    _stale_cancel(folder, cancel_since)
    _remove_stale_parts(folder)
    try:
        write_imageset(folder, config)
    except OSError as exc:
        raise (_disk_full(exc, folder) or exc) from exc


class JobTally:
    """The counts of one run and how they are published: ``state.json`` and ``failures.csv``.

    Shared by this process's run and a run on Dask (:mod:`core.cluster.download`), so both
    write the same state. ``failures`` is in catalogue order when the caller keeps it so.
    """

    def __init__(self, n_targets: int, folder: Path, config: DownloadConfig,
                 rejected: list[Outcome], settings: dict[str, Any]):
        self.folder, self.config, self.settings = folder, config, settings
        self.total = n_targets + len(rejected)
        self.counts = outcome_counts(failed=len(rejected))
        self.failures: list[Outcome] = list(rejected)
        self.started, self.t0 = time.time(), time.monotonic()

    def state(self, status: JobStatus, message: str = "") -> JobState:
        elapsed = time.monotonic() - self.t0
        processed = sum(self.counts.values())
        rate = self.counts[OutcomeStatus.DOWNLOADED] / elapsed if elapsed > 0 else 0.0
        pending = self.total - processed
        eta = pending / rate if rate > 0 and status == JobStatus.RUNNING else None
        progress = {"processed": processed, "pending": pending, "elapsed_s": round(elapsed, 3),
                    "fraction": processed / self.total if self.total else 1.0, "throughput": round(rate, 3),
                    "eta_s": None if eta is None else round(eta, 1)}
        c = self.counts
        return JobState(kind=JobKind.DOWNLOAD, status=status, message=message, done=c[OutcomeStatus.DOWNLOADED],
                        total=self.total, failed=c[OutcomeStatus.FAILED], skipped=c[OutcomeStatus.SKIPPED],
                        pid=os.getpid(), started_at=self.started, settings=self.settings, progress=progress)

    def publish(self, status: JobStatus, message: str = "", tolerate_disk_full: bool = False) -> JobState:
        st = self.state(status, message)
        try:
            write_failures(self.folder, self.failures)
            jobs.write_state(self.folder, st.to_dict())
        except OSError as exc:
            # With the disk full, the atomic writer leaves the previous files whole; that is all we can do.
            full = _disk_full(exc, self.folder)
            if full is None:
                raise
            if not tolerate_disk_full:
                raise full from exc
        return st

    def summary(self, status: JobStatus, message: str, final: JobState) -> DownloadSummary:
        return DownloadSummary(status=status, total=self.total, downloaded=self.counts[OutcomeStatus.DOWNLOADED],
                               skipped=self.counts[OutcomeStatus.SKIPPED], failed=self.counts[OutcomeStatus.FAILED],
                               elapsed_s=final.progress["elapsed_s"], throughput=final.progress["throughput"],
                               failures=list(self.failures), message=message)

    @staticmethod
    def _report(state: JobState, on_progress) -> None:
        if on_progress is not None:
            on_progress(state)


class _Run(JobTally):
    """One locked run: worker threads fetch, this thread counts, writes the state and stops them."""

    def __init__(self, targets: list[Target], folder: Path, config: DownloadConfig,
                 rejected: list[Outcome], settings: dict[str, Any]):
        super().__init__(len(targets), folder, config, rejected, settings)
        self.cancel = threading.Event()
        self.work: queue.Queue[Target] = queue.Queue()
        self.results: queue.Queue[Outcome | BaseException | None] = queue.Queue()  # None: a worker ended
        self.limiter = RateLimiter(config.min_interval)
        for t in targets:
            self.work.put(t)

    def _worker(self) -> None:
        fetcher = Fetcher(self.config, self.limiter, self.cancel)
        try:
            while not self.cancel.is_set():
                try:
                    target = self.work.get_nowait()
                except queue.Empty:
                    return
                try:
                    outcome: Outcome | BaseException = process_target(target, self.folder, self.config, fetcher)
                except DiskFull as exc:
                    self.cancel.set()  # stop every worker now, not when the main thread sees this
                    outcome = exc
                self.results.put(outcome)
        finally:
            fetcher.close()
            self.results.put(None)

    def _take(self, item: Outcome | BaseException) -> None:
        if isinstance(item, BaseException):
            raise item
        if item.status != OutcomeStatus.CANCELLED:  # a cancelled galaxy stays pending: a later job fetches it
            self.counts[item.status] += 1
            if item.status == OutcomeStatus.FAILED:
                self.failures.append(item)

    def execute(self, on_progress: Callable[[JobState], None] | None) -> DownloadSummary:
        n_workers = max(1, min(self.config.workers, self.total))
        threads = [threading.Thread(target=self._worker, name=f"cutout-{i}", daemon=True)
                   for i in range(n_workers)]
        try:
            self._report(self.publish(JobStatus.RUNNING), on_progress)
            for t in threads:
                t.start()
            status, message = self._collect(len(threads), on_progress)
        except DiskFull as exc:
            self.cancel.set()
            status, message = JobStatus.DISK_FULL, f"stopped: {exc.strerror}"
        except BaseException as exc:
            self.cancel.set()
            interrupted = isinstance(exc, KeyboardInterrupt)
            self.publish(JobStatus.CANCELLED if interrupted else JobStatus.FAILED,
                         "interrupted" if interrupted else f"{type(exc).__name__}: {exc}", tolerate_disk_full=True)
            raise
        final = self.publish(status, message, tolerate_disk_full=status == JobStatus.DISK_FULL)
        self._report(final, on_progress)
        return self.summary(status, message, final)

    def _collect(self, n_threads: int, on_progress) -> tuple[JobStatus, str]:
        status, message = JobStatus.FINISHED, ""
        last_write, deadline, finished_workers = time.monotonic(), None, 0
        while finished_workers < n_threads:
            try:
                item = self.results.get(timeout=0.05)
            except queue.Empty:
                item = False
            if item is None:
                finished_workers += 1
            elif item is not False:
                self._take(item)
            if not self.cancel.is_set() and jobs.cancel_requested(self.folder):
                self.cancel.set()
                status, message = JobStatus.CANCELLED, "cancelled by request"
                deadline = time.monotonic() + self.config.cancel_grace
            if deadline is not None and time.monotonic() > deadline:
                break  # requests still in flight are abandoned; their files would still be whole
            if time.monotonic() - last_write >= self.config.state_interval:
                self._report(self.publish(JobStatus.RUNNING), on_progress)
                last_write = time.monotonic()
        if status == JobStatus.FINISHED and sum(self.counts.values()) < self.total:
            status = JobStatus.CANCELLED
        return status, message

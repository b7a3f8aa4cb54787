"""Download one SDSS cutout per galaxy into an image folder, as a resumable background job.

An image folder holds ``<OBJID>.jpg`` files plus the job's files (see
:mod:`core.jobs`): ``job.lock`` (one job per folder), ``state.json`` (counts,
throughput, ETA), ``failures.csv`` (one row per galaxy that failed, with the
reason), ``CANCEL`` (stop request) and ``job.log``.

Guarantees:

* every galaxy ends as a valid ``<OBJID>.jpg`` or as a row in ``failures.csv``;
* a ``.jpg`` is only ever created by renaming a complete, checked temporary file
  (``.<OBJID>.jpg.<random>.tmp``, see :mod:`core.atomic`), so a killed job never leaves a partial image;
* valid images already in the folder are skipped, so a killed job that is started
  again downloads only what is missing;
* OBJIDs must be digits before they become file names (no path traversal).

Networking: a bounded pool of worker threads (``workers``), one HTTP session
each; per-request connect/read timeouts in seconds; up to ``max_attempts``
tries with exponential backoff and jitter for timeouts, connection errors,
truncated bodies, HTTP 5xx/429 and HTML error pages; other 4xx and wrong or
blank images are final. ``min_interval`` (seconds) spaces request starts across
all workers. Worker threads never touch ``state.json``: the calling thread
collects their results and writes the state every ``state_interval`` seconds.
"""

from __future__ import annotations

import csv
import io
import math
import os
import queue
import random
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import requests
from requests.adapters import HTTPAdapter

from core import jobs
from core.atomic import write_bytes_atomic
from core.config import get_settings
from core.images.check import MAX_IMAGE_BYTES, InvalidImage, check_file, check_response
from core.images.cutouts import CutoutSettings, check_position
from core.images.folder import InvalidObjid, image_path

FAILURES_NAME = "failures.csv"
JOB_CATALOG_NAME = "job_catalog.csv"
FAILURE_COLUMNS = ("OBJID", "RA", "DEC", "REASON", "ATTEMPTS", "HTTP_STATUS", "URL")
USER_AGENT = "galaxy-zoo-morphology-dashboard/1.0 (python-requests; polite cutout downloader)"


@dataclass(frozen=True)
class Target:
    """One galaxy to fetch: OBJID as given (checked later), position in decimal degrees."""

    objid: str
    ra: float
    dec: float


def targets_from_table(table, limit: int | None = None) -> list[Target]:
    """Targets from a table with ``OBJID``, ``RA``, ``DEC`` (decimal degrees), first ``limit`` rows.

    Duplicate OBJIDs are fetched once (the first row wins).
    """
    missing = [c for c in ("OBJID", "RA", "DEC") if c not in table.columns]
    if missing:
        raise ValueError(f"catalogue has no {', '.join(missing)} column(s); a download needs OBJID, RA and DEC")
    seen: set[str] = set()
    targets: list[Target] = []
    for objid, ra, dec in zip(table["OBJID"].tolist(), table["RA"].tolist(), table["DEC"].tolist(), strict=False):
        key = str(objid)
        if key in seen:
            continue
        seen.add(key)
        targets.append(Target(key, float(ra), float(dec)))
        if limit is not None and len(targets) >= limit:
            break
    return targets


@dataclass(frozen=True)
class DownloadOptions:
    """How politely and patiently to download (times in seconds)."""

    workers: int = 4
    connect_timeout: float = 10.0
    read_timeout: float = 30.0
    max_attempts: int = 4  #: total tries per galaxy, including the first
    backoff_base: float = 1.0  #: delay before the 2nd try; doubles for each further try
    backoff_max: float = 30.0
    jitter: float = 0.5  #: each delay is multiplied by a random factor in [1 - jitter, 1 + jitter]
    min_interval: float = 0.0  #: minimum time between request starts, across all workers
    state_interval: float = 0.5  #: how often state.json is rewritten
    cancel_grace: float = 2.0  #: how long a cancelled job waits for requests in flight

    def validated(self) -> DownloadOptions:
        if not isinstance(self.workers, int) or not 1 <= self.workers <= 64:
            raise ValueError(f"workers must be 1 to 64, got {self.workers!r}")
        if not isinstance(self.max_attempts, int) or not 1 <= self.max_attempts <= 20:
            raise ValueError(f"max_attempts must be 1 to 20, got {self.max_attempts!r}")
        for name in ("connect_timeout", "read_timeout"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0 seconds, got {getattr(self, name)!r}")
        for name in ("backoff_base", "backoff_max", "min_interval", "state_interval", "cancel_grace"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"{name} must be >= 0 seconds, got {getattr(self, name)!r}")
        if not 0 <= self.jitter < 1:
            raise ValueError(f"jitter must be in [0, 1), got {self.jitter!r}")
        return self

    @classmethod
    def default(cls, **changes: object) -> DownloadOptions:
        """Options with the worker count from settings (``GZ_DOWNLOAD_WORKERS``), then ``changes``."""
        values: dict[str, object] = {"workers": get_settings().download_workers}
        values.update(changes)
        return cls(**values)  # type: ignore[arg-type]

    def backoff(self, attempt: int, rng: random.Random) -> float:
        """Delay in seconds after failed try number ``attempt`` (1-based)."""
        delay = min(self.backoff_max, self.backoff_base * (2 ** (attempt - 1)))
        return delay * rng.uniform(1 - self.jitter, 1 + self.jitter)


@dataclass
class Outcome:
    """What happened to one galaxy: status is ``downloaded``, ``skipped`` or ``failed``."""

    objid: str
    ra: float
    dec: float
    status: str
    reason: str = ""
    attempts: int = 0
    http_status: int | None = None
    url: str = ""


@dataclass
class DownloadSummary:
    """Result of :func:`run_download`; counts are galaxies."""

    status: str  #: done, cancelled or error
    total: int
    downloaded: int
    skipped: int
    failed: int
    elapsed_s: float
    throughput: float  #: images downloaded per second (skipped ones not counted)
    failures: list[Outcome] = field(default_factory=list)

    @property
    def pending(self) -> int:
        return self.total - self.downloaded - self.skipped - self.failed


class _RateLimiter:
    """Spaces request starts at least ``interval`` seconds apart across threads."""

    def __init__(self, interval: float):
        self.interval = interval
        self._next = 0.0
        self._lock = threading.Lock()

    def wait(self, cancel: threading.Event) -> None:
        if self.interval <= 0:
            return
        with self._lock:
            now = time.monotonic()
            start = max(now, self._next)
            self._next = start + self.interval
        if start > now:
            cancel.wait(start - now)


class _Fetcher:
    """Fetches and checks one cutout, with retries; one instance per worker thread."""

    def __init__(self, settings: CutoutSettings, options: DownloadOptions, limiter: _RateLimiter,
                 cancel: threading.Event):
        self.settings = settings
        self.options = options
        self.limiter = limiter
        self.cancel = cancel
        self.rng = random.Random()
        self.session = requests.Session()
        adapter = HTTPAdapter(pool_connections=1, pool_maxsize=1, max_retries=0)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.session.headers["User-Agent"] = USER_AGENT

    def close(self) -> None:
        self.session.close()

    def fetch(self, target: Target, outcome: Outcome) -> bytes | None:
        """Return checked JPEG bytes, or None with ``outcome.reason`` set (failed or cancelled)."""
        url = outcome.url
        for attempt in range(1, self.options.max_attempts + 1):
            if self.cancel.is_set():
                outcome.reason = "cancelled"
                return None
            self.limiter.wait(self.cancel)
            outcome.attempts = attempt
            retryable = True
            resp = None
            try:
                with self.session.get(url, stream=True,
                                      timeout=(self.options.connect_timeout, self.options.read_timeout)) as resp:
                    outcome.http_status = resp.status_code
                    body = self._read_body(resp)
                    if body is None:
                        outcome.reason = "cancelled"
                        return None
                check_response(resp.status_code, resp.headers.get("Content-Type"), body, self.settings.size)
                return body
            except _SlowBody:
                outcome.reason = f"timeout (body took longer than {self._body_deadline():g} s)"
                retry_after = None
            except InvalidImage as exc:
                outcome.reason, retryable = exc.reason, exc.retryable
                retry_after = _retry_after(resp) if resp is not None else None
            except requests.Timeout:
                outcome.reason = (f"timeout (connect {self.options.connect_timeout:g} s, "
                                  f"read {self.options.read_timeout:g} s)")
                retry_after = None
            except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError,
                    requests.exceptions.ContentDecodingError) as exc:
                outcome.reason = f"connection error: {_short_error(exc)}"
                retry_after = None
            except requests.RequestException as exc:
                outcome.reason, retryable = f"request error: {_short_error(exc)}", False
                retry_after = None
            if not retryable or attempt == self.options.max_attempts:
                return None
            delay = self.options.backoff(attempt, self.rng)
            if retry_after is not None:
                delay = max(delay, min(retry_after, self.options.backoff_max))
            if self.cancel.wait(delay):
                outcome.reason = "cancelled"
                return None
        return None


    def _body_deadline(self) -> float:
        # read_timeout bounds each silence; this bounds a server that trickles bytes forever.
        return self.options.connect_timeout + 4 * self.options.read_timeout

    def _read_body(self, resp: requests.Response) -> bytes | None:
        """The body, at most MAX_IMAGE_BYTES; None if cancelled while reading."""
        chunks, size, t0 = [], 0, time.monotonic()
        for chunk in resp.iter_content(chunk_size=64 * 1024):
            size += len(chunk)
            if size > MAX_IMAGE_BYTES:
                raise InvalidImage(f"response larger than {MAX_IMAGE_BYTES // (1024 * 1024)} MB")
            chunks.append(chunk)
            if self.cancel.is_set():
                return None
            if time.monotonic() - t0 > self._body_deadline():
                raise _SlowBody()
        return b"".join(chunks)


class _SlowBody(Exception):
    """The server kept sending, too slowly to finish within the body deadline."""


def _retry_after(resp: requests.Response) -> float | None:
    value = resp.headers.get("Retry-After", "")
    try:
        return float(value) if value else None
    except ValueError:
        return None


def _short_error(exc: BaseException) -> str:
    # requests nests urllib3 errors several levels deep; the innermost cause says what happened.
    inner: BaseException = exc
    for _ in range(10):
        nested = [inner.__cause__, getattr(inner, "reason", None), *inner.args]
        deeper = next((e for e in nested if isinstance(e, BaseException)), None)
        if deeper is None:
            break
        inner = deeper
    text = f"{type(inner).__name__}: {inner}" if str(inner) else type(inner).__name__
    return text[:200]


def _remove_stale_parts(folder: Path) -> int:
    removed = 0
    # Temporary files of core.atomic (".<name>.<random>.tmp") and of earlier versions (".part").
    for part in [*folder.glob(".*.jpg.*.tmp"), *folder.glob(".*.part")]:
        part.unlink(missing_ok=True)
        removed += 1
    return removed


def _process(target: Target, folder: Path, settings: CutoutSettings, fetcher: _Fetcher) -> Outcome:
    outcome = Outcome(target.objid, target.ra, target.dec, "failed")
    try:
        path = image_path(folder, target.objid)
    except InvalidObjid as exc:
        outcome.reason = str(exc)
        return outcome
    if path.exists():
        try:
            # Any valid JPEG counts as done: finished work (downloaded or imported) is never replaced.
            check_file(path)
            outcome.status = "skipped"
            return outcome
        except InvalidImage:
            pass  # a damaged file from elsewhere: replace it with a good download
    try:
        check_position(target.ra, target.dec)
        outcome.url = settings.url(target.ra, target.dec)
    except ValueError as exc:
        outcome.reason = str(exc)
        return outcome
    data = fetcher.fetch(target, outcome)
    if data is None:
        if outcome.reason == "cancelled":
            outcome.status = "cancelled"
        return outcome
    write_bytes_atomic(path, data)
    outcome.status, outcome.reason = "downloaded", ""
    return outcome


def write_failures(folder: Path, failures: Iterable[Outcome]) -> Path:
    """Write ``failures.csv`` (columns :data:`FAILURE_COLUMNS`) atomically; returns its path."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(FAILURE_COLUMNS)
    for f in failures:
        writer.writerow([f.objid, _coord(f.ra), _coord(f.dec), f.reason, f.attempts,
                         "" if f.http_status is None else f.http_status, f.url])
    path = Path(folder) / FAILURES_NAME
    write_bytes_atomic(path, buf.getvalue().encode("utf-8"))
    return path


def _coord(value: float) -> str:
    return f"{value:.7f}" if math.isfinite(value) else ""


def read_failures(folder: Path) -> list[dict[str, str]]:
    """Rows of the folder's ``failures.csv`` (empty list if there is none)."""
    path = Path(folder) / FAILURES_NAME
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            return list(csv.DictReader(fh))
    except FileNotFoundError:
        return []


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


def run_download(targets: list[Target], folder: Path, settings: CutoutSettings,
                 options: DownloadOptions | None = None,
                 on_progress: Callable[[dict], None] | None = None,
                 description: str = "", cancel_since: float | None = None,
                 rejected: Iterable[Outcome] = ()) -> DownloadSummary:
    """Fetch every target into ``folder`` (blocking), holding the folder's job lock.

    Raises :class:`core.jobs.JobBusy` if another job runs in the folder and
    :class:`core.images.cutouts.CutoutSettingsError` / ValueError for bad settings,
    before any request. ``on_progress(state)`` is called from this thread each
    time ``state.json`` is written. A ``CANCEL`` file older than
    ``cancel_since`` (epoch seconds) is ignored as stale. ``rejected`` are
    galaxies already known to fail (e.g. catalogue rows that did not validate):
    they count in the total and are listed in ``failures.csv``.
    """
    settings = settings.validated()
    settings = settings.with_(base_url=settings.resolved_base_url())  # read the environment once
    options = (options or DownloadOptions.default()).validated()
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    with jobs.JobLock(folder):
        try:
            _stale_cancel(folder, cancel_since)
            _remove_stale_parts(folder)
            return _run_locked(targets, folder, settings, options, on_progress, description,
                               list(rejected))
        finally:
            jobs.clear_cancel(folder)


def _run_locked(targets: list[Target], folder: Path, settings: CutoutSettings, options: DownloadOptions,
                on_progress: Callable[[dict], None] | None, description: str,
                rejected: list[Outcome]) -> DownloadSummary:
    started = time.time()
    t0 = time.monotonic()
    total = len(targets) + len(rejected)
    counts = {"downloaded": 0, "skipped": 0, "failed": len(rejected)}
    failures: list[Outcome] = list(rejected)
    cancel = threading.Event()
    work: queue.Queue[Target | None] = queue.Queue()
    results: queue.Queue[Outcome | None] = queue.Queue()  # None: a worker has finished
    limiter = _RateLimiter(options.min_interval)
    for t in targets:
        work.put(t)
    n_workers = max(1, min(options.workers, total))

    def worker() -> None:
        fetcher = _Fetcher(settings, options, limiter, cancel)
        try:
            while not cancel.is_set():
                try:
                    target = work.get_nowait()
                except queue.Empty:
                    return
                try:
                    outcome = _process(target, folder, settings, fetcher)
                except Exception as exc:  # a bug or a disk error must not lose the galaxy silently
                    outcome = Outcome(target.objid, target.ra, target.dec, "failed",
                                      reason=f"internal error: {type(exc).__name__}: {exc}"[:200])
                results.put(outcome)
        finally:
            fetcher.close()
            results.put(None)

    threads = [threading.Thread(target=worker, name=f"cutout-{i}", daemon=True) for i in range(n_workers)]

    def state(status: str, message: str = "") -> dict:
        elapsed = time.monotonic() - t0
        processed = sum(counts.values())
        rate = counts["downloaded"] / elapsed if elapsed > 0 else 0.0
        pending = total - processed
        eta = pending / rate if rate > 0 and status == "running" else None
        return {
            "kind": "download", "status": status, "message": message, "description": description,
            "pid": os.getpid(), "started_at": started, "elapsed_s": round(elapsed, 3),
            "total": total, "done": counts["downloaded"], "skipped": counts["skipped"],
            "failed": counts["failed"], "processed": processed, "pending": pending,
            "fraction": processed / total if total else 1.0,
            "throughput": round(rate, 3), "eta_s": None if eta is None else round(eta, 1),
            "settings": settings.as_dict(), "options": asdict(options),
        }

    def publish(status: str, message: str = "") -> dict:
        st = state(status, message)
        write_failures(folder, failures)
        jobs.write_state(folder, st)
        if on_progress is not None:
            on_progress(st)
        return st

    publish("running")
    for t in threads:
        t.start()
    status, message = "done", ""
    last_write = time.monotonic()
    deadline: float | None = None
    finished_workers = 0
    try:
        while finished_workers < len(threads):
            try:
                outcome = results.get(timeout=0.05)
            except queue.Empty:
                outcome = None
            else:
                if outcome is None:
                    finished_workers += 1
            if outcome is not None:
                if outcome.status == "cancelled":
                    pass  # not a failure: it stays pending and a later job fetches it
                else:
                    counts[outcome.status] += 1
                    if outcome.status == "failed":
                        failures.append(outcome)
            if not cancel.is_set() and jobs.cancel_requested(folder):
                cancel.set()
                status, message = "cancelled", "cancelled by request"
                deadline = time.monotonic() + options.cancel_grace
            if deadline is not None and time.monotonic() > deadline:
                break  # requests still in flight are abandoned; their files would still be whole
            if time.monotonic() - last_write >= options.state_interval:
                publish("running")
                last_write = time.monotonic()
    except BaseException as exc:
        cancel.set()
        status, message = ("cancelled", "interrupted") if isinstance(exc, KeyboardInterrupt) else (
            "error", f"{type(exc).__name__}: {exc}")
        publish(status, message)
        raise
    if status == "done" and sum(counts.values()) < total:
        status = "cancelled"
    final = publish(status, message)
    return DownloadSummary(status=status, total=total, downloaded=counts["downloaded"],
                           skipped=counts["skipped"], failed=counts["failed"],
                           elapsed_s=final["elapsed_s"], throughput=final["throughput"],
                           failures=list(failures))


# --- starting a job in the background (used by the dashboard) -------------------------------


#: How long a job the dashboard asked for may stay "starting" before the page stops waiting for it.
STARTING_GRACE_S = 20.0


def job_active(state: dict | None, now: float | None = None) -> bool:
    """True while a worker holds the folder's lock, or a job was requested less than
    :data:`STARTING_GRACE_S` seconds ago and its worker is still starting up."""
    if not state:
        return False
    if state.get("running"):
        return True
    if state.get("status") != "starting":
        return False
    requested = float(state.get("requested_at") or 0.0)
    return ((time.time() if now is None else now) - requested) < STARTING_GRACE_S


def write_job_catalog(table, folder: Path) -> Path:
    """Write the galaxies of a job as a bare ``OBJID,RA,DEC`` CSV (decimal degrees) in ``folder``."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(("OBJID", "RA", "DEC"))
    for objid, ra, dec in zip(table["OBJID"].tolist(), table["RA"].tolist(), table["DEC"].tolist(), strict=False):
        writer.writerow((str(objid), f"{float(ra):.7f}", f"{float(dec):.7f}"))
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / JOB_CATALOG_NAME
    write_bytes_atomic(path, buf.getvalue().encode("utf-8"))
    return path


def cli_args(catalog_csv: Path, folder: Path, settings: CutoutSettings,
             options: DownloadOptions | None = None, limit: int | None = None) -> list[str]:
    """The ``python -m core download ...`` arguments that run this job."""
    settings = settings.validated()
    args = ["download", str(catalog_csv), "--images", str(folder), "--source", settings.source,
            "--base-url", settings.resolved_base_url(), "--scale", f"{float(settings.scale):g}",
            "--width", str(settings.width), "--height", str(settings.height), "--no-progress"]
    if options is not None:
        args += ["--workers", str(options.workers), "--timeout", f"{options.read_timeout:g}",
                 "--retries", str(options.max_attempts - 1), "--min-interval", f"{options.min_interval:g}"]
    if limit is not None:
        args += ["--limit", str(limit)]
    return args


def start_download_job(table, folder: Path, settings: CutoutSettings,
                       options: DownloadOptions | None = None, env: dict[str, str] | None = None):
    """Write ``table`` (OBJID, RA, DEC) as the job catalogue and start the CLI worker detached.

    Raises :class:`core.jobs.JobBusy` if a job already runs in ``folder``.
    Returns the ``subprocess.Popen`` of the worker.
    """
    folder = Path(folder)
    settings = settings.validated()
    if options is not None:
        options.validated()
    if jobs.is_running(folder):
        raise jobs.JobBusy(f"another job is already running in {folder}")
    catalog_csv = write_job_catalog(table, folder)
    jobs.clear_cancel(folder)  # no job runs here, so any CANCEL file is a leftover
    jobs.write_state(folder, {"kind": "download", "status": "starting", "requested_at": time.time(),
                              "total": int(len(table)), "done": 0, "skipped": 0, "failed": 0,
                              "processed": 0, "pending": int(len(table)), "fraction": 0.0,
                              "throughput": 0.0, "eta_s": None, "settings": settings.as_dict()})
    return jobs.start_detached(cli_args(catalog_csv, folder, settings, options), folder, env=env)


# --- choosing which galaxies to fetch (used by the dashboard) --------------------------------

#: Ways to pick a subset, for :func:`choose_galaxies`.
SUBSET_MODES = ("all", "first", "random", "class", "selection")
FLAG_FILTERS = ("SPIRAL", "ELLIPTICAL", "UNCERTAIN")


def class_filters(table) -> list[str]:
    """Class filters a table supports: its GZ1 flags (``SPIRAL`` ...) and, when the six raw
    fractions are present, ``TOP:<column>`` = "that answer got the largest share of the votes"."""
    from core.schema import RAW_COLUMNS

    options = [f for f in FLAG_FILTERS if f in table.columns]
    if all(c in table.columns for c in RAW_COLUMNS):
        options += [f"TOP:{c}" for c in RAW_COLUMNS]
    return options


def choose_galaxies(table, mode: str = "all", n: int | None = None, seed: int = 0,
                    class_filter: str | None = None, objids: Iterable[str] | None = None):
    """Rows of ``table`` to download.

    ``mode``: ``all``; ``first`` n rows; ``random`` n rows (reproducible with ``seed``);
    ``class``: rows whose flag column is 1 (``class_filter`` = ``SPIRAL``, ``ELLIPTICAL``,
    ``UNCERTAIN``) or whose largest raw vote fraction is ``TOP:<column>`` (a class derived
    from the votes, ties go to the first column in Table-2 order); ``selection``: rows whose
    OBJID is in ``objids`` (e.g. the sky-map selection).
    """
    from core.schema import RAW_COLUMNS

    if mode not in SUBSET_MODES:
        raise ValueError(f"mode must be one of {SUBSET_MODES}, got {mode!r}")
    if mode in ("first", "random"):
        if n is None or n < 1:
            raise ValueError(f"{mode} needs a number of galaxies >= 1, got {n!r}")
        n = min(int(n), len(table))
        return table.head(n) if mode == "first" else table.sample(n=n, random_state=seed).sort_index()
    if mode == "class":
        if class_filter in FLAG_FILTERS and class_filter in table.columns:
            return table[table[class_filter] == 1]
        if class_filter and class_filter.startswith("TOP:") and class_filter[4:] in RAW_COLUMNS:
            top = table[list(RAW_COLUMNS)].to_numpy().argmax(axis=1)
            return table[top == RAW_COLUMNS.index(class_filter[4:])]
        raise ValueError(f"class filter {class_filter!r} is not available for this catalogue")
    if mode == "selection":
        wanted = {str(o) for o in (objids or [])}
        return table[table["OBJID"].astype(str).isin(wanted)]
    return table

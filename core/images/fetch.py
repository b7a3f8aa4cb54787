"""One cutout over HTTP: retries with backoff, a total deadline per request, every answer checked.

Each worker thread owns one :class:`Fetcher` (one HTTP session, one connection). A
request may take at most ``config.deadline`` seconds from its start to its last byte,
even when a server trickles a byte at a time: the body is read with ``read1``
(whatever has arrived), so the deadline is checked between every few bytes, and a
watchdog shuts the connection's socket down at the deadline, which also ends a
status line or headers that trickle; ``config.timeout`` bounds each silence. Timeouts, connection errors, HTTP 5xx/429 and damaged
answers (HTML, truncated, wrong size, blank) are retried up to
``config.max_attempts`` with exponential backoff and jitter; other 4xx are final.
So one galaxy takes at most ``config.worst_case_s`` seconds.

``slots``, when given, bounds the requests in flight: a slot is taken before each try and
given back after it (not held during the backoff). Anything with ``acquire(timeout=...)``
and ``release()`` works: a ``threading.Semaphore``, or a ``distributed.Semaphore`` shared
by a whole Dask cluster (:mod:`core.cluster.download`).
"""

from __future__ import annotations

import random
import socket
import threading
import time
from typing import Protocol

import requests
import urllib3
from requests.adapters import HTTPAdapter

from core.images.check import MAX_IMAGE_BYTES, InvalidImage, check_response
from core.images.cutouts import CutoutSettings
from core.images.download_config import DownloadConfig
from core.images.failures import Outcome, OutcomeStatus, host_of, network_reason, raw_error

USER_AGENT = "galaxy-zoo-morphology-dashboard/1.0 (python-requests; polite cutout downloader)"
_CHUNK = 64 * 1024


class RateLimiter:
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


class Slots(Protocol):
    """A counting semaphore: ``acquire(timeout=s)`` returns True once a slot is taken."""

    def acquire(self, timeout: float | None = None) -> bool: ...

    def release(self) -> object: ...


#: How often a thread waiting for a slot checks for cancellation, seconds.
SLOT_POLL_S = 0.25


class _Cancelled(Exception):
    """The job was cancelled while a body was arriving."""


class DeadlinePassed(Exception):
    """The request went past its total deadline (``config.deadline`` seconds)."""


def _recording_adapter(record) -> HTTPAdapter:
    """An adapter with one connection whose socket is passed to ``record`` each time it connects."""

    class Http(urllib3.connection.HTTPConnection):
        def connect(self) -> None:
            super().connect()
            record(self.sock)

    class Https(urllib3.connection.HTTPSConnection):
        def connect(self) -> None:
            super().connect()
            record(self.sock)

    class HttpPool(urllib3.HTTPConnectionPool):
        ConnectionCls = Http

    class HttpsPool(urllib3.HTTPSConnectionPool):
        ConnectionCls = Https

    adapter = HTTPAdapter(pool_connections=1, pool_maxsize=1, max_retries=0)
    adapter.poolmanager.pool_classes_by_scheme = {"http": HttpPool, "https": HttpsPool}
    return adapter


class Fetcher:
    """Fetches and checks one cutout at a time, with retries; one instance per worker thread."""

    def __init__(self, config: DownloadConfig, limiter: RateLimiter, cancel: threading.Event,
                 slots: Slots | None = None):
        self.config = config
        self.slots = slots
        self._fired: threading.Event | None = None  # the current try's watchdog flag
        self.cutout: CutoutSettings = config.cutout()
        self.limiter = limiter
        self.cancel = cancel
        self.rng = random.Random()
        self.session = requests.Session()
        self._sock: socket.socket | None = None  # the connection's socket, for the deadline watchdog
        adapter = _recording_adapter(self._record)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.session.headers["User-Agent"] = USER_AGENT

    def close(self) -> None:
        self.session.close()

    def _record(self, sock: socket.socket) -> None:
        self._sock = sock
        if self._fired is not None and self._fired.is_set():  # connected only after the deadline
            self._cut(self._fired)

    def _take_slot(self) -> bool:
        """Wait for a slot (True), or until the job is cancelled (False)."""
        if self.slots is None:
            return True
        while not self.cancel.is_set():
            if self.slots.acquire(timeout=SLOT_POLL_S):
                return True
        return False

    def _cut(self, fired: threading.Event) -> None:
        """The watchdog: the deadline passed, so end whatever read is blocked on the socket."""
        fired.set()
        sock = self._sock
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def fetch(self, outcome: Outcome) -> bytes | None:
        """Checked JPEG bytes from ``outcome.url``, or None with ``outcome.reason`` set.

        ``outcome.status`` becomes CANCELLED (reason "cancelled") when the job was cancelled. OSError from the
        local machine (not the network) is not caught here.
        """
        for attempt in range(1, self.config.max_attempts + 1):
            if self.cancel.is_set():
                outcome.status, outcome.reason = OutcomeStatus.CANCELLED, "cancelled"
                return None
            self.limiter.wait(self.cancel)
            try:
                if not self._take_slot():
                    raise _Cancelled()
                outcome.attempts = attempt
                try:
                    return self._attempt(outcome)
                finally:
                    if self.slots is not None:
                        self.slots.release()
            except _Cancelled:
                outcome.status, outcome.reason = OutcomeStatus.CANCELLED, "cancelled"
                return None
            except _Retry as retry:
                if not retry.retryable or attempt == self.config.max_attempts:
                    return None
                delay = self.config.backoff_delay(attempt, self.rng)
                if retry.retry_after is not None:
                    delay = max(delay, min(retry.retry_after, self.config.backoff_max))
                if self.cancel.wait(delay):
                    outcome.status, outcome.reason = OutcomeStatus.CANCELLED, "cancelled"
                    return None
        return None

    def _attempt(self, outcome: Outcome) -> bytes:
        """One request; raises :class:`_Retry` (with the outcome's reason set) when it fails."""
        fired = self._fired = threading.Event()
        watchdog = threading.Timer(self.config.deadline, self._cut, args=(fired,))
        watchdog.daemon = True
        watchdog.start()
        try:
            return self._attempt_once(outcome, fired)
        finally:
            watchdog.cancel()

    def _attempt_once(self, outcome: Outcome, fired: threading.Event) -> bytes:
        resp = None
        try:
            started = time.monotonic()
            with self.session.get(outcome.url, stream=True,
                                  timeout=(self.config.connect_timeout, self.config.timeout)) as resp:
                outcome.http_status = resp.status_code
                body = self._read_body(resp, started)
            check_response(resp.status_code, resp.headers.get("Content-Type"), body, self.cutout.size)
            return body
        except DeadlinePassed:
            raise self._too_slow(outcome) from None
        except InvalidImage as exc:
            if fired.is_set():  # a body cut short by the watchdog
                raise self._too_slow(outcome) from None
            outcome.reason, outcome.detail = exc.reason, exc.detail
            raise _Retry(exc.retryable, _retry_after(resp)) from None
        except requests.RequestException as exc:
            if fired.is_set():  # the watchdog cut the connection: say why, not how it broke
                raise self._too_slow(outcome) from None
            outcome.reason, outcome.detail = network_reason(exc, outcome.url, self.config), raw_error(exc)
            retryable = isinstance(exc, requests.Timeout | requests.ConnectionError
                                   | requests.exceptions.ChunkedEncodingError
                                   | requests.exceptions.ContentDecodingError)
            raise _Retry(retryable) from None

    def _too_slow(self, outcome: Outcome) -> _Retry:
        outcome.reason = f"{host_of(outcome.url)} took longer than {self.config.deadline:g} s to send the image"
        outcome.detail = "the total deadline per request passed"
        return _Retry(True)

    def _read_body(self, resp: requests.Response, started: float) -> bytes:
        """The body, at most MAX_IMAGE_BYTES, before ``started + config.deadline``."""
        chunks, size = [], 0
        limit = started + self.config.deadline
        raw = resp.raw
        while True:
            if time.monotonic() > limit:
                raise DeadlinePassed()
            try:
                chunk = raw.read1(_CHUNK, decode_content=True)
            except urllib3.exceptions.ReadTimeoutError as exc:
                raise requests.ReadTimeout(exc) from exc
            except (urllib3.exceptions.HTTPError, OSError) as exc:  # cut off or reset mid-body
                raise requests.exceptions.ChunkedEncodingError(exc) from exc
            if not chunk:
                break
            size += len(chunk)
            if size > MAX_IMAGE_BYTES:
                raise InvalidImage(f"answer larger than {MAX_IMAGE_BYTES // (1024 * 1024)} MB")
            chunks.append(chunk)
            if self.cancel.is_set():
                raise _Cancelled()
        if time.monotonic() > limit:
            raise DeadlinePassed()
        return b"".join(chunks)


class _Retry(Exception):
    """An attempt failed; ``retryable`` says whether to try again."""

    def __init__(self, retryable: bool, retry_after: float | None = None):
        super().__init__()
        self.retryable = retryable
        self.retry_after = retry_after


def _retry_after(resp: requests.Response | None) -> float | None:
    value = resp.headers.get("Retry-After", "") if resp is not None else ""
    try:
        return float(value) if value else None
    except ValueError:
        return None

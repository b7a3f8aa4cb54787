"""Why a galaxy has no image, in plain words, and the job's ``failures.csv``.

``REASON`` is written for people ("could not reach skyserver.sdss.org (name not
resolved)", "server answered HTTP 503"); ``DETAIL`` keeps the raw error for whoever
debugs it. Text cells that a spreadsheet would run as a formula are neutralised
(:mod:`core.csv_safety`), since OBJIDs, reasons and URLs may come from outside.
"""

from __future__ import annotations

import csv
import io
import math
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from urllib.parse import urlsplit

import requests

from core.atomic import write_bytes_atomic
from core.csv_safety import safe_row
from core.schema import POSITION_COLUMNS

FAILURES_NAME = "failures.csv"
FAILURE_COLUMNS = (*POSITION_COLUMNS, "REASON", "ATTEMPTS", "HTTP_STATUS", "URL", "DETAIL")


@dataclass(frozen=True)
class Target:
    """One galaxy to fetch: OBJID as given (checked later), position in decimal degrees."""

    objid: str
    ra: float
    dec: float


class OutcomeStatus(StrEnum):
    """What happened to one galaxy of a download (:attr:`Outcome.status`); the value is the word counted."""

    DOWNLOADED = "downloaded"
    SKIPPED = "skipped"  # a valid image was already in the folder (never replaced)
    FAILED = "failed"
    CANCELLED = "cancelled"  # the job was cancelled first: the galaxy stays pending for a later job


#: The outcomes a job counts, in report order (a cancelled galaxy is not counted: it stays pending).
COUNTED_OUTCOMES: tuple[OutcomeStatus, ...] = (OutcomeStatus.DOWNLOADED, OutcomeStatus.SKIPPED,
                                               OutcomeStatus.FAILED)


def outcome_counts(failed: int = 0) -> dict[str, int]:
    """Zero counts of :data:`COUNTED_OUTCOMES` (plain-str keys, as job state and Dask messages carry them)."""
    return {str(s): (failed if s == OutcomeStatus.FAILED else 0) for s in COUNTED_OUTCOMES}


@dataclass
class Outcome:
    """What happened to one galaxy (:class:`OutcomeStatus`).

    ``reason`` is plain words for people; ``detail`` the raw error behind it.
    """

    objid: str
    ra: float
    dec: float
    status: OutcomeStatus
    reason: str = ""
    attempts: int = 0
    http_status: int | None = None
    url: str = ""
    detail: str = ""


def host_of(url: str) -> str:
    """The host name of a URL (``skyserver.sdss.org``), or the URL itself when it has none."""
    return urlsplit(url).hostname or url


def raw_error(exc: BaseException) -> str:
    """The innermost cause of a requests error as ``Type: message`` (at most 300 characters)."""
    inner: BaseException = exc
    for _ in range(10):
        nested = [inner.__cause__, getattr(inner, "reason", None), *inner.args]
        deeper = next((e for e in nested if isinstance(e, BaseException)), None)
        if deeper is None:
            break
        inner = deeper
    text = f"{type(exc).__name__} > {type(inner).__name__}: {inner}" if inner is not exc else f"{exc!r}"
    return text[:300]


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    todo: list[BaseException] = [exc]
    while todo and len(seen) < 20:
        e = todo.pop()
        if e in seen:
            continue
        seen.append(e)
        todo += [x for x in (e.__cause__, e.__context__, getattr(e, "reason", None), *e.args)
                 if isinstance(x, BaseException)]
    return seen


def network_reason(exc: requests.RequestException, url: str, config) -> str:
    """Plain words for a failed request (``config`` gives the timeouts, in seconds)."""
    host = host_of(url)
    chain = _chain(exc)
    text = " ".join(str(e) for e in chain).lower()
    if any(isinstance(e, socket.gaierror) for e in chain) or "name resolution" in text \
            or "name or service not known" in text or "nodename nor servname" in text:
        return f"could not reach {host} (name not resolved)"
    if isinstance(exc, requests.ConnectTimeout):
        return f"could not reach {host} (no connection within {config.connect_timeout:g} s)"
    if isinstance(exc, requests.ReadTimeout):
        return f"{host} sent nothing for {config.timeout:g} s"
    if any(isinstance(e, ConnectionRefusedError) for e in chain) or "refused" in text:
        return f"could not reach {host} (connection refused)"
    if any(isinstance(e, ConnectionResetError) for e in chain) or "reset by peer" in text:
        return f"{host} dropped the connection"
    if isinstance(exc, requests.exceptions.ChunkedEncodingError) or "incompleteread" in text \
            or "ended prematurely" in text:
        return f"{host} closed the connection before the whole image arrived"
    if isinstance(exc, requests.ConnectionError):
        return f"could not reach {host} (connection failed)"
    return f"the request to {host} failed"


def write_failures(folder: Path, failures: Iterable[Outcome]) -> Path:
    """Write ``<folder>/failures.csv`` (columns :data:`FAILURE_COLUMNS`) atomically; returns its path."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(FAILURE_COLUMNS)
    for f in failures:
        writer.writerow(safe_row([f.objid, _coord(f.ra), _coord(f.dec), f.reason, f.attempts,
                                  "" if f.http_status is None else f.http_status, f.url, f.detail]))
    return write_bytes_atomic(Path(folder) / FAILURES_NAME, buf.getvalue().encode("utf-8"))


def _coord(value: float) -> str:
    return f"{value:.7f}" if math.isfinite(value) else ""


def read_failures(folder: Path) -> list[dict[str, str]]:
    """Rows of the folder's ``failures.csv`` (empty list if there is none or it cannot be read)."""
    path = Path(folder) / FAILURES_NAME
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            return list(csv.DictReader(fh))
    except (OSError, UnicodeDecodeError, csv.Error):
        return []


def all_failed_summary(failed: int, processed: int, failures: list[dict[str, str]], first: int = 3) -> str | None:
    """Plain words for a download in which every galaxy it tried failed (None otherwise).

    ``failed``/``processed`` are the job's counts; ``failures`` the rows of its ``failures.csv``. The
    most frequent reasons come first (at most ``first``), then what to do without a network.
    """
    if failed <= 0 or failed != processed:
        return None
    reasons: dict[str, int] = {}
    for row in failures:
        reason = str(row.get("REASON") or "").strip() or "no reason recorded"
        reasons[reason] = reasons.get(reason, 0) + 1
    top = sorted(reasons.items(), key=lambda kv: -kv[1])[:first]
    why = "; ".join(f"{r} ({n:,})" for r, n in top) or "no reason recorded"
    return (f"All {failed:,} downloads failed. First reasons: {why}. This machine may be offline or the "
            "service unreachable: import images instead (below: import the built-in images, or a folder "
            "or zip of <OBJID>.jpg files), then retry when the network is back.")

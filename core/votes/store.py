"""Recording visitor votes: the database engine, one vote, undo, the rate limit, a session's votes.

The database is named by ``settings.votes_url`` (``GZ_VOTES_URL``): by default one SQLite
file under ``GZ_HOME``, opened in WAL mode with a busy timeout so several dashboard
processes can write at once; or PostgreSQL (``postgresql+psycopg://...``) when several
replicas share one database. The schema is created or upgraded on first use
(:func:`core.votes.migrations.ensure_schema`); nothing needs setting up by hand.

Rules enforced here, for the page, the CLI and any script alike: a galaxy ID is an
18-digit SDSS DR7 objid kept as text; an answer is one of the six GZ1 answers; one
session votes at most once per galaxy; and at most ``settings.votes_per_minute``
votes per session in any 60 s.
"""

from __future__ import annotations

import re
import secrets
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from core.config import get_settings
from core.votes.answers import answer_for
from core.votes.migrations import ensure_schema, votes

#: An SDSS DR7 objid as GZ1 used it: exactly 18 digits, stored as text (never a float).
GALAXY_ID_PATTERN = re.compile(r"\d{18}")
#: Anonymous session IDs: URL-safe random tokens.
SESSION_PATTERN = re.compile(r"[A-Za-z0-9_-]{8,64}")
#: Length of the rate-limit window, seconds.
RATE_WINDOW_S = 60.0
#: How long a SQLite writer waits for another one, milliseconds.
SQLITE_BUSY_TIMEOUT_MS = 60_000

_engines: dict[str, Engine] = {}
_engines_lock = threading.Lock()


@dataclass(frozen=True)
class Vote:
    """One stored vote; ``created_at`` in seconds since the Unix epoch (UTC)."""

    id: int
    galaxy_id: str
    answer: str
    session_id: str
    created_at: float
    source: str


class VoteRejected(ValueError):
    """A vote that cannot be recorded; the message says which field and why."""


class RateLimited(VoteRejected):
    """The session has cast its votes for this minute; ``retry_after_s`` seconds until the next one."""

    def __init__(self, message: str, retry_after_s: float):
        super().__init__(message)
        self.retry_after_s = retry_after_s


def _sqlite_engine(url: sa.URL) -> Engine:
    if url.database and url.database != ":memory:":
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(url)

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves (below)
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA journal_mode = WAL")
        cur.execute("PRAGMA synchronous = NORMAL")
        cur.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(conn):
        # Take the write lock at the start: a read-then-write transaction (the rate limit)
        # would otherwise fail at once with "database is locked" instead of waiting.
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def make_engine(url: str) -> Engine:
    """A new engine for ``url`` with the schema ensured (use :func:`get_engine` to share one)."""
    parsed = sa.make_url(url)
    if parsed.get_backend_name() == "sqlite":
        engine = _sqlite_engine(parsed)
    else:
        engine = sa.create_engine(parsed, pool_pre_ping=True)
    ensure_schema(engine)
    return engine


def get_engine(url: str | None = None) -> Engine:
    """The process-wide engine for ``url`` (default ``settings.votes_url``), created once."""
    url = url or get_settings().votes_url
    with _engines_lock:
        if url not in _engines:
            _engines[url] = make_engine(url)
        return _engines[url]


def new_session_id() -> str:
    """A fresh anonymous session ID (22 URL-safe random characters)."""
    return secrets.token_urlsafe(16)


def _check(session_id: str, galaxy_id: str, answer: str) -> None:
    if not isinstance(session_id, str) or not SESSION_PATTERN.fullmatch(session_id):
        raise VoteRejected("session ID must be 8-64 letters, digits, '-' or '_'")
    if not isinstance(galaxy_id, str) or not GALAXY_ID_PATTERN.fullmatch(galaxy_id):
        raise VoteRejected(f"galaxy ID {str(galaxy_id)[:40]!r} is not an 18-digit SDSS objid")
    try:
        answer_for(answer)
    except ValueError as exc:
        raise VoteRejected(str(exc)) from None


def record_vote(engine: Engine, session_id: str, galaxy_id: str, answer: str, source: str = "unknown",
                per_minute: int | None = None, now: float | None = None) -> Vote:
    """Store one vote and return it.

    Raises :class:`VoteRejected` for a bad field or a second vote of this session on this
    galaxy, and :class:`RateLimited` when the session already cast ``per_minute`` votes
    (default ``settings.votes_per_minute``) in the last 60 s. The checks and the insert
    run in one transaction, serialised per session (so racing requests cannot both pass).
    """
    _check(session_id, galaxy_id, answer)
    limit = get_settings().votes_per_minute if per_minute is None else per_minute
    now = time.time() if now is None else now
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":  # SQLite is serialised by BEGIN IMMEDIATE already
            # One writer per session at a time, so two racing clicks cannot both pass the checks.
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext(:s))"), {"s": session_id})
        recent = conn.execute(
            sa.select(votes.c.created_at).where(votes.c.session_id == session_id,
                                                votes.c.created_at > now - RATE_WINDOW_S)
            .order_by(votes.c.created_at)).scalars().all()
        if len(recent) >= limit:
            wait = max(0.0, recent[len(recent) - limit] + RATE_WINDOW_S - now)
            raise RateLimited(f"at most {limit} votes a minute; next vote in {wait:.0f} s", wait)
        dup = conn.execute(sa.select(votes.c.id).where(votes.c.session_id == session_id,
                                                       votes.c.galaxy_id == galaxy_id).limit(1)).first()
        if dup is not None:
            raise VoteRejected(f"this session already voted on galaxy {galaxy_id}")
        row = {"galaxy_id": galaxy_id, "answer": answer, "session_id": session_id, "created_at": now,
               "source": str(source)[:200]}
        new_id = conn.execute(votes.insert().values(**row).returning(votes.c.id)).scalar_one()
    return Vote(id=int(new_id), **row)


def undo_last(engine: Engine, session_id: str) -> Vote | None:
    """Delete the session's most recent vote and return it (None when it has none)."""
    with engine.begin() as conn:
        row = conn.execute(sa.select(votes).where(votes.c.session_id == session_id)
                           .order_by(votes.c.id.desc()).limit(1)).mappings().first()
        if row is None:
            return None
        conn.execute(votes.delete().where(votes.c.id == row["id"]))
    return Vote(**dict(row))


def session_votes(engine: Engine, session_id: str) -> list[Vote]:
    """The session's votes, oldest first."""
    with engine.begin() as conn:
        rows = conn.execute(sa.select(votes).where(votes.c.session_id == session_id)
                            .order_by(votes.c.id)).mappings().all()
    return [Vote(**dict(r)) for r in rows]

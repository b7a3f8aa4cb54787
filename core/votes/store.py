"""Recording visitor votes: the database engine, one vote, undo, the rate limit, a session's or client's votes.

The database is named by ``settings.votes_url`` (``GZ_VOTES_URL``): by default one SQLite
file under ``GZ_HOME``, opened in WAL mode with a busy timeout so several dashboard
processes can write at once; or PostgreSQL (``postgresql+psycopg://...``) when several
replicas share one database. The schema is created or upgraded on first use
(:func:`core.votes.migrations.ensure_schema`); nothing needs setting up by hand.

Rules enforced here, for the page, the CLI and any script alike: a galaxy ID is an
18-digit SDSS DR7 objid kept as text; an answer is one of the six GZ1 answers; one
*client* (:mod:`core.votes.clients`: the visitor's address as a keyed hash, so it
survives reloads, tabs and processes) votes at most once per galaxy – also a unique
index, so no path around this module can break it – and casts at most
``settings.votes_per_minute`` votes in any 60 s, counted from the stored votes. A vote
cast without a client key counts its session (one tab) as the client.
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
from core.votes.clients import CLIENT_KEY_PATTERN
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
    client_key: str = ""


class VoteRejected(ValueError):
    """A vote that cannot be recorded; the message says which field and why."""


class AlreadyVoted(VoteRejected):
    """This client (or session) has already voted on ``galaxy_id``."""

    def __init__(self, galaxy_id: str):
        super().__init__(f"you already voted on this galaxy ({galaxy_id})")
        self.galaxy_id = galaxy_id


class RateLimited(VoteRejected):
    """The client has cast its votes for this minute: ``recent`` votes in the last 60 s, at most
    ``limit``; ``retry_after_s`` seconds until the next one."""

    def __init__(self, recent: int, limit: int, retry_after_s: float):
        super().__init__(f"slow down: {recent} votes in the last minute (at most {limit} votes a minute); "
                         f"next vote in {retry_after_s:.0f} s")
        self.recent, self.limit, self.retry_after_s = recent, limit, retry_after_s


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


def _check(session_id: str, galaxy_id: str, answer: str, client_key: str) -> None:
    if not isinstance(session_id, str) or not SESSION_PATTERN.fullmatch(session_id):
        raise VoteRejected("session ID must be 8-64 letters, digits, '-' or '_'")
    if not isinstance(client_key, str) or not CLIENT_KEY_PATTERN.fullmatch(client_key):
        raise VoteRejected("client key must come from core.votes.clients.client_key")
    if not isinstance(galaxy_id, str) or not GALAXY_ID_PATTERN.fullmatch(galaxy_id):
        raise VoteRejected(f"galaxy ID {str(galaxy_id)[:40]!r} is not an 18-digit SDSS objid")
    try:
        answer_for(answer)
    except ValueError as exc:
        raise VoteRejected(str(exc)) from None


def session_client_key(session_id: str) -> str:
    """The client key of a vote cast without one: its session (one tab) is the client."""
    return f"session:{session_id}"


def record_vote(engine: Engine, session_id: str, galaxy_id: str, answer: str, source: str = "unknown",
                per_minute: int | None = None, now: float | None = None, client_key: str | None = None) -> Vote:
    """Store one vote of ``client_key`` (default :func:`session_client_key`) and return it.

    Raises :class:`VoteRejected` for a bad field, :class:`AlreadyVoted` for a second vote of
    this client or this session on this galaxy, and :class:`RateLimited` when the client already
    cast ``per_minute`` votes (default ``settings.votes_per_minute``) in the last 60 s. The checks
    and the insert run in one transaction, serialised per client (so racing requests cannot both
    pass), and the unique index on (client, galaxy) backs the first rule.
    """
    client_key = session_client_key(session_id) if client_key is None else client_key
    _check(session_id, galaxy_id, answer, client_key)
    limit = get_settings().votes_per_minute if per_minute is None else per_minute
    now = time.time() if now is None else now
    try:
        with engine.begin() as conn:
            if conn.dialect.name == "postgresql":  # SQLite is serialised by BEGIN IMMEDIATE already
                # One writer per client at a time, so two racing clicks cannot both pass the checks.
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext(:s))"), {"s": client_key})
            recent = conn.execute(
                sa.select(votes.c.created_at).where(votes.c.client_key == client_key,
                                                    votes.c.created_at > now - RATE_WINDOW_S)
                .order_by(votes.c.created_at)).scalars().all()
            if len(recent) >= limit:
                wait = recent[len(recent) - limit] + RATE_WINDOW_S - now if limit > 0 else RATE_WINDOW_S
                raise RateLimited(len(recent), limit, max(0.0, wait))
            dup = conn.execute(sa.select(votes.c.id).where(
                sa.or_(votes.c.client_key == client_key, votes.c.session_id == session_id),
                votes.c.galaxy_id == galaxy_id).limit(1)).first()
            if dup is not None:
                raise AlreadyVoted(galaxy_id)
            row = {"galaxy_id": galaxy_id, "answer": answer, "session_id": session_id, "created_at": now,
                   "source": str(source)[:200], "client_key": client_key}
            new_id = conn.execute(votes.insert().values(**row).returning(votes.c.id)).scalar_one()
    except sa.exc.IntegrityError:  # the unique index: a writer that bypassed the lock got there first
        raise AlreadyVoted(galaxy_id) from None
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


def client_votes(engine: Engine, client_key: str) -> list[Vote]:
    """The client's votes (all its tabs and reloads), oldest first."""
    with engine.begin() as conn:
        rows = conn.execute(sa.select(votes).where(votes.c.client_key == client_key)
                            .order_by(votes.c.id)).mappings().all()
    return [Vote(**dict(r)) for r in rows]

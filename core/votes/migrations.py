"""The votes schema, its version table and the upgrade path from every older version.

Versions:

* **1** – ``votes(id, galaxy_id, answer, session_id, created_at)``.
* **2** – adds ``votes.source`` (which image set the galaxy was shown from; ``unknown``
  for rows written by version 1) and indexes on ``session_id`` and ``created_at``
  for the per-session queries and the rate limit.
* **3** – adds ``votes.client_key`` (who voted, see :mod:`core.votes.clients`; ``session:<session_id>``
  for older rows, which were counted per session), a unique index on (``client_key``, ``galaxy_id``)
  – one vote per galaxy and client, enforced by the database – and an index on (``client_key``,
  ``created_at``) for the per-client rate limit. Older rows that would break the unique index (a second
  vote of one session on one galaxy) are moved, whole, to ``votes_set_aside``, never deleted.

``schema_version`` holds one row with the version in use. :func:`ensure_schema` creates
the current schema on an empty database and upgrades an older one step by step, each
step in one transaction, so a crash leaves the database at a whole version.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

#: The version this code writes.
CURRENT_VERSION = 3

metadata = sa.MetaData()


def _vote_columns(indexed: bool) -> list[sa.Column]:
    """The columns of version 1's ``votes``; ``indexed`` adds version 2's per-session/time indexes."""
    return [
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("galaxy_id", sa.String(18), nullable=False, index=True),
        sa.Column("answer", sa.String(24), nullable=False),
        sa.Column("session_id", sa.String(64), nullable=False, index=indexed),
        sa.Column("created_at", sa.Float, nullable=False, index=indexed),
    ]


def _session_client(context) -> str:
    """Default ``client_key`` of a row inserted without one: its session, as in versions 1-2."""
    return f"session:{context.get_current_parameters()['session_id']}"


#: Length of ``votes.client_key`` (``session:`` + a 64-character session ID at most).
CLIENT_KEY_LENGTH = 72

#: One vote per row. ``created_at``: seconds since the Unix epoch (UTC), float; ``client_key``: who
#: voted (a keyed hash, never an address), at most one vote per galaxy each.
votes = sa.Table(
    "votes", metadata, *_vote_columns(indexed=True),
    sa.Column("source", sa.String(200), nullable=False, server_default="unknown"),
    sa.Column("client_key", sa.String(CLIENT_KEY_LENGTH), nullable=False, default=_session_client),
    sa.Index("uq_votes_client_galaxy", "client_key", "galaxy_id", unique=True),
    sa.Index("ix_votes_client_created", "client_key", "created_at"),
)

#: Rows an upgrade could not keep in ``votes`` (a second vote of one client on one galaxy), kept whole;
#: ``set_aside_at``: when (s since the epoch, UTC); ``reason``: why, in words.
votes_set_aside = sa.Table(
    "votes_set_aside", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("galaxy_id", sa.String(18), nullable=False),
    sa.Column("answer", sa.String(24), nullable=False),
    sa.Column("session_id", sa.String(64), nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("source", sa.String(200), nullable=False),
    sa.Column("client_key", sa.String(CLIENT_KEY_LENGTH), nullable=False),
    sa.Column("set_aside_at", sa.Float, nullable=False),
    sa.Column("reason", sa.String(200), nullable=False),
)

schema_version = sa.Table(
    "schema_version", metadata,
    sa.Column("version", sa.Integer, nullable=False),
)


_metadata_v1 = sa.MetaData()
_votes_v1 = sa.Table("votes", _metadata_v1, *_vote_columns(indexed=False))
sa.Table("schema_version", _metadata_v1, sa.Column("version", sa.Integer, nullable=False))


def create_v1(conn: Connection) -> None:
    """Version 1 as it was shipped (used by the upgrade tests to build an old database)."""
    _metadata_v1.create_all(conn)
    conn.execute(schema_version.insert().values(version=1))


def create_v2(conn: Connection) -> None:
    """Version 2 as it was shipped (for the upgrade tests)."""
    create_v1(conn)
    _v1_to_v2(conn)
    conn.execute(schema_version.update().values(version=2))


def _v1_to_v2(conn: Connection) -> None:
    conn.execute(sa.text("ALTER TABLE votes ADD COLUMN source VARCHAR(200) NOT NULL DEFAULT 'unknown'"))
    conn.execute(sa.text("CREATE INDEX ix_votes_session_id ON votes (session_id)"))
    conn.execute(sa.text("CREATE INDEX ix_votes_created_at ON votes (created_at)"))


def _v2_to_v3(conn: Connection) -> None:
    conn.execute(sa.text(f"ALTER TABLE votes ADD COLUMN client_key VARCHAR({CLIENT_KEY_LENGTH}) NOT NULL "
                         "DEFAULT ''"))
    conn.execute(sa.text("UPDATE votes SET client_key = 'session:' || session_id"))
    if conn.dialect.name == "postgresql":  # SQLite cannot drop a default; rows always get a key anyway
        conn.execute(sa.text("ALTER TABLE votes ALTER COLUMN client_key DROP DEFAULT"))
    votes_set_aside.create(conn)
    first = sa.select(sa.func.min(votes.c.id)).group_by(votes.c.client_key, votes.c.galaxy_id)
    extra = sa.select(votes.c.id, votes.c.galaxy_id, votes.c.answer, votes.c.session_id, votes.c.created_at,
                      votes.c.source, votes.c.client_key,
                      sa.literal(time.time(), sa.Float).label("set_aside_at"),
                      sa.literal("a second vote of one session on one galaxy (schema 3 upgrade)",
                                 sa.String).label("reason")).where(votes.c.id.not_in(first))
    conn.execute(votes_set_aside.insert().from_select([c.name for c in votes_set_aside.c], extra))
    conn.execute(votes.delete().where(votes.c.id.in_(sa.select(votes_set_aside.c.id))))
    conn.execute(sa.text("CREATE UNIQUE INDEX uq_votes_client_galaxy ON votes (client_key, galaxy_id)"))
    conn.execute(sa.text("CREATE INDEX ix_votes_client_created ON votes (client_key, created_at)"))


#: from-version -> the step that brings the schema to from-version + 1.
UPGRADES: dict[int, Callable[[Connection], None]] = {1: _v1_to_v2, 2: _v2_to_v3}


def read_version(conn: Connection) -> int | None:
    """The schema version, or None on a database without the votes tables."""
    names = set(sa.inspect(conn).get_table_names())
    if "schema_version" not in names:
        if "votes" in names:
            raise RuntimeError("votes database: a votes table without schema_version; not a database "
                               "this dashboard made")
        return None
    value = conn.execute(sa.select(schema_version.c.version)).scalar()
    return int(value) if value is not None else None


#: Key of the PostgreSQL advisory lock that serialises schema changes across replicas.
_SCHEMA_LOCK_KEY = 13_0001


def _serialise(conn: Connection) -> None:
    """Hold a lock for the rest of the transaction (SQLite already serialises: BEGIN IMMEDIATE)."""
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _SCHEMA_LOCK_KEY})


def ensure_schema(engine: Engine) -> int:
    """Create or upgrade the schema to :data:`CURRENT_VERSION`; return the version found before (0: new)."""
    with engine.begin() as conn:
        _serialise(conn)
        found = read_version(conn)
        if found is None:
            metadata.create_all(conn)
            conn.execute(schema_version.insert().values(version=CURRENT_VERSION))
            return 0
    if found > CURRENT_VERSION:
        raise RuntimeError(f"votes database is at schema version {found}, newer than this code "
                           f"({CURRENT_VERSION}); update the dashboard")
    version = found
    while version < CURRENT_VERSION:
        with engine.begin() as conn:
            _serialise(conn)
            if read_version(conn) != version:  # another process upgraded meanwhile
                version = read_version(conn) or version
                continue
            UPGRADES[version](conn)
            conn.execute(schema_version.update().values(version=version + 1))
            version += 1
    return found

"""Schema versions: a new database starts at the current version; an old one is upgraded, data kept."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from core.votes.migrations import CURRENT_VERSION, create_v1, ensure_schema, read_version, schema_version
from core.votes.store import make_engine, record_vote, session_votes

V1_ROWS = [
    ("587722982276399181", "ELLIPTICAL", "old-session-1", 1000.5),
    ("587722982276399182", "MERGER", "old-session-1", 1001.5),
    ("587722982276399181", "EDGE_ON", "old-session-2", 1002.5),
]


def _version(engine) -> int | None:
    with engine.connect() as conn:
        return read_version(conn)


def test_new_database_is_created_at_the_current_version(votes_url):
    engine = make_engine(votes_url)
    assert _version(engine) == CURRENT_VERSION == 2
    assert ensure_schema(engine) == CURRENT_VERSION  # idempotent: nothing to do
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(schema_version)).scalar() == 1


def test_version_1_database_is_upgraded_and_keeps_its_votes(votes_url):
    engine = sa.create_engine(votes_url)
    with engine.begin() as conn:
        create_v1(conn)
        for row in V1_ROWS:
            conn.execute(sa.text("INSERT INTO votes (galaxy_id, answer, session_id, created_at) "
                                 "VALUES (:g, :a, :s, :t)"), dict(zip("gast", row, strict=True)))
    engine.dispose()

    upgraded = make_engine(votes_url)  # opening runs the upgrade
    assert _version(upgraded) == 2
    with upgraded.connect() as conn:
        rows = conn.execute(sa.text("SELECT galaxy_id, answer, session_id, created_at, source FROM votes "
                                    "ORDER BY id")).all()
        indexes = {ix["name"] for ix in sa.inspect(conn).get_indexes("votes")}
    assert [tuple(r[:4]) for r in rows] == V1_ROWS
    assert {r[4] for r in rows} == {"unknown"}
    assert {"ix_votes_session_id", "ix_votes_created_at"} <= indexes
    # the upgraded database takes new votes with their image source, and old votes count for the session
    record_vote(upgraded, "old-session-1", "587722982276399183", "DONT_KNOW", source="downloaded")
    assert [v.source for v in session_votes(upgraded, "old-session-1")] == ["unknown", "unknown", "downloaded"]


def test_newer_schema_is_refused(votes_url):
    engine = make_engine(votes_url)
    with engine.begin() as conn:
        conn.execute(schema_version.update().values(version=CURRENT_VERSION + 1))
    with pytest.raises(RuntimeError, match="newer than this code"):
        ensure_schema(engine)

"""Schema versions: a new database starts at the current version; an old one is upgraded, data kept."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from core.votes.migrations import (
    CURRENT_VERSION,
    create_v1,
    create_v2,
    ensure_schema,
    read_version,
    schema_version,
    votes_set_aside,
)
from core.votes.store import AlreadyVoted, client_votes, make_engine, record_vote, session_votes

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
    assert _version(engine) == CURRENT_VERSION == 3
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
    assert _version(upgraded) == 3
    with upgraded.connect() as conn:
        rows = conn.execute(sa.text("SELECT galaxy_id, answer, session_id, created_at, source, client_key FROM votes "
                                    "ORDER BY id")).all()
        indexes = {ix["name"] for ix in sa.inspect(conn).get_indexes("votes")}
    assert [tuple(r[:4]) for r in rows] == V1_ROWS
    assert {r[4] for r in rows} == {"unknown"}
    assert [r[5] for r in rows] == [f"session:{r[2]}" for r in V1_ROWS]  # old votes: one client per session
    assert {"ix_votes_session_id", "ix_votes_created_at", "uq_votes_client_galaxy", "ix_votes_client_created"} <= indexes
    # the upgraded database takes new votes with their image source, and old votes count for the session
    record_vote(upgraded, "old-session-1", "587722982276399183", "DONT_KNOW", source="downloaded")
    assert [v.source for v in session_votes(upgraded, "old-session-1")] == ["unknown", "unknown", "downloaded"]


def test_version_2_database_gets_client_keys_and_its_duplicates_set_aside(votes_url):
    """A version-2 database whose one session voted twice on a galaxy (a direct insert, or a race of
    an old version): the first vote stays, the second is moved whole to votes_set_aside, nothing is
    lost, and the unique index (one vote per galaxy and client) holds from then on."""
    engine = sa.create_engine(votes_url)
    rows = [*V1_ROWS, ("587722982276399181", "MERGER", "old-session-1", 1003.5)]  # old-session-1's 2nd vote on ...181
    with engine.begin() as conn:
        create_v2(conn)
        for row in rows:
            conn.execute(sa.text("INSERT INTO votes (galaxy_id, answer, session_id, created_at, source) "
                                 "VALUES (:g, :a, :s, :t, 'downloaded')"), dict(zip("gast", row, strict=True)))
    engine.dispose()

    upgraded = make_engine(votes_url)
    assert _version(upgraded) == 3
    with upgraded.connect() as conn:
        kept = conn.execute(sa.text("SELECT galaxy_id, answer, session_id, created_at, client_key FROM votes "
                                    "ORDER BY id")).all()
        aside = conn.execute(sa.select(votes_set_aside)).mappings().all()
    assert [tuple(r[:4]) for r in kept] == V1_ROWS
    assert [(a["galaxy_id"], a["answer"], a["session_id"], a["created_at"], a["source"], a["client_key"])
            for a in aside] == [(*rows[3], "downloaded", "session:old-session-1")]
    assert "second vote" in aside[0]["reason"]
    # from now on the database itself refuses a second vote of one client on one galaxy
    with pytest.raises(sa.exc.IntegrityError), upgraded.begin() as conn:
        conn.execute(sa.text("INSERT INTO votes (galaxy_id, answer, session_id, created_at, source, client_key) "
                             "VALUES ('587722982276399181', 'MERGER', 'other-tab-1', 2000.0, 'x', "
                             "'session:old-session-2')"))
    with pytest.raises(AlreadyVoted):
        record_vote(upgraded, "old-session-2", "587722982276399181", "MERGER")
    # a vote with the new kind of key joins an old client's votes by that key only
    key = "ip-" + "0" * 32
    record_vote(upgraded, "new-tab-0001", "587722982276399181", "MERGER", client_key=key)
    assert [v.session_id for v in client_votes(upgraded, key)] == ["new-tab-0001"]


def test_newer_schema_is_refused(votes_url):
    engine = make_engine(votes_url)
    with engine.begin() as conn:
        conn.execute(schema_version.update().values(version=CURRENT_VERSION + 1))
    with pytest.raises(RuntimeError, match="newer than this code"):
        ensure_schema(engine)

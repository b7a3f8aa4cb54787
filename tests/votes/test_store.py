"""The votes database on SQLite and PostgreSQL: recording, undo, the rate limit, concurrency, per-client rules."""

from __future__ import annotations

import multiprocessing
import time

import pytest
import sqlalchemy as sa

from core.votes.aggregate import export_frame, summary
from core.votes.answers import ANSWERS
from core.votes.clients import client_key
from core.votes.migrations import votes
from core.votes.store import (
    AlreadyVoted,
    RateLimited,
    VoteRejected,
    client_votes,
    make_engine,
    new_session_id,
    record_vote,
    session_votes,
    undo_last,
)
from tests.votes.writer_process import BASE_ID, START_TIMEOUT, cast_votes

GALAXY = "587722982276399181"
SESSION = "session-aaaa"


def test_vote_is_stored_exactly(votes_url):
    engine = make_engine(votes_url)
    vote = record_vote(engine, SESSION, GALAXY, "CLOCKWISE_SPIRAL", source="built-in demo", now=1000.0)
    assert session_votes(engine, SESSION) == [vote]
    with engine.connect() as conn:
        row = conn.execute(sa.select(votes)).mappings().one()
    assert row["galaxy_id"] == GALAXY and isinstance(row["galaxy_id"], str)
    assert (row["answer"], row["session_id"], row["created_at"], row["source"]) == (
        "CLOCKWISE_SPIRAL", SESSION, 1000.0, "built-in demo")


@pytest.mark.parametrize("session, galaxy, answer, message", [
    ("short", GALAXY, "MERGER", "session ID"),
    (SESSION, "5877229822763991", "MERGER", "18-digit"),
    (SESSION, "5.877229822763992e17", "MERGER", "18-digit"),
    (SESSION, GALAXY, "SPIRAL", "not one of"),
])
def test_bad_votes_are_refused_with_the_field_named(votes_url, session, galaxy, answer, message):
    engine = make_engine(votes_url)
    with pytest.raises(VoteRejected, match=message):
        record_vote(engine, session, galaxy, answer)
    assert session_votes(engine, SESSION) == []


def test_one_vote_per_galaxy_and_session(votes_url):
    engine = make_engine(votes_url)
    record_vote(engine, SESSION, GALAXY, "MERGER")
    with pytest.raises(VoteRejected, match="already voted"):
        record_vote(engine, SESSION, GALAXY, "ELLIPTICAL")
    record_vote(engine, "session-bbbb", GALAXY, "ELLIPTICAL")  # another visitor may
    assert [v.answer for v in session_votes(engine, SESSION)] == ["MERGER"]


def test_undo_removes_only_the_last_vote_of_that_session(votes_url):
    engine = make_engine(votes_url)
    first = record_vote(engine, SESSION, GALAXY, "MERGER", now=10.0)
    other = record_vote(engine, "session-bbbb", "587722982276399182", "DONT_KNOW", now=11.0)
    second = record_vote(engine, SESSION, "587722982276399183", "EDGE_ON", now=12.0)
    assert undo_last(engine, SESSION) == second
    assert session_votes(engine, SESSION) == [first]
    assert session_votes(engine, "session-bbbb") == [other]
    # the undone galaxy can be voted on again
    again = record_vote(engine, SESSION, "587722982276399183", "CLOCKWISE_SPIRAL", now=13.0)
    assert [v.answer for v in session_votes(engine, SESSION)] == ["MERGER", "CLOCKWISE_SPIRAL"]
    assert undo_last(engine, SESSION) == again
    assert undo_last(engine, SESSION) == first
    assert undo_last(engine, SESSION) is None


def test_rate_limit_per_session_and_window(votes_url):
    engine = make_engine(votes_url)
    for k in range(3):
        record_vote(engine, SESSION, str(BASE_ID + k), "MERGER", per_minute=3, now=100.0 + k)
    with pytest.raises(RateLimited, match="slow down: 3 votes in the last minute") as refused:
        record_vote(engine, SESSION, str(BASE_ID + 3), "MERGER", per_minute=3, now=130.0)
    assert refused.value.retry_after_s == pytest.approx(30.0)
    assert (refused.value.recent, refused.value.limit) == (3, 3)
    assert len(session_votes(engine, SESSION)) == 3
    record_vote(engine, "session-bbbb", str(BASE_ID + 3), "MERGER", per_minute=3, now=130.0)  # others unaffected
    record_vote(engine, SESSION, str(BASE_ID + 3), "MERGER", per_minute=3, now=160.5)  # first vote left the window
    assert len(session_votes(engine, SESSION)) == 4


def test_rate_limit_default_comes_from_the_setting(votes_url, monkeypatch):
    monkeypatch.setenv("GZ_VOTES_PER_MINUTE", "2")
    engine = make_engine(votes_url)
    now = time.time()
    record_vote(engine, SESSION, str(BASE_ID), "MERGER", now=now)
    record_vote(engine, SESSION, str(BASE_ID + 1), "MERGER", now=now)
    with pytest.raises(RateLimited, match="at most 2 votes a minute"):
        record_vote(engine, SESSION, str(BASE_ID + 2), "MERGER", now=now)


def test_eight_processes_vote_at_once_and_none_is_lost(votes_url):
    workers, per_worker = 8, 200
    make_engine(votes_url).dispose()  # schema first, so the workers only write votes
    ctx = multiprocessing.get_context("spawn")
    with ctx.Manager() as manager, ctx.Pool(workers) as pool:
        start = manager.Barrier(workers)  # all workers imported and connected, then all vote at once
        results = pool.starmap(cast_votes, [(votes_url, w, per_worker, start) for w in range(workers)],
                               chunksize=1)
    assert results == [per_worker] * workers
    engine = make_engine(votes_url)
    with engine.connect() as conn:
        rows = conn.execute(sa.select(votes.c.session_id, votes.c.galaxy_id, votes.c.answer)).all()
    assert len(rows) == workers * per_worker
    expected = {(f"worker-{w:02d}-session", str(BASE_ID + w * 1000 + k), ANSWERS[(w + k) % 6].code)
                for w in range(workers) for k in range(per_worker)}
    assert set(map(tuple, rows)) == expected


def _burst(url: str, start, worker: int) -> list[str]:
    """One of several processes casting the same session's votes at the same instant (all released by the
    Barrier ``start``): three galaxies every process tries, then two of its own; the session may cast 7
    votes a minute."""
    engine = make_engine(url)
    engine.connect().close()
    galaxies = [str(BASE_ID + k) for k in range(3)] + [str(BASE_ID + 100 * (worker + 1) + k) for k in range(2)]
    start.wait(START_TIMEOUT)
    outcomes = []
    for galaxy in galaxies:
        try:
            record_vote(engine, SESSION, galaxy, "MERGER", per_minute=7)
            outcomes.append("stored")
        except RateLimited:
            outcomes.append("limited")
        except VoteRejected:
            outcomes.append("duplicate")
    engine.dispose()
    return outcomes


def test_racing_requests_of_one_session_cannot_beat_the_checks(votes_url):
    make_engine(votes_url).dispose()
    ctx = multiprocessing.get_context("spawn")
    with ctx.Manager() as manager, ctx.Pool(4) as pool:
        start = manager.Barrier(4)
        outcomes = sum(pool.starmap(_burst, [(votes_url, start, w) for w in range(4)], chunksize=1), [])
    stored = session_votes(make_engine(votes_url), SESSION)
    # 11 different galaxies were tried 20 times: exactly 7 votes (the limit), no galaxy twice
    assert len(stored) == outcomes.count("stored") == 7
    assert len({v.galaxy_id for v in stored}) == 7
    assert outcomes.count("duplicate") >= 1 and outcomes.count("limited") >= 1


CLIENT = client_key("203.0.113.7", "unused-session", b"k" * 32)
OTHER_CLIENT = client_key("198.51.100.9", "unused-session", b"k" * 32)


def test_fresh_session_ids_of_one_client_get_one_vote_per_galaxy(votes_url):
    """The ballot-stuffing case: 500 votes on one galaxy, each from a new session (a reload), one address."""
    engine = make_engine(votes_url)
    outcomes = []
    for k in range(500):
        try:
            record_vote(engine, new_session_id(), GALAXY, "MERGER", per_minute=10**6, now=1000.0 + k,
                        client_key=CLIENT)
            outcomes.append("stored")
        except AlreadyVoted as exc:
            assert "you already voted on this galaxy" in str(exc)
            outcomes.append("refused")
    assert outcomes.count("stored") == 1 and outcomes.count("refused") == 499
    assert len(client_votes(engine, CLIENT)) == 1
    assert export_frame(engine)["NVOTE"].tolist() == [1]  # one label vote, not 500


def test_rate_limit_holds_across_sessions_and_processes_of_one_client(votes_url):
    first, second = make_engine(votes_url), make_engine(votes_url)  # two engines: two dashboard processes
    record_vote(first, "tab-one-aaaa", str(BASE_ID), "MERGER", per_minute=3, now=100.0, client_key=CLIENT)
    record_vote(first, "tab-one-aaaa", str(BASE_ID + 1), "MERGER", per_minute=3, now=101.0, client_key=CLIENT)
    record_vote(second, "tab-two-bbbb", str(BASE_ID + 2), "MERGER", per_minute=3, now=102.0, client_key=CLIENT)
    with pytest.raises(RateLimited, match="slow down: 3 votes in the last minute") as refused:
        record_vote(second, "tab-two-bbbb", str(BASE_ID + 3), "MERGER", per_minute=3, now=110.0, client_key=CLIENT)
    assert refused.value.retry_after_s == pytest.approx(50.0)
    # another client is not slowed down; the first client may vote again once its first vote is 60 s old
    record_vote(second, "tab-three-cc", str(BASE_ID + 3), "MERGER", per_minute=3, now=110.0,
                client_key=OTHER_CLIENT)
    record_vote(second, "tab-two-bbbb", str(BASE_ID + 3), "MERGER", per_minute=3, now=160.5, client_key=CLIENT)
    assert [v.session_id for v in client_votes(first, CLIENT)] == ["tab-one-aaaa"] * 2 + ["tab-two-bbbb"] * 2


def test_two_clients_each_vote_once_and_the_export_counts_two(votes_url):
    engine = make_engine(votes_url)
    record_vote(engine, "tab-one-aaaa", GALAXY, "MERGER", client_key=CLIENT)
    record_vote(engine, "tab-two-bbbb", GALAXY, "ELLIPTICAL", client_key=OTHER_CLIENT)
    with pytest.raises(AlreadyVoted):  # a new tab of the first client
        record_vote(engine, "tab-three-cc", GALAXY, "MERGER", client_key=CLIENT)
    with pytest.raises(AlreadyVoted):  # the same tab under another address (a network change)
        record_vote(engine, "tab-one-aaaa", GALAXY, "MERGER", client_key=client_key("192.0.2.1", "x", b"k" * 32))
    row = export_frame(engine, min_votes=2).to_dict("records")
    assert [(r["OBJID"], r["NVOTE"], r["P_MG"], r["P_EL"]) for r in row] == [(GALAXY, 2, 0.5, 0.5)]
    stats = summary(engine)
    assert (stats["votes"], stats["sessions"], stats["clients"]) == (2, 2, 2)


def test_a_client_key_that_is_not_one_is_refused(votes_url):
    engine = make_engine(votes_url)
    for bad in ("203.0.113.7", "ip-XYZ", "", "session:short"):
        with pytest.raises(VoteRejected, match="client key"):
            record_vote(engine, SESSION, GALAXY, "MERGER", client_key=bad)
    assert session_votes(engine, SESSION) == []


def test_bulk_inserts_without_a_client_key_count_their_session(votes_url):
    """Scripts and the benchmark insert rows directly: each row's client is then its session."""
    engine = make_engine(votes_url)
    rows = [{"galaxy_id": str(BASE_ID + k), "answer": "MERGER", "session_id": f"bulk-sess-{k % 2}",
             "created_at": 1.0, "source": "bulk"} for k in range(4)]
    with engine.begin() as conn:
        conn.execute(votes.insert(), rows)
    assert [v.galaxy_id for v in client_votes(engine, "session:bulk-sess-1")] == [str(BASE_ID + 1), str(BASE_ID + 3)]

"""Worker for the concurrency test: one process casting many votes as one session (run with spawn).

The racing processes meet at a ``multiprocessing.Manager().Barrier``: each connects, waits there until
all have, and only then votes, so the writes overlap however slowly the processes start."""

from __future__ import annotations

from core.votes.answers import ANSWERS
from core.votes.store import make_engine, record_vote

#: First galaxy ID used by the workers; worker p, vote k -> BASE_ID + p * 1000 + k.
BASE_ID = 587_700_000_000_000_000


#: Longest wait, s, for the other processes at the start line before a race test gives up.
START_TIMEOUT = 120.0


def cast_votes(url: str, worker: int, n_votes: int, start) -> int:
    """Connect, wait at ``start`` (a Barrier shared by every racing process) until all are connected, then
    cast ``n_votes`` votes; return how many were stored."""
    engine = make_engine(url)
    engine.connect().close()
    start.wait(START_TIMEOUT)
    for k in range(n_votes):
        record_vote(engine, f"worker-{worker:02d}-session", str(BASE_ID + worker * 1000 + k),
                    ANSWERS[(worker + k) % len(ANSWERS)].code, source="test", per_minute=10**6)
    engine.dispose()
    return n_votes

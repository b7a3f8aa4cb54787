"""Worker for the concurrency test: one process casting many votes as one session (run with spawn)."""

from __future__ import annotations

import time

from core.votes.answers import ANSWERS
from core.votes.store import make_engine, record_vote

#: First galaxy ID used by the workers; worker p, vote k -> BASE_ID + p * 1000 + k.
BASE_ID = 587_700_000_000_000_000


def cast_votes(url: str, worker: int, n_votes: int, start_at: float) -> int:
    """Wait until ``start_at`` (time.time()), then cast ``n_votes`` votes; return how many were stored."""
    engine = make_engine(url)
    while time.time() < start_at:
        time.sleep(0.005)
    for k in range(n_votes):
        record_vote(engine, f"worker-{worker:02d}-session", str(BASE_ID + worker * 1000 + k),
                    ANSWERS[(worker + k) % len(ANSWERS)].code, source="test", per_minute=10**6)
    engine.dispose()
    return n_votes

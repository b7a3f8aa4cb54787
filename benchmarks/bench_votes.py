"""Classify page speed with 10,000 votes in the table: recording a vote and choosing/showing the next galaxy.

For each backend (SQLite in WAL mode; PostgreSQL when a throw-away server can be started,
or ``--postgres-url``) the table is filled with ``--votes`` votes (default 10,000) on the
built-in demo galaxies, then a fresh visitor votes ``--repeats`` times. Timed per vote:

* ``vote+next`` – ``record_vote`` and ``next_galaxy`` (the database work of a click);
* ``page data`` – everything the Classify page computes on the rerun after a click: the vote,
  the next galaxy, the reveal, the visitor's score and the crowd section (totals, confusion
  matrix, agreement, largest disagreements, the export);
* ``AppTest rerun`` (SQLite) – a click on an answer button and the page's full rerun through
  Streamlit's AppTest (no browser): what a visitor waits for, minus the network.

Target (issue 13): p50 < 300 ms. Measured on the 2-core development machine under a load average
of about 11 (other jobs running), 10,000 votes, 100 timed votes (ms, p50 / p95): SQLite vote+next
6.0 / 26.0, page data 92 / 246, AppTest rerun 277 / 648; PostgreSQL 15 vote+next 13.5 / 42.0,
page data 107 / 234.

Usage: python benchmarks/bench_votes.py [--votes N] [--repeats N]
[--postgres-url URL] [--no-apptest]
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from core.config import REPO_ROOT
from core.votes.aggregate import export_csv_bytes, summary, vote_counts
from core.votes.answers import ANSWERS
from core.votes.choose import next_galaxy, parse_mix
from core.votes.crowd import crowd_comparison, disagreements, galaxy_reveal, session_score
from core.votes.migrations import votes as votes_table
from core.votes.pool import build_pool, demo_image_sets
from core.votes.store import make_engine, new_session_id, record_vote, session_votes


def fill(engine, pool, n_votes: int, rng: np.random.Generator) -> None:
    """``n_votes`` votes from sessions of 20 votes each, on random pool galaxies, in one transaction."""
    rows, now = [], time.time() - 3600
    n_sessions = -(-n_votes // 20)
    for s in range(n_sessions):
        session = f"bench-session-{s:06d}"
        for g in rng.choice(len(pool), size=min(20, n_votes - 20 * s), replace=False):
            rows.append({"galaxy_id": pool.ids[g], "answer": ANSWERS[int(rng.integers(6))].code,
                         "session_id": session, "created_at": now, "source": "benchmark"})
    with engine.begin() as conn:
        conn.execute(votes_table.insert(), rows)


def percentiles(ms: list[float]) -> tuple[float, float]:
    q = statistics.quantiles(ms, n=20)
    return statistics.median(ms), q[18]


def time_core(engine, pool, repeats: int, rng: np.random.Generator) -> dict[str, list[float]]:
    session, mix = new_session_id(), parse_mix()
    current = next_galaxy(pool, engine, session, mix=mix, rng=rng)
    out = {"vote+next": [], "page data": []}
    for k in range(repeats):
        t0 = time.perf_counter()
        record_vote(engine, session, pool.ids[current], ANSWERS[k % 6].code, "benchmark", per_minute=10**6)
        voted, current = current, next_galaxy(pool, engine, session, mix=mix, rng=rng)
        t1 = time.perf_counter()
        galaxy_reveal(engine, pool, pool.ids[voted])
        session_score(session_votes(engine, session), pool)
        counts = vote_counts(engine)  # the crowd section shares one counts query, as the page does
        summary(engine, counts)
        crowd_comparison(engine, pool, counts)
        disagreements(engine, pool, counts=counts)
        export_csv_bytes(engine, 1, counts)
        t2 = time.perf_counter()
        out["vote+next"].append((t1 - t0) * 1000)
        out["page data"].append((t2 - t0) * 1000)
    return out


def time_apptest(repeats: int) -> list[float]:
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(REPO_ROOT / "pages" / "classify.py"), default_timeout=300).run()
    ms = []
    for k in range(repeats):
        button = next(b for b in at.button if b.key == f"vote_{ANSWERS[k % 6].code}")
        t0 = time.perf_counter()
        button.click()
        at.run()
        ms.append((time.perf_counter() - t0) * 1000)
        if at.exception:
            raise RuntimeError(at.exception[0].value)
    return ms


def start_postgres(url: str | None):
    if url:
        return url, None, ""
    path = REPO_ROOT / "tests" / "support" / "postgres.py"  # the tests' throw-away server, loaded by path
    try:
        spec = importlib.util.spec_from_file_location("bench_postgres_support", path)
        support = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = support  # dataclasses look their module up there
        spec.loader.exec_module(support)
    except (ImportError, OSError) as exc:
        return None, None, f"{path.name} not importable ({exc})"
    start_server = support.start_server
    server, why = start_server()
    return (server.create_database("bench_votes"), server, "") if server else (None, None, why)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--votes", type=int, default=10_000)
    p.add_argument("--repeats", type=int, default=100)
    p.add_argument("--postgres-url", default=None)
    p.add_argument("--no-apptest", action="store_true")
    args = p.parse_args()
    home = Path(tempfile.mkdtemp(prefix="bench-votes-"))
    os.environ.update({"GZ_HOME": str(home), "GZ_VOTES_PER_MINUTE": str(10**6), "GZ_TORCH_THREADS": "2"})
    pool = build_pool(demo_image_sets())
    print(f"pool: {len(pool)} built-in demo galaxies; {args.votes:,} votes in the table; {args.repeats} timed votes")
    rows = []
    pg_url, server, why = start_postgres(args.postgres_url)
    backends = [("SQLite (WAL)", f"sqlite:///{home / 'votes.sqlite'}")] + ([("PostgreSQL", pg_url)] if pg_url else [])
    try:
        for name, url in backends:
            engine = make_engine(url)
            fill(engine, pool, args.votes, np.random.default_rng(0))
            timings = time_core(engine, pool, args.repeats, np.random.default_rng(1))
            rows += [(name, what, *percentiles(ms)) for what, ms in timings.items()]
            if name.startswith("SQLite") and not args.no_apptest:
                rows.append((name, "AppTest rerun", *percentiles(time_apptest(min(args.repeats, 40)))))
            engine.dispose()
    finally:
        if server is not None:
            server.stop()
    print(f"\n{'backend':<14}{'what':<16}{'p50 ms':>9}{'p95 ms':>9}")
    for name, what, p50, p95 in rows:
        print(f"{name:<14}{what:<16}{p50:>9.1f}{p95:>9.1f}")
    if not pg_url:
        print(f"PostgreSQL not measured: {why}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Which galaxy a visitor sees next.

Each pick first draws a strategy by the weights of ``settings.votes_mix``
(``GZ_VOTES_MIX``, e.g. ``uncertain=0.6,random=0.2,few=0.2``):

* ``uncertain`` – one of the :data:`UNCERTAIN_SHORTLIST` galaxies the model is least sure of
  (lowest TOP_P, or highest entropy of its six raw fractions for an uncalibrated run:
  :meth:`core.votes.pool.VotingPool.least_certain_first`), so visitors' votes go where they
  teach most; the shortlist keeps simultaneous visitors from all getting the same galaxy;
* ``few`` – one of the galaxies with the fewest votes so far;
* ``random`` – any galaxy.

A galaxy the session or its client (every tab and reload of one visitor) has already voted
on, or that the caller excludes (e.g. one just skipped), is never offered. None when nothing is left.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from core.config import get_settings
from core.votes.migrations import votes
from core.votes.pool import VotingPool

STRATEGIES = ("uncertain", "random", "few")
#: Mix of the Classify page's "Least certain first" switch: every pick from the least-sure shortlist.
LEAST_CERTAIN_FIRST = {"uncertain": 1.0, "random": 0.0, "few": 0.0}
#: How many of the least-sure galaxies the "uncertain" strategy picks among.
UNCERTAIN_SHORTLIST = 10


def parse_mix(text: str | None = None) -> dict[str, float]:
    """``"uncertain=0.6,random=0.2,few=0.2"`` -> weights summing to 1; ValueError naming the bad part."""
    text = get_settings().votes_mix if text is None else text
    weights = dict.fromkeys(STRATEGIES, 0.0)
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, _, value = part.partition("=")
        name = name.strip().lower()
        if name not in weights:
            raise ValueError(f"GZ_VOTES_MIX: {name!r} is not one of {', '.join(STRATEGIES)}")
        try:
            weights[name] = float(value)
        except ValueError:
            raise ValueError(f"GZ_VOTES_MIX: weight of {name} must be a number, got {value!r}") from None
        if weights[name] < 0:
            raise ValueError(f"GZ_VOTES_MIX: weight of {name} must not be negative")
    total = sum(weights.values())
    if total <= 0:
        raise ValueError("GZ_VOTES_MIX: at least one weight must be positive")
    return {k: v / total for k, v in weights.items()}


def session_galaxies(engine: Engine, session_id: str) -> set[str]:
    """Galaxy IDs this session has voted on."""
    with engine.connect() as conn:
        return set(conn.execute(sa.select(votes.c.galaxy_id).where(votes.c.session_id == session_id)).scalars())


def client_galaxies(engine: Engine, client_key: str) -> set[str]:
    """Galaxy IDs this client has voted on (from any session)."""
    with engine.connect() as conn:
        return set(conn.execute(sa.select(votes.c.galaxy_id).where(votes.c.client_key == client_key)).scalars())


def votes_per_galaxy(engine: Engine) -> dict[str, int]:
    """Galaxy ID -> number of votes (galaxies without votes are absent)."""
    with engine.connect() as conn:
        rows = conn.execute(sa.select(votes.c.galaxy_id, sa.func.count()).group_by(votes.c.galaxy_id))
        return {g: int(n) for g, n in rows}


def next_galaxy(pool: VotingPool, engine: Engine, session_id: str, exclude: Iterable[str] = (),
                mix: dict[str, float] | None = None, rng: np.random.Generator | None = None,
                client_key: str | None = None) -> int | None:
    """Position in ``pool`` of the galaxy to show next, or None when the session (and ``client_key``,
    when given) has voted on them all."""
    rng = rng or np.random.default_rng()
    mix = mix or parse_mix()
    done = session_galaxies(engine, session_id) | set(exclude)
    if client_key is not None:
        done |= client_galaxies(engine, client_key)
    open_ = np.asarray([i for i, g in enumerate(pool.ids) if g not in done], dtype=int)
    if len(open_) == 0:
        return None
    strategy = rng.choice(STRATEGIES, p=[mix[s] for s in STRATEGIES])
    if strategy == "uncertain":
        shortlist = pool.least_certain_first(open_)[:UNCERTAIN_SHORTLIST]
        return int(rng.choice(shortlist))
    if strategy == "few":
        counts = votes_per_galaxy(engine)
        n = np.asarray([counts.get(pool.ids[i], 0) for i in open_])
        return int(rng.choice(open_[n == n.min()]))
    return int(rng.choice(open_))

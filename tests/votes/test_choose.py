"""Which galaxy comes next: the mix setting, the three strategies, never twice to one session."""

from __future__ import annotations

import numpy as np
import pytest

from core.votes.choose import LEAST_CERTAIN_FIRST, UNCERTAIN_SHORTLIST, next_galaxy, parse_mix
from core.votes.pool import VotingPool
from core.votes.store import make_engine, record_vote

N = 40
IDS = [str(587722982276399000 + i) for i in range(N)]


def _pool() -> VotingPool:
    """Model certainty falls with the index: galaxy 0 is one-hot, galaxy N-1 nearly uniform."""
    model = np.zeros((N, 9))
    for i in range(N):
        w = i / (N - 1)
        model[i, :6] = (1 - w) * np.eye(6)[0] + w * np.full(6, 1 / 6)
    return VotingPool(IDS, [], ["test"] * N, np.full((N, 9), np.nan), np.zeros(N, dtype=bool), model)


@pytest.fixture
def engine(tmp_path):
    return make_engine(f"sqlite:///{tmp_path / 'votes.sqlite'}")


def test_mix_setting_is_parsed_and_checked(monkeypatch):
    assert parse_mix("uncertain=3,random=1") == {"uncertain": 0.75, "random": 0.25, "few": 0.0}
    monkeypatch.setenv("GZ_VOTES_MIX", "few=1")
    assert parse_mix() == {"uncertain": 0.0, "random": 0.0, "few": 1.0}
    for bad, message in [("often=1", "not one of"), ("few=x", "must be a number"), ("few=0", "positive"),
                         ("few=-1", "negative")]:
        with pytest.raises(ValueError, match=message):
            parse_mix(bad)


def test_uncertain_strategy_picks_among_the_least_sure(engine):
    pool = _pool()
    rng = np.random.default_rng(0)
    picks = {next_galaxy(pool, engine, "sess-aaaa", mix=parse_mix("uncertain=1"), rng=rng) for _ in range(200)}
    assert picks == set(range(N - UNCERTAIN_SHORTLIST, N))


def test_with_top_p_the_least_certain_are_those_with_the_lowest_top_p(engine):
    """TOP_P (calibrated) outranks entropy: here it says the *first* galaxies are the unsure ones."""
    pool = _pool()
    pool.top_p = np.linspace(0.3, 0.99, N)
    assert pool.least_certain_first(np.arange(N))[:3].tolist() == [0, 1, 2]
    rng = np.random.default_rng(0)
    picks = {next_galaxy(pool, engine, "sess-aaaa", mix=LEAST_CERTAIN_FIRST, rng=rng) for _ in range(200)}
    assert picks == set(range(UNCERTAIN_SHORTLIST))
    pool.top_p[5] = np.nan  # one galaxy without TOP_P: back to entropy for all, not a mixed scale
    assert pool.least_certain_first(np.arange(N))[0] == N - 1


def test_few_strategy_picks_the_galaxies_with_fewest_votes(engine):
    pool = _pool()
    for i in range(N - 2):  # every galaxy but the last two has a vote from someone else
        record_vote(engine, "sess-other", IDS[i], "ELLIPTICAL", per_minute=1000)
    rng = np.random.default_rng(1)
    picks = {next_galaxy(pool, engine, "sess-aaaa", mix=parse_mix("few=1"), rng=rng) for _ in range(50)}
    assert picks == {N - 2, N - 1}


def test_a_session_never_gets_the_same_galaxy_twice(engine):
    pool = _pool()
    rng = np.random.default_rng(2)
    shown = []
    while (i := next_galaxy(pool, engine, "sess-aaaa", mix=parse_mix("uncertain=1,random=1,few=1"),
                            rng=rng)) is not None:
        shown.append(i)
        record_vote(engine, "sess-aaaa", IDS[i], "MERGER", per_minute=1000)
    assert sorted(shown) == list(range(N))
    # excluded galaxies (e.g. one just skipped) are not offered either
    fresh = next_galaxy(pool, engine, "sess-bbbb", exclude=IDS[1:], rng=rng)
    assert fresh == 0

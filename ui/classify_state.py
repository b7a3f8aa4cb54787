"""Classify page state and actions: the visitor's session, the galaxy pool, voting, undo and skip.

Actions are button callbacks; each calls ``core.votes`` (where the rules live: one vote per
galaxy and client, the per-client rate limit) and leaves what to show in ``st.session_state``.
The client is the connection's address as ``st.context`` reports it (``X-Forwarded-For`` only
with ``GZ_VOTES_PROXY_HOPS``), kept only as a keyed hash (:mod:`core.votes.clients`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import streamlit as st

from core.config import get_settings
from core.votes.choose import LEAST_CERTAIN_FIRST, next_galaxy
from core.votes.clients import client_address
from core.votes.clients import client_key as make_client_key
from core.votes.crowd import galaxy_reveal, voted_sources
from core.votes.pool import (
    SOURCE_DOWNLOADED,
    VotingPool,
    build_pool,
    demo_image_sets,
    downloaded_image_set,
    folder_image_set,
    merge_pools,
)
from core.votes.store import (
    AlreadyVoted,
    RateLimited,
    Vote,
    VoteRejected,
    get_engine,
    new_session_id,
    record_vote,
    undo_last,
)
from ui import state_keys

#: Image sources offered on the page -> label (the folder one only in the local mode).
SOURCES = {"demo": "Built-in demo images", "downloaded": "Downloaded images", "folder": "An image folder"}


@dataclass(frozen=True)
class LastVote:
    """The visitor's last vote and its feedback as computed when it was cast, from the image set it was
    cast on (:func:`core.votes.crowd.galaxy_reveal`), so picking another set never changes it.
    ``image``: the galaxy's image file (None when unknown)."""

    vote: Vote
    reveal: dict
    image: Path | None


def session_id() -> str:
    """This tab's anonymous visitor ID, created on first use."""
    if state_keys.VOTE_SESSION not in st.session_state:
        st.session_state[state_keys.VOTE_SESSION] = new_session_id()
    return st.session_state[state_keys.VOTE_SESSION]


def client_key() -> str:
    """This visitor's client key, worked out once per session from the connection's address
    (the session ID stands in where Streamlit reports none, e.g. on localhost)."""
    if state_keys.VOTE_CLIENT not in st.session_state:
        hops = get_settings().votes_proxy_hops
        forwarded = st.context.headers.get_all("X-Forwarded-For") if hops > 0 else []
        address = client_address(st.context.ip_address, forwarded, hops)
        st.session_state[state_keys.VOTE_CLIENT] = make_client_key(address, session_id())
    return st.session_state[state_keys.VOTE_CLIENT]


def engine():
    return get_engine()


def database_or_stop() -> None:
    """Open the votes database once; when it cannot be opened, say so (no URL, no password) and stop."""
    from sqlalchemy.exc import SQLAlchemyError

    try:
        engine()
    except (SQLAlchemyError, OSError, RuntimeError) as exc:
        st.error(f"The votes database cannot be opened ({type(exc).__name__}); check GZ_VOTES_URL and that the "
                 "database server is running. Nothing was recorded.")
        st.stop()


def _mtime(path: Path) -> int:
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return 0


@st.cache_resource(max_entries=6, show_spinner="Getting the galaxies ready (the model looks at each image once)...")
def _cached_pool(source: str, folder: str, folder_mtime: int, catalog_digest: str, _catalog) -> VotingPool:
    if source == "demo":
        sets = demo_image_sets()
    elif source == "downloaded":
        sets = downloaded_image_set(catalog=_catalog)
    else:
        sets = folder_image_set(folder, _catalog, f"folder {Path(folder).name}")
    return build_pool(sets)


def pool_for(source: str, folder: Path | None = None) -> VotingPool:
    """The pool of one image source; ``folder`` (already confined) for the "folder" source.

    Downloaded images and folders are joined to the current catalogue (the built-in sample
    unless another was loaded on the Catalog page) for their GZ1 fractions.
    """
    from ui.catalog_state import current_catalog

    s = get_settings()
    if source == "demo":
        return _cached_pool("demo", str(s.demo_dir), _mtime(s.demo_dir), "", None)
    catalog = current_catalog()
    table = catalog.table if catalog is not None else None
    digest = catalog.digest if catalog is not None else ""
    path = s.images_dir if source == "downloaded" else folder
    return _cached_pool(source, str(path), _mtime(path), digest, table)


def remember_folder(folder: Path) -> None:
    """Note a folder classified from, so votes cast on it still count after switching sets."""
    st.session_state.setdefault(state_keys.VOTE_FOLDERS, {})[f"folder {Path(folder).name}"] = str(folder)


def reference_pool(pool: VotingPool) -> VotingPool:
    """``pool`` joined with every other image set this page can load that votes were cast on (the
    demo images, the downloaded ones, folders picked in this session): the visitor's score and the
    crowd statistics cover votes from all sets, whichever set is chosen now. A galaxy found in
    several sets takes its labels from the first in a fixed order (demo, downloaded, folders in the
    order picked, then ``pool``), so the figures do not change with the choice either."""
    sources = voted_sources(engine())
    pools = [pool_for("demo")]
    if sources & {SOURCE_DOWNLOADED, "unknown"}:
        pools.append(pool_for("downloaded"))
    for name, path in st.session_state.get(state_keys.VOTE_FOLDERS, {}).items():
        if name in sources and Path(path).is_dir():
            pools.append(pool_for("folder", Path(path)))
    return merge_pools([*pools, pool])


def current_galaxy(pool: VotingPool) -> int | None:
    """Position in ``pool`` of the galaxy on show, choosing the next one when needed (None: all done)."""
    shown = st.session_state.get(state_keys.VOTE_CURRENT)
    position = pool.position(shown) if shown else None
    if position is None:
        mix = LEAST_CERTAIN_FIRST if st.session_state.get(state_keys.VOTE_LEAST_SURE) else None
        position = next_galaxy(pool, engine(), session_id(), exclude=st.session_state.get(state_keys.VOTE_SKIPPED, []),
                               client_key=client_key(), mix=mix)
        st.session_state[state_keys.VOTE_CURRENT] = pool.ids[position] if position is not None else None
    return position


def cast(galaxy_id: str, answer: str, source: str, pool: VotingPool | None = None) -> None:
    """Button callback: store the vote, remember it with its feedback (from ``pool``, the set it was
    cast on) for the reveal, move on to a new galaxy."""
    try:
        vote = record_vote(engine(), session_id(), galaxy_id, answer, source=source, client_key=client_key())
    except RateLimited as exc:
        st.session_state[state_keys.VOTE_NOTICE] = f"{str(exc).capitalize()}."
        return
    except AlreadyVoted as exc:
        st.session_state[state_keys.VOTE_NOTICE] = f"{str(exc).capitalize()}; here is another one."
        st.session_state.pop(state_keys.VOTE_CURRENT, None)
        return
    except VoteRejected as exc:
        st.session_state[state_keys.VOTE_NOTICE] = f"Vote not recorded: {exc}."
        st.session_state.pop(state_keys.VOTE_CURRENT, None)
        return
    shown_at = pool.position(galaxy_id) if pool is not None else None
    reveal = galaxy_reveal(engine(), pool if pool is not None else merge_pools([]), galaxy_id)
    st.session_state[state_keys.VOTE_LAST] = LastVote(vote, reveal, pool.files[shown_at] if shown_at is not None else None)
    st.session_state.pop(state_keys.VOTE_CURRENT, None)


def undo() -> None:
    """Button callback: delete this visitor's last vote and show that galaxy again."""
    vote = undo_last(engine(), session_id())
    st.session_state.pop(state_keys.VOTE_LAST, None)
    if vote is None:
        st.session_state[state_keys.VOTE_NOTICE] = "There is no vote of yours to undo."
        return
    st.session_state[state_keys.VOTE_CURRENT] = vote.galaxy_id
    st.session_state[state_keys.VOTE_NOTICE] = "Your last vote was removed; classify this galaxy again."


def skip(galaxy_id: str) -> None:
    """Button callback: do not show this galaxy again in this tab."""
    st.session_state.setdefault(state_keys.VOTE_SKIPPED, []).append(galaxy_id)
    st.session_state.pop(state_keys.VOTE_CURRENT, None)


def choose_again() -> None:
    """Widget callback: forget the galaxy on show (not voted on), so the next one follows the new order."""
    st.session_state.pop(state_keys.VOTE_CURRENT, None)

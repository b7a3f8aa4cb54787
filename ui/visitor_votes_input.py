"""The Train page's "Visitor votes" label source: votes cast on the Classify page, as GZ1 vote fractions."""

from __future__ import annotations

import streamlit as st

from core.config import Settings
from core.training.train_config import Source
from core.votes.store import get_engine
from core.votes.training import visitor_vote_sources

#: The label the Train page's label-source radio shows for this option.
VISITOR_VOTES = "Visitor votes"


def choose_visitor_vote_sources(settings: Settings) -> list[Source]:
    """Draw the minimum-votes input; the export paired with each image folder holding voted galaxies."""
    k = st.number_input("Only galaxies with at least K visitor votes", min_value=1, value=3, step=1,
                        key="train_visitor_min_votes",
                        help="Fractions from few votes are noisy; each galaxy is also weighted by its number of "
                             "votes (NVOTE) in the loss.")
    sources, n = visitor_vote_sources(get_engine(), int(k), settings=settings)
    if n == 0:
        st.info(f"No galaxy has {int(k)} or more votes yet: classify some on the Classify page, or lower K.")
        return []
    st.caption(f"{n} galaxies with at least {int(k)} votes from this dashboard's visitors, exported as GZ1 "
               "Table-2 vote fractions (not class-derived), in the built-in demo and downloaded image folders.")
    return sources

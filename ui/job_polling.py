"""Follow a background job (download, training, prediction) from a page's polling fragment.

A page draws a job's progress in an ``st.fragment(run_every=...)`` that rereads the job folder;
only the fragment reruns, so the rest of the page (tables, gallery, Start buttons) would keep
showing the job as running after it ended. :func:`rerun_when_job_changes`, called in that fragment
with whether the job is active now, reruns the whole page once when it ends, and (by default) once
when a job started elsewhere becomes active, so the page switches to its fast polling.
"""

from __future__ import annotations

import streamlit as st


def rerun_when_job_changes(seen_key: str, active: bool, *, on_start: bool = True) -> None:
    """Remember ``active`` under ``seen_key``; rerun the whole app when it flipped since the last poll.

    True -> False (the job this session saw running has ended) always reruns; False -> True only with
    ``on_start``. A page that starts a job itself may set ``st.session_state[seen_key] = True`` first."""
    seen = bool(st.session_state.get(seen_key))
    st.session_state[seen_key] = bool(active)
    if seen != bool(active) and (seen or on_start):
        st.rerun()

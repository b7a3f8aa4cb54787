"""The "Run on" choice shared by the pages that start jobs on Dask, and the Dask dashboard line.

Input only: the choice becomes a :class:`core.cluster.engine.Engine` through
:func:`core.cluster.engine.engine_for` (which checks a typed scheduler address). In the public
mode nothing is drawn and no engine is offered.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

import streamlit as st

from core import jobs
from core.cluster.engine import Engine, EngineError, engine_for
from core.config import get_settings
from core.jobs import JobState, JobStatus
from ui.plain_text import md_escape

ENGINE_SINGLE = "This process"
ENGINE_LOCAL = "Embedded cluster (this machine)"
ENGINE_SCHEDULER = "Dask scheduler"

_HELP = ("The embedded cluster starts Dask worker processes on this machine for the job (listening on "
         "127.0.0.1 only) and stops them at the end. A scheduler is one you started (`dask scheduler`, "
         "dask-jobqueue, Kubernetes); its workers must see the same paths.")


@dataclass(frozen=True)
class EngineKeys:
    """Session-state keys of one page's engine widgets (see :mod:`ui.state_keys`)."""

    engine: str
    workers: str
    scheduler: str


def engine_choice(keys: EngineKeys, *, single: str | None = None, help_text: str = "",
                  beside: Callable[[object], None] | None = None) -> Engine | None:
    """Draw "Run on" (then a worker count or a scheduler address) and return the engine picked.

    ``single`` (help words for it) adds a first option, :data:`ENGINE_SINGLE`, which returns
    ``Engine()`` (no Dask). ``beside(column)`` draws a page's own Dask input (e.g. galaxies per
    task) next to the worker count or address. Returns None after drawing why the choice cannot
    be used (a bad or missing address), and None without drawing anything in the public mode.
    The address field starts with ``GZ_DASK_SCHEDULER``.
    """
    settings = get_settings()
    if settings.public:
        return None
    options = ([ENGINE_SINGLE] if single is not None else []) + [ENGINE_LOCAL, ENGINE_SCHEDULER]
    kind = st.radio("Run on", options, horizontal=True, key=keys.engine, persist_state="session",
                    help=" ".join(t for t in (single, _HELP, help_text) if t))
    if kind == ENGINE_SINGLE:
        return Engine()
    left, right = st.columns(2)
    if beside is not None:
        beside(right)
    try:
        if kind == ENGINE_LOCAL:
            cores = os.cpu_count() or 1
            workers = left.number_input("Worker processes", min_value=1, max_value=max(1, cores), value=min(2, cores),
                                      key=keys.workers, persist_state="session",
                                      help=f"One thread each; this machine has {cores} cores.")
            return engine_for(workers=int(workers))
        address = left.text_input("Scheduler address", value=settings.dask_scheduler, key=keys.scheduler,
                                persist_state="session", placeholder="tcp://10.0.0.5:8786")
        if not address.strip():
            st.info("Type the address of a running Dask scheduler, e.g. `tcp://10.0.0.5:8786`.")
            return None
        return engine_for(scheduler=address)
    except EngineError as exc:
        st.error(md_escape(exc))
        return None


def dashboard_line(link: str | None) -> None:
    """A link to a job's Dask dashboard (nothing when there is none), saying when it opens only here."""
    if not link:
        return
    local = "://127.0.0.1" in link or "://localhost" in link
    st.markdown(f"[Dask dashboard]({link})" + (" (opens only on the machine running this dashboard: it "
                                                "listens on 127.0.0.1)" if local else ""))


def job_controls(folder, state: JobState, now_active: bool, *, cancel_label: str, cancel_key: str,
                 cancel_toast: str, worker: str) -> bool:
    """Cancel while the job's worker runs, or say it is starting; False once the job has ended."""
    if state.running:
        if st.button(cancel_label, icon=":material/stop:", key=cancel_key):
            jobs.request_cancel(folder)
            st.toast(cancel_toast)
        return True
    if state.status == JobStatus.STARTING:
        if now_active:
            st.caption(f"Starting the {worker}…")
        else:
            st.warning(f"The {worker} has not started. The end of its log:")
            st.code(jobs.log_tail(folder) or "(empty)", language=None, wrap_lines=True)
        return True
    return False

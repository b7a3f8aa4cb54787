"""The Images page's progress panel: one download job's state, read from its folder on disk.

Everything shown comes from ``state.json`` through :func:`core.images.download_job.download_progress`;
the page wraps :func:`show_download_job` in a polling fragment.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

from core import jobs
from core.cluster.engine import eta_words
from core.images.download_job import download_progress, job_active, job_ending, job_settings_rows
from core.images.failures import all_failed_summary, read_failures
from core.images.folder import list_cutouts
from core.jobs import JobKind, JobState, JobStatus
from ui import state_keys
from ui.cluster_engine import dashboard_line, job_controls
from ui.job_polling import rerun_when_job_changes
from ui.plain_text import md_escape

SEEN_ACTIVE = state_keys.IMAGES_JOB_SEEN_ACTIVE


def _show_ending(folder: Path, state: JobState) -> None:
    """The job's outcome in the style its result deserves (failures never look green)."""
    style, text = job_ending(state)
    getattr(st, style)(md_escape(text))
    if state.status == JobStatus.FAILED:
        st.code(jobs.log_tail(folder) or "(empty log)", language=None, wrap_lines=True)


def _show_job_settings(state: JobState) -> None:
    rows = job_settings_rows(state)
    if rows:
        with st.expander("Settings of this job (retry and resume use them)"):
            st.dataframe(pd.DataFrame(rows, columns=["setting", "value"]), hide_index=True, width="stretch")


def show_download_job(folder: Path) -> None:
    """Progress, engine, cancel and outcome of the download job in ``folder``."""
    st.subheader("3. Progress")
    state = jobs.read_job(folder)
    if state is None or state.kind not in ("", JobKind.DOWNLOAD):
        st.caption("No download has run in this folder yet.")
        return
    now_active = job_active(state)
    p = download_progress(state)
    words = {JobStatus.RUNNING: "downloading"}.get(state.status, str(state.status))
    parts = f" · {p.partitions_done:,} / {p.partitions:,} partitions" if p.distributed and p.partitions else ""
    failures = read_failures(folder)
    offline = None if now_active else all_failed_summary(p.failed, p.processed, failures)
    on_disk = {c.stem for c in list_cutouts(folder)} if offline else set()
    still_missing = sum(1 for r in failures if str(r.get("OBJID", "")) not in on_disk)
    if offline and failures and not still_missing:  # imported since: say so, and nothing to retry
        st.info(f"This download brought nothing ({p.failed:,} failed), but all {len(failures):,} of those "
                "galaxies are now in the folder (imported).", icon=":material/check_circle:")
    elif offline:  # nothing came: no full progress bar, but what happened and what to do
        st.error(md_escape(offline), icon=":material/wifi_off:")
    elif state.status != JobStatus.FAILED or p.processed:  # a job that could not start has nothing to count
        st.progress(p.fraction, text=f"{p.processed:,} / {p.total:,} galaxies{parts} · {words}")
        m = st.columns(5)
        m[0].metric("Downloaded", f"{p.done:,}")
        m[1].metric("Already present", f"{p.skipped:,}")
        m[2].metric("Failed", f"{p.failed:,}")
        m[3].metric("Images / s", f"{p.throughput:.1f}")
        m[4].metric("ETA", eta_words(p.eta_s), help="Galaxies left divided by this run's images per second.")
    if p.distributed:
        rows = state.settings.get("partition_rows")
        size = (f", in partitions of up to {rows:,} galax{'y' if rows == 1 else 'ies'} (one Dask task each)"
                if isinstance(rows, int) else "")
        st.caption(f"On {md_escape(p.engine)}{size}.")
        if now_active:
            dashboard_line(p.dashboard)
    if not job_controls(folder, state, now_active, cancel_label="Cancel download", cancel_key=state_keys.IMAGES_CANCEL,
                        cancel_toast="Cancel requested; finished images are kept.", worker="download worker"):
        _show_ending(folder, state)
    _show_job_settings(state)
    # A job ended: rerun the whole page so the gallery, failures and buttons catch up; one started
    # elsewhere: switch this page to fast polling.
    rerun_when_job_changes(SEEN_ACTIVE, now_active)

"""The Predict page's "Whole catalogue" tab: start a catalogue-wide prediction on Dask and watch it.

Gathering input and drawing only: the job is :mod:`core.cluster.predict_job` (a detached
``python -m core predict --job-folder`` worker whose state.json any tab or a restarted
dashboard reads). Typed paths go through :func:`core.paths.confine`; the scheduler address
through :func:`ui.cluster_engine.engine_choice`. In the public mode nothing is offered.
"""

from __future__ import annotations

import functools
from pathlib import Path

import streamlit as st

from core import jobs
from core.cluster.engine import EngineError, eta_words
from core.cluster.predict import DEFAULT_PARTITION_ROWS
from core.cluster.predict_job import (
    PredictJobSpec,
    default_output,
    job_active,
    job_folder_for,
    list_jobs,
    pick_job,
    predict_progress,
    restart_predict_job,
    start_predict_job,
    stored_spec,
)
from core.config import get_settings
from core.jobs import JobState, JobStatus
from core.paths import PathNotAllowed, confine, display_path
from ui import state_keys
from ui.catalog_state import current_catalog
from ui.cluster_engine import ENGINE_LOCAL as ENGINE_LOCAL  # re-exported: the labels tests pick
from ui.cluster_engine import ENGINE_SCHEDULER as ENGINE_SCHEDULER
from ui.cluster_engine import EngineKeys, dashboard_line, engine_choice, job_controls
from ui.job_polling import rerun_when_job_changes
from ui.plain_text import md_escape

POLL_ACTIVE_S = 1.0
POLL_IDLE_S = 5.0
#: Largest output CSV offered as a download from the page (MB); bigger ones are named by path only.
MAX_DOWNLOAD_MB = 200

SRC_CATALOG = "Catalogue of the Catalog page"
SRC_DEMO = "Built-in demo labels"
SRC_CSV = "A CSV file on the server"
SRC_FOLDER = "Every image in a folder"
ENGINE_KEYS = EngineKeys(state_keys.PREDICT_JOB_ENGINE, state_keys.PREDICT_JOB_WORKERS,
                         state_keys.PREDICT_JOB_SCHEDULER)

_STATUS_WORDS = {JobStatus.STARTING: "starting", JobStatus.RUNNING: "predicting", JobStatus.FINISHED: "finished",
                 JobStatus.FAILED: "failed", JobStatus.CANCELLED: "cancelled", JobStatus.INTERRUPTED: "interrupted"}


def _demo_folders() -> dict[str, Path]:
    """Demo folders holding a labels.csv: display name -> folder."""
    root = get_settings().demo_dir
    found = {}
    if root.is_dir():
        for folder in [root, *sorted(p for p in root.iterdir() if p.is_dir())]:
            if (folder / "labels.csv").is_file():
                found["demo" if folder == root else folder.name] = folder
    return found


def _catalogue() -> tuple[object | None, Path | None, str, Path | None]:
    """The galaxies: (table to copy into the job, catalogue CSV, name, image folder suggestion); draws errors."""
    settings = get_settings()
    images_default = Path(st.session_state.get(state_keys.IMAGES_DIR) or settings.images_dir)
    source = st.radio("Catalogue for the job", [SRC_CATALOG, SRC_DEMO, SRC_CSV, SRC_FOLDER], horizontal=True,
                      key=state_keys.PREDICT_JOB_SOURCE, persist_state="session",
                      help="Every galaxy of the catalogue that has an image is predicted (no page limit, held-out "
                           "or not). The Catalog page's catalogue is copied into the job's folder.")
    if source == SRC_CATALOG:
        catalog = current_catalog()
        if catalog is None:
            st.warning("No catalogue is loaded and the built-in sample cannot be read; load one on the Catalog page.")
            return None, None, "", images_default
        st.caption(f"Catalogue: **{md_escape(catalog.name)}**, {len(catalog.table):,} rows.")
        return catalog.table, None, catalog.name, images_default
    if source == SRC_DEMO:
        demos = _demo_folders()
        if not demos:
            st.warning(f"The built-in demo set is missing ({md_escape(settings.demo_dir)}).")
            return None, None, "", None
        name = st.selectbox("Demo labels", list(demos), key=state_keys.PREDICT_JOB_DEMO, persist_state="session")
        folder = demos[name]
        images = folder / "images" if (folder / "images").is_dir() else folder
        return None, folder / "labels.csv", f"demo_{name}", images
    if source == SRC_CSV:
        text = st.text_input("Catalogue CSV", key=state_keys.PREDICT_JOB_CSV, persist_state="session",
                             placeholder=str(settings.catalogs_dir / "catalogue.csv"),
                             help="A catalogue or label CSV with an OBJID (or FILE) column, on this server.")
        if not text.strip():
            return None, None, "", images_default
        try:
            path = confine(text, "Catalogue CSV")
        except PathNotAllowed as exc:
            st.error(md_escape(exc))
            return None, None, "", images_default
        if not path.is_file():
            st.error(f"Catalogue CSV: {md_escape(text)} is not a file.")
            return None, None, "", images_default
        return None, path, path.name, images_default
    return None, None, "images", images_default


def _start(call) -> None:
    try:
        call()
    except jobs.JobBusy:
        st.error("A prediction job is already running or starting for this output file; wait for it or cancel it.")
        return
    except (EngineError, PermissionError, ValueError, OSError) as exc:
        st.error(f"Could not start the job: {md_escape(exc)}")
        return
    st.session_state[state_keys.PREDICT_JOB_SEEN_ACTIVE] = True
    st.rerun()


def _form(run: dict) -> Path | None:
    """The job's settings and the start button; returns the job folder of the output typed (or None)."""
    settings = get_settings()
    table, catalog, name, images_hint = _catalogue()
    images_text = st.text_input("Image folder", value=str(images_hint or settings.images_dir),
                                key=f"{state_keys.PREDICT_JOB_IMAGES}|{name}",
                                help="The `<OBJID>.jpg` files; on a scheduler's cluster, a path every worker sees.")
    engine = engine_choice(ENGINE_KEYS)
    c1, c2 = st.columns([1, 3])
    partition_rows = c1.number_input("Galaxies per task", min_value=1, max_value=1_000_000,
                                     value=DEFAULT_PARTITION_ROWS, step=500, key=state_keys.PREDICT_JOB_PARTITION,
                                     persist_state="session",
                                     help="One Dask task and one part file each; finished parts survive a cancel, "
                                          "and starting the same job again keeps them.")
    out_default = default_output(run["run_id"], name or "catalogue", settings)
    out_text = c2.text_input("Output CSV", value=str(out_default), key=f"{state_keys.PREDICT_JOB_OUT}|{run['run_id']}|{name}",
                             help="Rows already in this file are not predicted again.")
    problems, images, out = [], None, None
    try:
        images = confine(images_text, "Image folder")
        if not images.is_dir():
            problems.append(f"Image folder: {images_text} is not a folder (download images on the Images page).")
    except PathNotAllowed as exc:
        problems.append(str(exc))
    try:
        out = confine(out_text, "Output CSV")
        if out.is_dir():
            problems.append(f"Output CSV: {out_text} is a folder; give a file name.")
    except PathNotAllowed as exc:
        problems.append(str(exc))
    for p in problems:
        st.error(md_escape(p))
    ready = (not problems and engine is not None and images is not None and out is not None
             and (table is not None or catalog is not None or name == "images"))
    folder = job_folder_for(out, settings) if out is not None else None
    busy = folder is not None and job_active(jobs.read_job(folder))
    tta = bool(st.session_state.get(state_keys.PREDICT_TTA))
    spec = (PredictJobSpec(images=images, run_dir=Path(run["path"]), out=out, engine=engine, catalog=catalog,
                           tta=tta, partition_rows=int(partition_rows)) if ready else None)
    b1, b2 = st.columns([1, 2])
    if b1.button("Start job", type="primary", icon=":material/play_arrow:",
                 key=state_keys.PREDICT_JOB_START, disabled=spec is None or busy,
                 help="Model and test-time augmentation as chosen at the top of the page."):
        _start(lambda: start_predict_job(spec, folder, table=table))
    with b2.expander("The same job from the command line"):
        if spec is not None:
            shown = spec if table is None else PredictJobSpec(**{**spec.__dict__, "catalog": Path("CATALOGUE.csv")})
            st.code("python -m core " + " ".join(shown.cli_args()), language="bash", wrap_lines=True)
    return folder


def _ending(folder: Path, state: JobState) -> None:
    out = Path(str(state.progress.get("out") or state.settings.get("out") or ""))
    if state.status == JobStatus.FINISHED:
        refused = int(state.progress.get("failures") or 0)
        (st.warning if refused else st.success)(
            f"Finished: {md_escape(state.message)}. Output: {md_escape(display_path(out))}")
        if refused and state.progress.get("refused"):
            with st.expander(f"{refused:,} image{'s' if refused != 1 else ''} refused"):
                st.dataframe([{"ID": r[0], "problem": r[1]} for r in state.progress["refused"]], hide_index=True)
        if out.is_file() and out.stat().st_size <= MAX_DOWNLOAD_MB << 20:
            st.download_button("Download the predictions (CSV)", functools.partial(out.read_bytes),
                               file_name=out.name, mime="text/csv", icon=":material/download:",
                               key="predict_job_download")
        elif out.is_file():
            st.caption(f"The file is larger than {MAX_DOWNLOAD_MB} MB: copy it from the server.")
        return
    if state.status == JobStatus.FAILED:
        st.error(f"The job could not run: {md_escape(state.message)}")
        st.code(jobs.log_tail(folder) or "(empty log)")
    elif state.status == JobStatus.CANCELLED:
        st.info("Cancelled. Finished partitions are kept: continue to predict the rest.")
    elif state.status == JobStatus.INTERRUPTED:
        st.warning("The job stopped without finishing (its worker was killed). Finished partitions are kept.")
    if stored_spec(state) is not None and not get_settings().public:
        if st.button("Continue this job", icon=":material/refresh:", key="predict_job_continue",
                     help="Starts the same job again with the settings it stored; finished parts are kept."):
            _start(lambda: restart_predict_job(folder))


def _panel(preferred: Path | None) -> None:
    st.subheader("Progress")
    found = pick_job(list_jobs(), preferred)
    if found is None:
        st.caption("No whole-catalogue job has run yet.")
        return
    folder, state = found
    if preferred is not None and folder != preferred:
        st.caption("The latest job (its output is not the file named above):")
    now_active = job_active(state)
    p = predict_progress(state)
    words = _STATUS_WORDS.get(state.status, str(state.status))
    st.progress(p.fraction, text=f"{p.parts_done:,} / {p.parts_total:,} partitions · {p.rows_done:,} / "
                                 f"{p.rows_total:,} galaxies · {words}")
    m = st.columns(4)
    m[0].metric("Partitions", f"{p.parts_done:,} / {p.parts_total:,}")
    m[1].metric("Galaxies done", f"{p.rows_done:,}",
                help=f"Of {p.rows_total:,} still to predict when the job started (rows already in the output "
                     "are not counted).")
    m[2].metric("Refused so far" if now_active else "Refused", f"{p.failures:,}",
                help="Images that could not be used (not a JPEG/PNG, damaged); the rest are predicted.")
    m[3].metric("ETA", eta_words(p.eta_s) if state.running else "–",
                help="Galaxies left divided by this run's galaxies per second.")
    rate = "" if p.rows_per_s is None else f" · {p.rows_per_s:.1f} galaxies/s"
    where = f"On {md_escape(p.engine or '?')}{rate} · output {md_escape(display_path(Path(p.out))) if p.out else '?'}"
    st.caption(where + (f" · running for {eta_words(p.elapsed_s)}" if now_active else ""))
    if now_active:
        dashboard_line(p.dashboard)
    if not job_controls(folder, state, now_active, cancel_label="Cancel job", cancel_key="predict_job_cancel",
                        cancel_toast="Cancel requested; finished partitions are kept.", worker="job's worker"):
        _ending(folder, state)
    # The job ended: redraw the tab once (buttons, download); one started elsewhere: poll fast.
    rerun_when_job_changes(state_keys.PREDICT_JOB_SEEN_ACTIVE, now_active)


def show_catalogue_job(run: dict) -> None:
    """The whole tab: explanation, the form (local mode only) and the job's progress, polled from disk."""
    st.write("Predict **every** galaxy of a catalogue (no page limit) as a background job on Dask. The job "
             "keeps running when you close the tab; any tab, and the dashboard after a restart, shows its progress.")
    if get_settings().public:
        st.info("This dashboard runs in the public mode: whole-catalogue jobs, server paths and Dask schedulers "
                "are turned off. Use `python -m core predict --catalog CSV --images DIR --out FILE --cluster N`.")
        return
    preferred = _form(run)
    active = any(job_active(s) for _, s in list_jobs())

    @st.fragment(run_every=POLL_ACTIVE_S if active else POLL_IDLE_S)
    def panel() -> None:
        _panel(preferred)

    panel()

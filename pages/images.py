"""Images: fetch one SDSS cutout per galaxy in the background, watch progress, browse the gallery.

The download runs as a detached ``python -m core download`` process on the image
folder (core.images.download_job); this page reads the folder's state.json from a
fragment that reruns every second, so every tab and a restarted dashboard see the
same job, with the settings it stored. The job runs in that one process, or on Dask
(an embedded LocalCluster or a typed scheduler address, ui.cluster_engine;
core.cluster.download), always as chosen here. Paths typed here go through
core.paths.confine; in the public mode there are no downloads, server paths or clusters.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core import jobs
from core.cluster.download import DEFAULT_PARTITION_ROWS, start_cluster_download_job
from core.cluster.engine import Engine
from core.config import get_settings
from core.images.cutouts import (
    MAX_SIZE,
    MIN_SIZE,
    SDSS_NATIVE_SCALE,
    SOURCE_BASE_URLS,
    SOURCE_LABELS,
    CutoutSettingsError,
)
from core.images.download_config import DownloadConfig
from core.images.download_job import (
    JOB_CATALOG_NAME,
    cli_args,
    job_active,
    job_left,
    restart_job,
    restartable,
    stored_config,
)
from core.images.failures import read_failures
from core.images.folder import list_cutouts
from core.images.imageset import read_imageset
from core.images.importer import ImportReport, import_folder, import_zip
from core.images.matching import mapped_dir
from core.images.selection import choose_galaxies, class_filters, describe_selection
from core.jobs import JobKind
from core.paths import PathNotAllowed, confine
from core.schema import POSITION_COLUMNS, SHORT_LABELS
from core.wording import count
from ui import state_keys
from ui.catalog_state import current_catalog, current_selection, labelled_rows
from ui.cluster_engine import EngineKeys, engine_choice
from ui.credits import show_credit
from ui.download_job_view import SEEN_ACTIVE, show_download_job
from ui.images_gallery import show_gallery
from ui.navigation import ensure_app_navigation
from ui.plain_text import md_escape

POLL_ACTIVE_S = 1.0
POLL_IDLE_S = 5.0
#: Settings-form widget key -> DownloadConfig field it edits.
FORM_FIELDS = {state_keys.IMAGES_SOURCE: "source", state_keys.IMAGES_SCALE: "scale", state_keys.IMAGES_SIZE: "size",
               state_keys.IMAGES_BASE_URL: "base_url", state_keys.IMAGES_REQUESTS: "workers",
               state_keys.IMAGES_INTERVAL: "min_interval", state_keys.IMAGES_TIMEOUT: "deadline",
               state_keys.IMAGES_RETRIES: "retries"}
ENGINE_KEYS = EngineKeys(state_keys.IMAGES_ENGINE, state_keys.IMAGES_WORKERS, state_keys.IMAGES_SCHEDULER)
#: Session key of the last import's outcome, shown after the rerun that redraws every section with it.
IMPORT_RESULT = state_keys.IMAGES_IMPORT_RESULT

ensure_app_navigation()
settings = get_settings()
st.title("Images")
st.caption(
    "Fetch one SDSS JPEG cutout per galaxy, named `<OBJID>.jpg`, while you keep using the dashboard. "
    "The download runs in a separate process: closing the tab does not stop it, valid images already "
    "in the folder are never fetched twice, and a half-written image never appears."
)

catalog = current_catalog()
table: pd.DataFrame = catalog.table if catalog is not None else pd.DataFrame(columns=list(POSITION_COLUMNS))
source_name = catalog.name if catalog is not None else "no catalogue"

# --- image folder (confined; fixed in the public mode) ----------------------------------------
if settings.public:
    folder = settings.images_dir
    st.info("This dashboard runs in the public mode: downloads and folders on the server are turned off. "
            "You can browse the images below and add your own as a zip of `<OBJID>.jpg` files.")
else:
    default_folder = st.session_state.get(state_keys.IMAGES_DIR) or str(settings.images_dir)
    folder_text = st.text_input("Image folder", value=default_folder,
                                help="Where `<OBJID>.jpg` files go. One download job per folder at a time.")
    try:
        folder = confine(folder_text, "Image folder")
    except PathNotAllowed as exc:
        st.error(md_escape(exc))
        show_credit()
        st.stop()
    st.session_state[state_keys.IMAGES_DIR] = str(folder)

job = jobs.read_job(folder)
job = job if job is not None and job.kind in ("", JobKind.DOWNLOAD) else None
active = job_active(job)
on_disk = {p.stem for p in list_cutouts(folder)}


def _form_values(config: DownloadConfig) -> dict[str, object]:
    """Widget values for a config (the base URL shows only when it is not the service's own)."""
    values = {key: getattr(config, name) for key, name in FORM_FIELDS.items()}
    own = settings.cutout_base_url or SOURCE_BASE_URLS.get(config.source, "")
    values[state_keys.IMAGES_BASE_URL] = "" if config.base_url in (None, own) else config.base_url
    values[state_keys.IMAGES_SCALE], values[state_keys.IMAGES_TIMEOUT] = float(config.scale), float(config.deadline)
    values[state_keys.IMAGES_INTERVAL] = float(config.min_interval)
    return values


def _prefill_form() -> None:
    """Fill the settings form from the folder's running or last job (else the defaults), once per folder."""
    fresh = st.session_state.get(state_keys.IMAGES_PREFILLED_FOR) != str(folder)
    for key, value in st.session_state.get(state_keys.IMAGES_KEPT, {}).items():
        st.session_state.setdefault(key, value)  # back from another page: the choices made before
    base = stored_config(job) or DownloadConfig()
    for key, value in _form_values(base).items():
        if fresh or key not in st.session_state:
            st.session_state[key] = value
    st.session_state[state_keys.IMAGES_PREFILLED_FOR] = str(folder)


def _galaxies() -> tuple[pd.DataFrame, str]:
    """Section 1: the rows to fetch and plain words describing them."""
    st.subheader("1. Galaxies")
    if catalog is None or not catalog.result.has_positions:
        st.error(f"The current catalogue ({md_escape(source_name)}) has no RA/DEC, so no cutouts can be "
                 "requested. Load GZ1 Table 2 or an OBJID,RA,DEC list on the Catalog page.")
        return table.iloc[0:0], ""
    st.caption(f"Catalogue: **{md_escape(source_name)}**, {len(table):,} galaxies with positions "
               "(change it on the Catalog page).")
    sky_ids = current_selection()
    filters = class_filters(table)
    modes = {"all": "All", "first": "First N", "random": "Random N"}
    if filters:
        modes["class"] = "A class or flag"
    if sky_ids:  # offered only when something is selected on the sky map
        modes["selection"] = f"Sky-map selection ({len(sky_ids)})"
    elif st.session_state.get(state_keys.IMAGES_MODE) == "selection":
        st.session_state[state_keys.IMAGES_MODE] = "all"  # the selection was cleared
    # A new selection: fetch what was selected.
    if sky_ids and st.session_state.get(state_keys.IMAGES_MODE_SET_FOR) != sky_ids:
        st.session_state[state_keys.IMAGES_MODE] = "selection"
    st.session_state[state_keys.IMAGES_MODE_SET_FOR] = sky_ids
    mode = st.radio("Which galaxies", list(modes), format_func=modes.get, horizontal=True, key=state_keys.IMAGES_MODE)
    n = seed = class_filter = None
    if mode in ("first", "random"):
        c1, c2 = st.columns([1, 1])
        n = c1.number_input("N", min_value=1, max_value=max(1, len(table)), value=min(50, len(table)),
                            step=10, key=state_keys.IMAGES_N)
        if mode == "random":
            seed = c2.number_input("Random seed", min_value=0, value=0, step=1, key=state_keys.IMAGES_SEED)
    elif mode == "class":
        def _filter_label(f: str) -> str:
            if f.startswith("TOP:"):
                return f"Top human answer: {SHORT_LABELS[f[4:]]} (largest raw vote fraction)"
            return f"GZ1 flag {f} = 1"
        class_filter = st.selectbox("Class", filters, format_func=_filter_label, key=state_keys.IMAGES_CLASS)
    if not sky_ids:
        st.caption("To fetch a hand-picked set, draw a box or lasso on the Catalog page's sky map.")
    subset = choose_galaxies(table, mode, n=n, seed=int(seed or 0), class_filter=class_filter, objids=sky_ids)
    have = int(subset["OBJID"].isin(on_disk).sum()) if len(subset) else 0
    st.markdown(f"**{len(subset):,}** galaxies selected, **{have:,}** already in the folder, "
                f"**{len(subset) - have:,}** to fetch.")
    return subset, describe_selection(source_name, mode, len(subset), n, seed, class_filter)


def _settings_form() -> DownloadConfig:
    """Section 2: source and settings, pre-filled from the folder's job."""
    st.subheader("2. Source and settings")
    _prefill_form()
    c1, c2, c3 = st.columns([2, 1, 1])
    source = c1.selectbox("Cutout service", list(SOURCE_BASE_URLS), format_func=SOURCE_LABELS.get,
                          key=state_keys.IMAGES_SOURCE)
    scale = c2.number_input("Scale (arcsec/pixel)", min_value=0.05, max_value=10.0, step=0.05, format="%.3f",
                            key=state_keys.IMAGES_SCALE, help=f"SDSS native pixels are {SDSS_NATIVE_SCALE}\".")
    size = c3.number_input("Size (pixels, square)", min_value=MIN_SIZE, max_value=MAX_SIZE, step=32,
                           key=state_keys.IMAGES_SIZE)
    st.caption(f"Field of view: {scale * size:.0f}\" x {scale * size:.0f}\" ({scale * size / 60:.2f} arcmin).")
    with st.expander("Advanced: server, politeness, retries"):
        default_url = settings.cutout_base_url or SOURCE_BASE_URLS[source]
        base_url = st.text_input("Base URL", placeholder=default_url, key=state_keys.IMAGES_BASE_URL,
                                 help="Leave empty for the service's own address. Only SDSS's hosts and those "
                                      "the server's operator allowed (GZ_CUTOUT_HOSTS) are accepted.")
        a1, a2, a3, a4 = st.columns(4)
        workers = a1.number_input("Parallel requests", 1, 16, key=state_keys.IMAGES_REQUESTS,
                                  help="Please stay polite to SkyServer: 4 is plenty. On Dask this bounds the "
                                       "requests in flight across the whole cluster.")
        min_interval = a2.number_input("Min. seconds between requests", 0.0, 10.0, step=0.05,
                                       key=state_keys.IMAGES_INTERVAL)
        timeout = a3.number_input("Timeout per request (s)", 1.0, 300.0, step=5.0, key=state_keys.IMAGES_TIMEOUT,
                                  help="Longest one request may take, from connecting to the last byte, "
                                       "however slowly the server sends.")
        retries = a4.number_input("Retries", 0, 10, key=state_keys.IMAGES_RETRIES,
                                  help="After timeouts, connection errors, 5xx and damaged answers, with backoff.")
    config = DownloadConfig(source=source, scale=float(scale), size=int(size), base_url=base_url.strip() or None,
                            workers=int(workers), min_interval=float(min_interval), timeout=float(timeout),
                            deadline=float(timeout), connect_timeout=min(10.0, float(timeout)), retries=int(retries))
    st.caption(f"Worst case: {md_escape(config.worst_case_text())}.")
    return config


def _engine(config: DownloadConfig) -> tuple[Engine | None, int]:
    """Where the job runs (None after drawing why it cannot) and the galaxies per Dask task."""
    rows = [DEFAULT_PARTITION_ROWS]

    def partition_input(column) -> None:
        rows[0] = int(column.number_input(
            "Galaxies per task", min_value=1, max_value=1_000_000, value=DEFAULT_PARTITION_ROWS, step=500,
            key=state_keys.IMAGES_PARTITION, persist_state="session",
            help="One Dask task (a partition of the galaxies) each; progress counts finished partitions."))

    engine = engine_choice(ENGINE_KEYS, single="This process runs the download on its own (the usual choice).",
                           help_text="On Dask the galaxies are split into tasks; the image folder must be on "
                                     "a filesystem every worker sees.", beside=partition_input)
    if engine is not None and engine.distributed:
        st.caption(f"Parallel requests ({config.workers}) bounds the requests in flight across the whole cluster, "
                   "however many workers it has, so SkyServer is not loaded more.")
    return engine, rows[0]


def _start(call) -> None:
    """Run a job starter; show why it was refused, or rerun to watch the new job."""
    try:
        call()
    except jobs.JobBusy:
        st.error("A download is already running or starting in this folder; wait for it or cancel it.")
        return
    except (CutoutSettingsError, ValueError, OSError) as exc:
        st.error(f"Could not start the download: {md_escape(exc)}")
        return
    st.session_state[SEEN_ACTIVE] = True
    st.rerun()


if not settings.public:
    subset, selection_text = _galaxies()
    config = _settings_form()
    engine, partition_rows = _engine(config)
    engine_args = [*engine.cli_args(), "--partition-rows", str(partition_rows)] if engine and engine.distributed else []
    try:
        config.validated()
        settings_error = None
    except (CutoutSettingsError, ValueError) as exc:
        settings_error = str(exc)
        st.error(md_escape(settings_error))
    b1, b2 = st.columns([1, 2])
    if b1.button("Start download", type="primary", icon=":material/download:", key=state_keys.IMAGES_START,
                 disabled=active or settings_error is not None or len(subset) == 0 or engine is None):
        _start(lambda: start_cluster_download_job(subset[list(POSITION_COLUMNS)], folder, config, engine,
                                                  selection_text, partition_rows=partition_rows))
    with b2.expander("The same job from the command line"):
        if settings_error is None:
            st.code("python -m core " + " ".join(cli_args(folder / JOB_CATALOG_NAME, folder, config,
                                                          engine_args=engine_args)),
                    language="bash", wrap_lines=True)


# --- 3. progress (polled from disk) -----------------------------------------------------------
@st.fragment(run_every=POLL_ACTIVE_S if active else POLL_IDLE_S)
def job_panel() -> None:
    show_download_job(folder)


job_panel()

# --- failures, retry and resume (with the job's own settings) ---------------------------------
failures = pd.DataFrame(read_failures(folder))
if len(failures) and "OBJID" in failures.columns:  # images imported since then are no failures any more
    now_here = failures["OBJID"].astype(str).isin(on_disk)
    if now_here.any():
        n = int(now_here.sum())
        st.caption(f"{count(n, 'galaxy', 'galaxies')} that failed to download {'is' if n == 1 else 'are'} "
                   "now in the folder.")
    failures = failures[~now_here]
left = job_left(folder)
if len(failures):
    st.subheader(f"Failures ({len(failures):,})")
    shown = [c for c in ("OBJID", "REASON", "ATTEMPTS", "HTTP_STATUS") if c in failures.columns]
    st.dataframe(failures[shown], hide_index=True, width="stretch",
                 height=min(36 * (len(failures) + 1) + 2, 300))
    with st.expander("Raw errors (for debugging)"):
        raw = [c for c in ("OBJID", "DETAIL", "URL") if c in failures.columns]
        st.dataframe(failures[raw], hide_index=True, width="stretch")
if not settings.public and not active and left.to_fetch and restartable(folder, job):
    parts = [f"retry {left.failed:,} failed"] if left.failed else []
    parts += [f"fetch {left.not_attempted:,} not attempted"] if left.not_attempted else []
    label = " and ".join(parts).capitalize()
    if st.button(label, icon=":material/refresh:", key=state_keys.IMAGES_RETRY,
                 help="Starts the same job again with the settings it stored, on the engine it ran on; "
                      "images already here are kept."):
        _start(lambda: restart_job(folder))

# --- import -----------------------------------------------------------------------------------
def _imported(reports: list[tuple[str, ImportReport]]) -> None:
    """Keep what the import did and rerun, so every section (counts, failures, retry, gallery) shows it."""
    st.session_state[IMPORT_RESULT] = reports
    st.rerun()


def _show_import_result() -> None:
    """The last import's outcome, once (drawn after the rerun that follows it)."""
    for name, report in st.session_state.pop(IMPORT_RESULT, None) or []:
        if name == "built-in":
            st.success(f"Built-in images: {md_escape(report.summary())}. Their galaxies are the Catalog page's "
                       "built-in galaxies with images.")
            continue
        st.success(f"{md_escape(name)}: {md_escape(report.summary())}")
        if report.rejected:
            st.dataframe(pd.DataFrame(report.rejected, columns=["file", "reason"]), hide_index=True)
        if len(report.ignored) > 5:  # the summary names the first five
            st.text(f"Ignored (not named <OBJID>.jpg): {', '.join(report.ignored[:50])}"
                    + (f" and {len(report.ignored) - 50} more" if len(report.ignored) > 50 else ""))


with st.expander("Import images you already have", expanded=IMPORT_RESULT in st.session_state):
    _show_import_result()
    st.caption("Files named `<OBJID>.jpg` (or `.jpeg`) are checked like downloads (a whole JPEG that decodes "
               "and is not blank) and copied into the image folder; images already there are kept.")
    builtin = mapped_dir(settings.data_dir)
    n_builtin = len(list_cutouts(builtin)) if builtin.is_dir() else 0
    if n_builtin and st.button(f"Import the {n_builtin} built-in images", icon=":material/photo_library:",
                               key=state_keys.IMAGES_IMPORT_BUILTIN, disabled=active,
                               help="GZ1 images shipped with the app of the galaxies of the Catalog page's "
                                    "built-in galaxies with images, so the journey works offline."):
        try:
            report = import_folder(builtin, folder)
        except (FileNotFoundError, ValueError, PermissionError, jobs.JobBusy) as exc:
            st.error(md_escape(exc))
        else:
            _imported([("built-in", report)])
    i1, i2 = st.columns(2)
    src_folder = "" if settings.public else i1.text_input("From a folder on this computer",
                                                          key=state_keys.IMAGES_IMPORT_FOLDER)
    zip_file = i2.file_uploader("From a zip archive", type=["zip"], key=state_keys.IMAGES_IMPORT_ZIP)
    if st.button("Import", key=state_keys.IMAGES_IMPORT, disabled=active or not (src_folder.strip() or zip_file)):
        try:
            reports = []
            if src_folder.strip():
                reports.append(("folder", import_folder(confine(src_folder, "Import folder"), folder)))
            if zip_file is not None:
                reports.append((zip_file.name, import_zip(zip_file, folder)))
        except (FileNotFoundError, ValueError, PermissionError, jobs.JobBusy) as exc:
            st.error(md_escape(exc))
        else:
            _imported(reports)

imageset = read_imageset(folder)
if imageset:
    with st.expander("About these images (imageset.json)"):
        st.dataframe(pd.DataFrame([(k, str(v)) for k, v in imageset.items()], columns=["key", "value"]),
                     hide_index=True, width="stretch")


# --- gallery ----------------------------------------------------------------------------------
show_gallery(folder, labelled_rows(catalog, table) if catalog is not None else table)  # mapped: labels.csv

st.session_state[state_keys.IMAGES_KEPT] = {k: st.session_state[k] for k in (*FORM_FIELDS, state_keys.IMAGES_ONLY_CATALOG)
                                           if k in st.session_state}
show_credit()

"""Images: fetch one SDSS cutout per galaxy in the background, watch progress, browse the gallery.

The download runs as a detached ``python -m core download`` process on the image
folder (core.images.download.start_download_job); this page reads the folder's
state.json from a fragment that reruns every second, so every tab and a
restarted dashboard see the same job. No st.* call happens outside the script thread.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

from core import jobs
from core.catalog.reader import load_sample
from core.config import get_settings
from core.images.cutouts import (
    MAX_SIZE,
    MIN_SIZE,
    SDSS_NATIVE_SCALE,
    SOURCE_BASE_URLS,
    SOURCE_LABELS,
    CutoutSettings,
    CutoutSettingsError,
)
from core.images.download import (
    DownloadOptions,
    choose_galaxies,
    class_filters,
    cli_args,
    job_active,
    read_failures,
    start_download_job,
)
from core.images.folder import list_cutouts
from core.images.importer import import_folder, import_zip
from core.schema import RAW_COLUMNS, SHORT_LABELS
from ui import state_keys
from ui.credits import show_credit
from ui.navigation import ensure_app_navigation

POLL_ACTIVE_S = 1.0
POLL_IDLE_S = 5.0
GALLERY_PAGE = 24
GALLERY_COLUMNS = 6
SEEN_ACTIVE = state_keys.IMAGES_JOB_SEEN_ACTIVE
SHORT = {"P_EL": "EL", "P_CW": "CW", "P_ACW": "ACW", "P_EDGE": "EDGE", "P_DK": "DK", "P_MG": "MG"}

ensure_app_navigation()
settings = get_settings()
st.title("Images")
st.caption(
    "Fetch one SDSS JPEG cutout per galaxy, named `<OBJID>.jpg`, while you keep using the dashboard. "
    "The download runs in a separate process: closing the tab does not stop it, valid images already "
    "in the folder are never fetched twice, and a half-written image never appears."
)

# --- catalogue and folder ---------------------------------------------------------------------
catalog = st.session_state.get(state_keys.CATALOG)
source_name = st.session_state.get(state_keys.CATALOG_SOURCE)
if catalog is None:
    catalog = load_sample()
    source_name = catalog.name
table: pd.DataFrame = catalog.table

default_folder = st.session_state.get(state_keys.IMAGES_DIR) or str(settings.images_dir)
folder_text = st.text_input("Image folder", value=default_folder,
                            help="Where `<OBJID>.jpg` files go. One download job per folder at a time.")
folder = Path(folder_text).expanduser().resolve()
st.session_state[state_keys.IMAGES_DIR] = str(folder)

state = jobs.read_state(folder)
active = job_active(state)
on_disk = {p.stem for p in list_cutouts(folder)}

# --- 1. which galaxies ------------------------------------------------------------------------
st.subheader("1. Galaxies")
if not catalog.has_positions:
    st.error(f"The current catalogue ({source_name}) has no RA/DEC ({catalog.form} form), so no cutouts "
             "can be requested. Load GZ1 Table 2 or an OBJID,RA,DEC list on the Catalog page.")
    subset = table.iloc[0:0]
else:
    st.caption(f"Catalogue: **{source_name}**, {len(table):,} galaxies with positions "
               "(change it on the Catalog page).")
    sky = st.session_state.get(state_keys.SKY_SELECTION)
    sky_ids = [str(x) for x in sky] if sky is not None else []
    filters = class_filters(table)
    modes = {"all": "All", "first": "First N", "random": "Random N"}
    if filters:
        modes["class"] = "A class or flag"
    modes["selection"] = f"Sky-map selection ({len(sky_ids)})"
    mode = st.radio("Which galaxies", list(modes), format_func=modes.get, horizontal=True, key="img_mode")
    n = seed = class_filter = None
    if mode in ("first", "random"):
        c1, c2 = st.columns([1, 1])
        n = c1.number_input("N", min_value=1, max_value=max(1, len(table)), value=min(50, len(table)),
                            step=10, key="img_n")
        if mode == "random":
            seed = c2.number_input("Random seed", min_value=0, value=0, step=1, key="img_seed")
    elif mode == "class":
        def _filter_label(f: str) -> str:
            if f.startswith("TOP:"):
                return f"Top human answer: {SHORT_LABELS[f[4:]]} (largest raw vote fraction)"
            return f"GZ1 flag {f} = 1"
        class_filter = st.selectbox("Class", filters, format_func=_filter_label, key="img_class")
    elif mode == "selection" and not sky_ids:
        st.info("Nothing is selected on the sky map yet: draw a box or lasso on the Catalog page's map.")
    subset = choose_galaxies(table, mode, n=n, seed=int(seed or 0), class_filter=class_filter, objids=sky_ids)
    have = int(subset["OBJID"].isin(on_disk).sum()) if len(subset) else 0
    st.markdown(f"**{len(subset):,}** galaxies selected, **{have:,}** already in the folder, "
                f"**{len(subset) - have:,}** to fetch.")

# --- 2. source and settings -------------------------------------------------------------------
st.subheader("2. Source and settings")
c1, c2, c3 = st.columns([2, 1, 1])
source = c1.selectbox("Cutout service", list(SOURCE_BASE_URLS), format_func=SOURCE_LABELS.get, key="img_source")
scale = c2.number_input("Scale (arcsec/pixel)", min_value=0.05, max_value=10.0, value=SDSS_NATIVE_SCALE,
                        step=0.05, format="%.3f", key="img_scale",
                        help=f"SDSS native pixels are {SDSS_NATIVE_SCALE}\".")
size = c3.number_input("Size (pixels, square)", min_value=MIN_SIZE, max_value=MAX_SIZE, value=256, step=32,
                       key="img_size")
st.caption(f"Field of view: {scale * size:.0f}\" x {scale * size:.0f}\" ({scale * size / 60:.2f} arcmin).")
with st.expander("Advanced: server, politeness, retries"):
    a1, a2, a3, a4 = st.columns(4)
    default_url = settings.cutout_base_url or SOURCE_BASE_URLS[source]
    base_url = st.text_input("Base URL", value="", placeholder=default_url, key="img_base_url",
                             help="Leave empty for the service's own address (or $GZ_CUTOUT_BASE_URL).")
    workers = a1.number_input("Parallel requests", 1, 16, settings.download_workers, key="img_workers",
                              help="Please stay polite to SkyServer: 4 is plenty.")
    min_interval = a2.number_input("Min. seconds between requests", 0.0, 10.0, 0.0, 0.05, key="img_interval")
    timeout = a3.number_input("Timeout per request (s)", 1.0, 300.0, 30.0, 5.0, key="img_timeout")
    retries = a4.number_input("Retries", 0, 10, 3, key="img_retries",
                              help="After timeouts, connection errors and 5xx, with exponential backoff.")

cutout = CutoutSettings(source=source, scale=float(scale), width=int(size), height=int(size),
                        base_url=base_url.strip() or None)
options = DownloadOptions(workers=int(workers), read_timeout=float(timeout),
                          connect_timeout=min(10.0, float(timeout)), max_attempts=int(retries) + 1,
                          min_interval=float(min_interval))
try:
    cutout.validated()
    settings_error = None
except CutoutSettingsError as exc:
    settings_error = str(exc)
    st.error(settings_error)


def _start(rows: pd.DataFrame) -> None:
    try:
        start_download_job(rows[["OBJID", "RA", "DEC"]], folder, cutout, options)
    except jobs.JobBusy:
        st.error("A download is already running in this folder; wait for it or cancel it.")
        return
    except (CutoutSettingsError, ValueError, OSError) as exc:
        st.error(f"Could not start the download: {exc}")
        return
    st.session_state[SEEN_ACTIVE] = True
    st.rerun()


b1, b2 = st.columns([1, 3])
if b1.button("Start download", type="primary", icon=":material/download:", key="img_start",
             disabled=active or settings_error is not None or len(subset) == 0):
    _start(subset)
with b2.expander("The same job from the command line"):
    try:
        args = [a for a in cli_args(folder / "job_catalog.csv", folder, cutout, options) if a != "--no-progress"]
        st.code("python -m core " + " ".join(args), language="bash", wrap_lines=True)
    except CutoutSettingsError:
        st.caption("Fix the settings first.")


# --- 3. progress (polled from disk) -----------------------------------------------------------
def _eta(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    seconds = int(seconds)
    return f"{seconds // 3600}h {seconds % 3600 // 60:02d}m" if seconds >= 3600 else f"{seconds // 60}m {seconds % 60:02d}s"


def _log_tail(lines: int = 8) -> str:
    try:
        return "\n".join((folder / jobs.LOG_NAME).read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


@st.fragment(run_every=POLL_ACTIVE_S if active else POLL_IDLE_S)
def job_panel() -> None:
    st.subheader("3. Progress")
    state = jobs.read_state(folder)
    if state is None or state.get("kind") not in (None, "download"):
        st.caption("No download has run in this folder yet.")
        return
    status = state.get("status", "?")
    running = bool(state.get("running"))
    now_active = job_active(state)
    total, processed = int(state.get("total") or 0), int(state.get("processed") or 0)
    fraction = min(1.0, processed / total) if total else (1.0 if status == "done" else 0.0)
    words = {"running": "downloading", "starting": "starting", "done": "finished", "cancelled": "cancelled",
             "interrupted": "interrupted", "error": "error"}.get(status, status)
    st.progress(fraction, text=f"{processed:,} / {total:,} galaxies · {words}")
    m = st.columns(5)
    m[0].metric("Downloaded", f"{int(state.get('done') or 0):,}")
    m[1].metric("Already present", f"{int(state.get('skipped') or 0):,}")
    m[2].metric("Failed", f"{int(state.get('failed') or 0):,}")
    m[3].metric("Images / s", f"{float(state.get('throughput') or 0):.1f}")
    m[4].metric("ETA", _eta(state.get("eta_s")) if running else "–")
    if running:
        if st.button("Cancel download", icon=":material/stop:", key="img_cancel"):
            jobs.request_cancel(folder)
            st.toast("Cancel requested; finished images are kept.")
    elif status == "starting":
        if now_active:
            st.caption("Starting the download worker…")
        else:
            st.warning("The download worker has not started. The end of its log:")
            st.code(_log_tail() or "(empty)")
    elif status == "interrupted":
        st.warning("The download stopped without finishing (the worker was killed). Press **Start download** "
                   "again to resume: images already on disk are kept and not fetched again.")
    elif status == "error":
        st.error(f"The download could not run: {state.get('message', '')}")
        st.code(_log_tail() or "(empty log)")
    elif status == "cancelled":
        st.info(f"Cancelled: {int(state.get('pending') or 0):,} galaxies were not attempted. Start again to resume.")
    elif status == "done":
        st.success(f"Finished in {float(state.get('elapsed_s') or 0):.1f} s.")
    # When a job ends, rerun the whole page once so the gallery, failures and buttons catch up.
    if st.session_state.get(SEEN_ACTIVE) and not now_active:
        st.session_state[SEEN_ACTIVE] = False
        st.rerun()
    if now_active and not st.session_state.get(SEEN_ACTIVE):
        st.session_state[SEEN_ACTIVE] = True
        st.rerun()  # a job started elsewhere: switch this page to fast polling


job_panel()

# --- failures ---------------------------------------------------------------------------------
failures = pd.DataFrame(read_failures(folder))
if len(failures):
    st.subheader(f"Failures ({len(failures):,})")
    st.dataframe(failures, hide_index=True, width="stretch", height=min(36 * (len(failures) + 1) + 2, 300),
                 column_config={"URL": st.column_config.LinkColumn("URL", width="small")})
    retryable = failures[failures["OBJID"].str.fullmatch(r"[0-9]{1,20}")
                         & (failures["RA"].str.len() > 0) & (failures["DEC"].str.len() > 0)]
    if st.button(f"Retry {len(retryable):,} failed", icon=":material/refresh:", key="img_retry",
                 disabled=active or settings_error is not None or len(retryable) == 0):
        _start(retryable.assign(RA=retryable["RA"].astype(float), DEC=retryable["DEC"].astype(float)))

# --- import -----------------------------------------------------------------------------------
with st.expander("Import images you already have"):
    st.caption("Files named `<OBJID>.jpg` (or `.jpeg`) are checked like downloads (a whole JPEG that decodes "
               "and is not blank) and copied into the image folder; images already there are kept.")
    i1, i2 = st.columns(2)
    src_folder = i1.text_input("From a folder on this computer", key="img_import_folder")
    zip_file = i2.file_uploader("From a zip archive", type=["zip"], key="img_import_zip")
    if st.button("Import", key="img_import", disabled=active or not (src_folder.strip() or zip_file)):
        try:
            reports = []
            if src_folder.strip():
                reports.append(("folder", import_folder(Path(src_folder.strip()), folder)))
            if zip_file is not None:
                reports.append((zip_file.name, import_zip(zip_file, folder)))
        except (FileNotFoundError, ValueError, jobs.JobBusy) as exc:
            st.error(str(exc))
        else:
            for name, report in reports:
                st.success(f"{name}: {report.summary()}")
                if report.rejected:
                    st.dataframe(pd.DataFrame(report.rejected, columns=["file", "reason"]), hide_index=True)

# --- gallery ----------------------------------------------------------------------------------
images = list_cutouts(folder)
st.subheader(f"Gallery ({len(images):,} image{'' if len(images) == 1 else 's'})")
if not images:
    st.caption("No images in this folder yet.")
else:
    votes = table.set_index("OBJID") if "OBJID" in table.columns else pd.DataFrame()
    only_catalog = st.toggle("Only galaxies of the current catalogue", value=False, key="img_only_catalog")
    if only_catalog:
        images = [p for p in images if p.stem in votes.index]
    pages = max(1, -(-len(images) // GALLERY_PAGE))
    page = st.number_input(f"Page (of {pages})", 1, pages, 1, key="img_page") if pages > 1 else 1
    shown = images[(page - 1) * GALLERY_PAGE: page * GALLERY_PAGE]
    have_votes = [c for c in RAW_COLUMNS if c in votes.columns]
    cols = st.columns(GALLERY_COLUMNS)
    for i, path in enumerate(shown):
        with cols[i % GALLERY_COLUMNS]:
            st.image(str(path), width="stretch")
            lines = [f"**{path.stem}**"]
            if path.stem in votes.index and have_votes:
                row = votes.loc[path.stem]
                row = row.iloc[0] if isinstance(row, pd.DataFrame) else row
                fr = {c: float(row[c]) for c in have_votes}
                top = max(fr, key=fr.get)
                cells = [f"{SHORT[c]} {v:.2f}" if c != top else f"**{SHORT[c]} {v:.2f}**" for c, v in fr.items()]
                # Two answers per line keeps the text readable in a narrow gallery column.
                lines += [" · ".join(cells[j:j + 2]) for j in range(0, len(cells), 2)]
                if "NVOTE" in votes.columns:
                    lines.append(f"{int(row['NVOTE'])} votes")
            else:
                lines.append("no vote fractions in the current catalogue")
            st.caption("  \n".join(lines))
    st.caption("Under each image: the share of Galaxy Zoo volunteers who chose each answer "
               "(EL elliptical, CW/ACW clockwise/anticlockwise spiral, EDGE edge-on, DK don't know, "
               "MG merger); the most popular answer in bold.")

show_credit()

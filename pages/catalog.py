"""Catalog: load a GZ1 catalogue (upload or built-in sample), check it, map it, download outputs.

All parsing, validation, projection and export lives in ``core``; this page
only gathers input and draws.
"""

from __future__ import annotations

import hashlib

import pandas as pd
import streamlit as st

from core.catalog.exports import (
    IMAGE_LIST_LIMIT,
    clean_csv_bytes,
    image_list_download,
    rejected_csv_bytes,
    training_csv_bytes,
)
from core.catalog.reader import CatalogReadError, CatalogResult, load_catalog, select_rows
from core.catalog.stats import fraction_histograms, summary_statistics
from core.config import get_settings
from core.images.matching import mapped_dir
from core.paths import display_path
from core.schema import CLEAN_COLUMNS, VOTE_COLUMNS
from core.wording import count
from ui import state_keys
from ui.catalog_charts import histogram_figure
from ui.catalog_state import (
    current_catalog,
    forget_catalog,
    load_mapped_catalog,
    load_sample_catalog,
    mapped_digest,
    sample_digest,
    set_catalog,
    set_selection,
)
from ui.credits import show_credit
from ui.navigation import ensure_app_navigation
from ui.plain_text import md_escape
from ui.sky_map_view import show_sky_map

PREVIEW_ROWS = 1_000
PREVIEW_ORDER = ["OBJID", "RA_STR", "RA", "DEC_STR", "DEC", "NVOTE", *VOTE_COLUMNS, "SPIRAL", "ELLIPTICAL", "UNCERTAIN"]


@st.cache_data(max_entries=3, show_spinner="Reading and checking the catalogue ...")
def _parse_upload(digest: str, _data: bytes, name: str) -> CatalogResult:
    """Parse an upload; cached on the content hash so reruns and re-uploads are instant."""
    return load_catalog(_data, name=name)


def _fit_height(n_rows: int) -> int:
    """Pixel height that shows ``n_rows`` dataframe rows and the header without scrolling."""
    return 35 * (n_rows + 1) + 3


def _digest(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def _load_catalog() -> tuple[CatalogResult | None, str | None, str | None]:
    """(result, digest, error message) for the uploaded file, or the built-in sample.

    Streamlit forgets an uploader's file when the user visits another page, so a catalogue
    uploaded earlier in the session is kept until the user removes it or picks the sample.
    """
    # A new uploader key empties the uploader: that is how "use the built-in sample" resets it.
    generation = st.session_state.get(state_keys.CATALOG_UPLOAD_GENERATION, 0)
    key = f"catalog_upload_{generation}"
    returning = key not in st.session_state  # first run of this page since another page was shown
    limit_mb = get_settings().max_catalog_mb
    uploaded = st.file_uploader(
        "Upload a GZ1 catalogue (.csv or .csv.gz): Table 2 (16 or 13 columns), a zooSpec export, "
        "the 10-column training form or an OBJID,RA,DEC list",
        type=["csv", "gz"], key=key,
        help=f"Up to {limit_mb:,} MB, also after decompression (the full Table 2 is about 90 MB).",
    )
    earlier = current_catalog() if uploaded is None and (returning or st.session_state.get(state_keys.CATALOG_KEEP_EARLIER)) else None
    keep_earlier = earlier is not None and not earlier.is_sample
    st.session_state[state_keys.CATALOG_KEEP_EARLIER] = keep_earlier
    if keep_earlier and earlier.digest == mapped_digest():
        st.caption(f"Using the **{md_escape(earlier.name)}** ({len(earlier.table):,}): real positions of the "
                   "galaxies whose images ship with the app (import them on the **Images** page). They have no "
                   "Table-2 vote fractions: the **Train** page's *Current catalogue* trains on them with their "
                   f"rows of `{display_path(mapped_dir() / 'labels.csv')}` (the source's class, used class-derived).")
    elif keep_earlier:
        st.caption(f"Using **{md_escape(earlier.name)}**, uploaded earlier in this session.")
    if uploaded is None and not (keep_earlier and earlier.digest == mapped_digest()) and st.button(
            "Use the built-in galaxies with images", icon=":material/photo_library:", key="catalog_use_mapped",
            help="A small built-in catalogue (OBJID, RA, DEC) of the galaxies whose images ship with the app, "
                 "so the sky map, Images, Train and Predict work on the same galaxies offline."):
        try:
            mapped = load_mapped_catalog()
        except (CatalogReadError, OSError) as exc:
            return None, None, str(exc)
        set_catalog(mapped.result, mapped.digest, is_sample=False)
        st.session_state[state_keys.CATALOG_KEEP_EARLIER] = True
        st.rerun()
    if (uploaded is not None or keep_earlier) and st.button("Use the built-in sample instead",
                                                            icon=":material/restart_alt:", key="catalog_use_sample"):
        st.session_state[state_keys.CATALOG_UPLOAD_GENERATION] = generation + 1
        st.session_state[state_keys.CATALOG_KEEP_EARLIER] = False
        forget_catalog()
        st.rerun()
    if keep_earlier:
        return earlier.result, earlier.digest, None
    if uploaded is None:
        try:
            sample = load_sample_catalog()
        except CatalogReadError as exc:
            return None, None, str(exc)
        return sample.result, sample.digest, None
    data = uploaded.getvalue()
    digest = _digest(data)
    if st.session_state.get(state_keys.CATALOG_DIGEST) == digest and state_keys.CATALOG in st.session_state:
        return st.session_state[state_keys.CATALOG], digest, None
    try:
        return _parse_upload(digest, data, uploaded.name), digest, None
    except CatalogReadError as exc:
        return None, None, str(exc)


def _show_report(result: CatalogResult) -> None:
    report = result.report
    st.subheader("Validation report")
    c1, c2, c3, c4 = st.columns(4)
    c1.metric("Rows read", f"{report.n_rows:,}")
    c2.metric("Clean rows", f"{report.n_clean:,}")
    c3.metric("Rejected rows", f"{report.n_rejected:,}")
    c4.metric("Problems", len(report.problems))
    st.caption(f"**{md_escape(report.source)}** · recognised as: {md_escape(report.form_label)}")
    for note in report.notes:
        st.caption(f"Note: {md_escape(note)}")
    if report.ok:
        st.success("No problems found: every row passed every check.", icon=":material/check_circle:")
        return
    st.warning(
        f"{count(len(report.problems), 'kind')} of problem found; {count(report.n_rejected, 'row')} {'was' if report.n_rejected == 1 else 'were'} excluded "
        "and are listed below. Row numbers count data rows from 1 (row n is line n+1 of the file).",
        icon=":material/warning:",
    )
    problems = pd.DataFrame(
        {
            "problem": [p.code for p in report.problems],
            "description": [p.message for p in report.problems],
            "count": [p.count for p in report.problems],
            "first rows": [", ".join(map(str, p.first_rows)) or "(column)" for p in report.problems],
        }
    )
    st.dataframe(problems, hide_index=True, width="stretch", height=_fit_height(len(problems)))
    if len(result.rejected):
        with st.expander(f"Rejected rows ({len(result.rejected):,})"):
            st.dataframe(result.rejected.head(PREVIEW_ROWS), hide_index=True, width="stretch")
        st.download_button(
            "Download rejected rows (CSV)", data=lambda: rejected_csv_bytes(result.rejected),
            file_name="rejected_rows.csv", mime="text/csv", on_click="ignore",
            icon=":material/download:", key="download_rejected",
        )


def _columns_note(columns: list[str]) -> str:
    """What the shown columns hold, named as the table heads them, for only the columns present."""
    notes = []
    text = [c.replace("_STR", " (text)") for c in ("RA_STR", "DEC_STR") if c in columns]
    if text:
        notes.append(f"{' and '.join(text)} {'are' if len(text) > 1 else 'is'} the original sexagesimal "
                     f"string{'s' if len(text) > 1 else ''}")
    degrees = [f"{c} (deg)" for c in ("RA", "DEC") if c in columns]
    if degrees:
        notes.append(f"{' and '.join(degrees)} {'are' if len(degrees) > 1 else 'is'} in decimal degrees (J2000)")
    if "NVOTE" in columns:
        notes.append("NVOTE is the number of volunteers' votes")
    if any(c in VOTE_COLUMNS for c in columns):
        notes.append("P_ columns are fractions of the votes (0 to 1)")
    if any(c in ("SPIRAL", "ELLIPTICAL", "UNCERTAIN") for c in columns):
        notes.append("SPIRAL/ELLIPTICAL/UNCERTAIN are GZ1's 0/1 class flags")
    return "; ".join(notes) + "." if notes else ""


def _show_table(result: CatalogResult, selection: list[str]) -> None:
    table = result.table
    tab_table, tab_summary, tab_hist = st.tabs(["Table", "Summary statistics", "Fraction histograms"])
    shown = select_rows(table, selection) if selection else table
    what = "selected rows" if selection else "clean rows"
    scope = (f"Of the {len(shown):,} galaxies selected on the sky map (clear the selection for all "
             f"{len(table):,})." if selection else f"Of all {count(len(table), 'clean row')} (select on the sky map "
             "to narrow).")
    with tab_table:
        ordered = [c for c in PREVIEW_ORDER if c in shown.columns]
        st.caption(f"First {min(PREVIEW_ROWS, len(shown)):,} of {len(shown):,} {what}. {_columns_note(ordered)}")
        st.dataframe(
            shown.loc[:, ordered].head(PREVIEW_ROWS), hide_index=True, width="stretch", height=360,
            column_config={
                "RA": st.column_config.NumberColumn("RA (deg)", format="%.8f"),
                "DEC": st.column_config.NumberColumn("DEC (deg)", format="%.8f"),
                "RA_STR": st.column_config.TextColumn("RA (text)"),
                "DEC_STR": st.column_config.TextColumn("DEC (text)"),
            },
        )
    with tab_summary:
        st.caption(scope)
        summary = summary_statistics(shown)
        st.dataframe(summary, width="stretch", height=_fit_height(len(summary)))
    with tab_hist:
        st.caption(scope)
        histograms = fraction_histograms(shown)
        if histograms.empty:
            st.info("This catalogue has no vote-fraction columns.")
        else:
            st.plotly_chart(histogram_figure(histograms), key="fraction_histograms", config={"displaylogo": False})


def _show_downloads(result: CatalogResult, selection: list[str]) -> None:
    st.subheader("Downloads")
    scope = "all"
    if selection:
        scope = st.radio(
            "Rows to export", ["selection", "all"], horizontal=True, key="export_scope", persist_state="session",
            format_func=lambda s: f"sky-map selection ({len(selection):,})" if s == "selection"
            else f"all clean rows ({len(result.table):,})",
        )
    rows = select_rows(result.table, selection) if scope == "selection" else result.table
    c1, c2, c3 = st.columns(3)

    missing = result.missing_columns(CLEAN_COLUMNS)
    c1.download_button(
        "Cleaned table (13 columns)", data=lambda: clean_csv_bytes(rows), file_name="gz1_clean.csv",
        mime="text/csv", on_click="ignore", disabled=bool(missing), icon=":material/download:", key="download_clean",
    )
    c1.caption("RA/DEC in decimal degrees." if not missing else f"Needs {', '.join(missing)}.")

    if result.has_positions:
        n_files = max(1, -(-len(rows) // IMAGE_LIST_LIMIT))
        name = "image_list.txt" if n_files == 1 else "image_list.zip"
        c2.download_button(
            "SDSS Image List input", data=lambda: image_list_download(rows)[1], file_name=name,
            mime="text/plain" if n_files == 1 else "application/zip", on_click="ignore",
            icon=":material/download:", key="download_image_list",
        )
        c2.caption(f"`name ra dec`, at most {IMAGE_LIST_LIMIT:,} per file ({count(n_files, 'file')}).")
    else:
        c2.button("SDSS Image List input", disabled=True, key="download_image_list_off")
        c2.caption("Needs RA and DEC.")

    missing_training = result.missing_columns(("OBJID",) + VOTE_COLUMNS)
    c3.download_button(
        "Training CSV (10 columns)", data=lambda: training_csv_bytes(rows), file_name="gz1_training.csv",
        mime="text/csv", on_click="ignore", disabled=bool(missing_training), icon=":material/download:",
        key="download_training",
    )
    c3.caption("OBJ_ID + nine vote fractions." if not missing_training else f"Needs {', '.join(missing_training)}.")


ensure_app_navigation()
st.title("Catalog")
st.markdown(
    "Load the **Galaxy Zoo 1** vote table, see what is wrong with it, get decimal coordinates, "
    "look at the galaxies on the sky and download the files the next steps need. "
    "Without an upload the page shows the built-in sample of 695 real GZ1 galaxies."
)

result, digest, error = _load_catalog()
if error is not None:
    st.error(f"Could not read the file. {md_escape(error)}", icon=":material/error:")
    st.info("Remove the file (x in the uploader) to go back to the built-in sample, or upload another file.")
    show_credit()
    st.stop()

assert result is not None and digest is not None
set_catalog(result, digest, is_sample=digest == sample_digest())

_show_report(result)
if result.report.n_clean == 0:
    st.error("No row passed the checks, so there is nothing to map or download.")
    show_credit()
    st.stop()

selection: list[str] = []
if result.has_positions:
    selection = show_sky_map(result, digest)
else:
    st.info("This catalogue has no RA/DEC columns, so there is no sky map.")
set_selection(selection)

_show_table(result, selection)
_show_downloads(result, selection)
show_credit()

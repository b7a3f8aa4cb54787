"""The Images page's gallery: thumbnails of a folder's ``<OBJID>.jpg`` with the human vote under each.

Each row of thumbnails is its own ``st.columns``, so rows line up whatever the captions'
lengths, and the OBJID sits on one line that never wraps (checked at 1024 px by
``tests/browser/test_images.py``).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

from core.images.folder import list_cutouts
from core.images.reading import display_source
from core.paths import display_path
from core.schema import ANSWER_CODES, RAW_COLUMNS, SHORT_LABELS
from ui import state_keys
from ui.plain_text import md_escape

GALLERY_PAGE = 24
GALLERY_COLUMNS = 4


def vote_caption(objid: str, votes: pd.DataFrame, have_votes: list[str]) -> str:
    """Vote fractions under a thumbnail (the top answer in bold), or a note when there are none."""
    if objid not in votes.index:
        return "not in catalogue"  # short, one line at 1024 px: never read as "in the catalogue"
    if not have_votes:
        return "in catalogue, no votes"
    row = votes.loc[objid]
    row = row.iloc[0] if isinstance(row, pd.DataFrame) else row
    fr = {c: float(row[c]) for c in have_votes}
    top = max(fr, key=fr.get)
    cells = [f"{ANSWER_CODES[c]} {v:.2f}" if c != top else f"**{ANSWER_CODES[c]} {v:.2f}**" for c, v in fr.items()]
    lines = [" · ".join(cells[j:j + 2]) for j in range(0, len(cells), 2)]
    if "NVOTE" in votes.columns:
        lines.append(f"{int(row['NVOTE'])} votes")
    return "  \n".join(lines)


def show_gallery(folder: Path, table: pd.DataFrame) -> None:
    """The gallery of ``folder``, with the vote fractions that ``table`` (the catalogue) holds."""
    images = list_cutouts(folder)
    st.subheader(f"Gallery ({len(images):,} image{'' if len(images) == 1 else 's'})")
    st.caption(f"Folder: {md_escape(display_path(folder))}")
    if not images:
        st.caption("No images in this folder yet.")
        return
    votes = table.set_index(table["OBJID"].astype(str)) if "OBJID" in table.columns else pd.DataFrame()
    if st.toggle("Only galaxies of the current catalogue", value=False, key=state_keys.IMAGES_ONLY_CATALOG):
        images = [p for p in images if p.stem in votes.index]
    pages = max(1, -(-len(images) // GALLERY_PAGE))
    page = st.number_input(f"Page (of {pages})", 1, pages, 1, key=state_keys.IMAGES_GALLERY_PAGE) if pages > 1 else 1
    shown = images[(page - 1) * GALLERY_PAGE: page * GALLERY_PAGE]
    have_votes = [c for c in RAW_COLUMNS if c in votes.columns]
    for start in range(0, len(shown), GALLERY_COLUMNS):  # one st.columns per row keeps rows aligned
        for col, path in zip(st.columns(GALLERY_COLUMNS), shown[start:start + GALLERY_COLUMNS], strict=False):
            with col:
                st.image(display_source(path), width="stretch")
                # OBJIDs are digits only (list_cutouts), so this HTML carries nothing from a user.
                st.markdown(f"<div style='white-space:nowrap;font-size:0.8rem;font-weight:600'>{path.stem}</div>",
                            unsafe_allow_html=True)
                st.caption(vote_caption(path.stem, votes, have_votes))
    codes = ", ".join(f"{ANSWER_CODES[c]} {SHORT_LABELS[c]}" for c in RAW_COLUMNS)
    st.caption(f"Under each image: the share of Galaxy Zoo volunteers who chose each answer ({codes}); "
               "the most popular answer in bold.")

"""The Images page's gallery: thumbnails of a folder's ``<OBJID>.jpg`` with the human label under each.

Under a tile: the catalogue's class (``CLASS_NAME``, or the GZ1 flag that is set) where it has one,
the Galaxy Zoo vote fractions where it has them (``P_*``, or the ``GZ1_P_*`` of a labels file), else
"no votes".

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
from core.schema import ANSWER_CODES, FLAG_COLUMNS, RAW_COLUMNS, SHORT_LABELS
from ui import state_keys
from ui.plain_text import md_escape

GALLERY_PAGE = 24
GALLERY_COLUMNS = 4


def gallery_labels(table: pd.DataFrame) -> pd.DataFrame:
    """``table`` indexed by OBJID (text), a labels file's ``GZ1_P_*``/``GZ1_NVOTE`` read as ``P_*``/``NVOTE``."""
    if "OBJID" not in table.columns:
        return pd.DataFrame()
    votes = table.set_index(table["OBJID"].astype(str).str.strip())
    renames = {f"GZ1_{c}": c for c in (*RAW_COLUMNS, "NVOTE") if f"GZ1_{c}" in votes.columns and c not in votes.columns}
    votes = votes.rename(columns=renames)
    for c in (*RAW_COLUMNS, "NVOTE", *FLAG_COLUMNS):
        if c in votes.columns:
            votes[c] = pd.to_numeric(votes[c], errors="coerce")
    return votes


def _class_words(row: pd.Series) -> str:
    """The row's class: its CLASS_NAME, else the GZ1 flag set to 1 ("" when it has none)."""
    name = str(row.get("CLASS_NAME", "") or "").strip()
    if name and name.lower() != "nan":
        return name
    flags = [f.lower() for f in FLAG_COLUMNS if f in row.index and row[f] == 1]
    return flags[0] if flags else ""


def vote_caption(objid: str, votes: pd.DataFrame, have_votes: list[str]) -> str:
    """The class and vote fractions under a thumbnail (the top answer in bold), or a note when there are none."""
    if objid not in votes.index:
        return "not in catalogue"  # short, one line at 1024 px: never read as "in the catalogue"
    row = votes.loc[objid]
    row = row.iloc[0] if isinstance(row, pd.DataFrame) else row
    label = _class_words(row)
    lines = [f"class {md_escape(label)}"] if label else []
    fr = {c: float(row[c]) for c in have_votes if pd.notna(row[c])}
    if not fr:
        return "  \n".join(lines) if lines else "in catalogue, no votes"
    top = max(fr, key=fr.get)
    cells = [f"{ANSWER_CODES[c]} {v:.2f}" if c != top else f"**{ANSWER_CODES[c]} {v:.2f}**" for c, v in fr.items()]
    lines += [" · ".join(cells[j:j + 2]) for j in range(0, len(cells), 2)]
    if "NVOTE" in votes.columns and pd.notna(row["NVOTE"]):
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
    votes = gallery_labels(table)
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
    parts = []
    if "CLASS_NAME" in votes.columns or any(f in votes.columns for f in FLAG_COLUMNS):
        parts.append("the catalogue's class where it has one")
    if have_votes:
        parts.append(f"the share of Galaxy Zoo volunteers who chose each answer where the catalogue has votes "
                     f"({codes}; the most popular in bold)")
    if parts:
        st.caption(f"Under each image: {' and '.join(parts)}; \"no votes\" when it has neither, "
                   "\"not in catalogue\" for galaxies the current catalogue does not list.")
    else:
        st.caption("Under each image: whether the current catalogue lists the galaxy; this catalogue has "
                   "no classes or vote fractions to show.")

"""The Catalog page's sky map: colour choice, the Mollweide map, and the box/lasso selection.

The selection is stored in :mod:`ui.catalog_state`; it outlives a visit to another page,
although the map itself forgets it (Streamlit drops a chart's state when its page is not shown).
"""

from __future__ import annotations

import streamlit as st

from core.catalog.reader import CatalogResult
from core.catalog.sky import color_choices
from core.schema import SHORT_LABELS
from ui import state_keys
from ui.catalog_charts import build_sky_map, selected_objids
from ui.catalog_state import current_selection, set_selection

#: The map's box keeps the Mollweide ellipse's 2:1 shape plus the title (and the colour bar's width) at every
#: width, so the map fills the page width without empty bands around it (a fixed pixel height cannot).
MAP_BOX = "sky_map_box"


#: Width:height of the map's box: the 2:1 ellipse across the plot width (the box less 20 px of margins, and
#: about 75 px of colour bar) plus 50 px of title and margins; 1.75 fills a 564 px column (1024 px window).
RATIO_ONE_COLOUR = 1.75
RATIO_COLOUR_BAR = 2.0


def map_css(colour_scale: bool) -> str:
    """CSS giving the map's box its width:height ratio (RATIO_ONE_COLOUR, or RATIO_COLOUR_BAR beside a colour bar)."""
    ratio = RATIO_COLOUR_BAR if colour_scale else RATIO_ONE_COLOUR
    return (f".st-key-{MAP_BOX} {{ aspect-ratio: {ratio}; min-height: 200px; }} "
            f".st-key-{MAP_BOX} > div {{ flex: 1 1 auto; }}")


#: Selected galaxies: larger and opaque; the others grey and faint, so a selection stands out.
SELECTED_COLOUR = "#d62728"


def fit_and_highlight(figure, colour_scale: bool) -> None:
    """Let the map take its box's height (MAP_CSS) and draw a selection clearly (selected red when one
    colour, else in their colour-scale colour; unselected grey)."""
    figure.update_layout(height=None, autosize=True)
    for trace in figure.data:
        if trace.type != "scattergl":
            continue
        size = trace.marker.size if isinstance(trace.marker.size, (int, float)) else 7
        chosen = dict(size=max(9, size * 1.6), opacity=1.0) | ({} if colour_scale else dict(color=SELECTED_COLOUR))
        trace.update(selected=dict(marker=chosen), unselected=dict(marker=dict(color="#9e9e9e", opacity=0.3)))


def show_sky_map(result: CatalogResult, digest: str) -> list[str]:
    """Controls above, the map at full width (it stays readable at 1024 px), the selection below."""
    st.subheader("Sky map")
    choices = color_choices(result.table)
    control, explain = st.columns([1, 2], vertical_alignment="bottom")
    with control:
        color_by = None
        if choices:
            color_by = st.selectbox(
                "Colour by", choices, key="sky_color_by", persist_state="session",
                format_func=lambda c: f"{c} ({SHORT_LABELS.get(c, 'votes')})",
            )
        else:
            st.caption("One colour: this catalogue has no vote fractions to colour the galaxies by.")
    explain.caption(
        "Mollweide projection, RA increasing to the left (0h at the edges). Drag a box or a lasso "
        "to select galaxies; double-click to clear."
    )
    cache = st.session_state.get(state_keys.SKY_MAP_CACHE)
    if cache and cache[0] == digest and cache[1] == color_by:
        sky = cache[2]
    else:
        sky = build_sky_map(result.table, color_by=color_by)
        fit_and_highlight(sky.figure, colour_scale=color_by is not None)
        st.session_state[state_keys.SKY_MAP_CACHE] = (digest, color_by, sky)
    chart_key = f"sky_map_{digest[:12]}_{st.session_state.get(state_keys.SKY_MAP_CLEARS, 0)}"  # new key = cleared
    returning = chart_key not in st.session_state  # first run since another page was shown
    st.html(f"<style>{map_css(color_by is not None)}</style>")
    with st.container(key=MAP_BOX):
        event = st.plotly_chart(
            sky.figure, key=chart_key, on_select="rerun", height="stretch",
            selection_mode=("points", "box", "lasso"), config={"displaylogo": False},
        )
    selection = selected_objids(sky, event.selection if event else None)
    if selection:  # a new box or lasso replaces any kept selection
        st.session_state[state_keys.CATALOG_KEEP_SELECTION] = False
    else:
        selection = kept_selection(returning)
    if sky.subsampled:
        st.caption(
            f"The map draws a random {sky.n_shown:,} of {sky.n_total:,} galaxies to stay responsive; "
            "a box or lasso selects every galaxy inside it, drawn or not."
        )
    if selection:
        count_col, clear_col = st.columns([1, 2], vertical_alignment="center")
        count_col.metric("Selected", f"{len(selection):,}")
        clear_col.button("Clear the selection", key="sky_clear_selection", icon=":material/deselect:",
                         on_click=clear_selection)
    else:
        st.caption("Nothing selected: downloads use all clean rows.")
    return selection


def clear_selection() -> None:
    """Button callback: forget the selection and redraw the map without one (a fresh chart key)."""
    st.session_state[state_keys.CATALOG_KEEP_SELECTION] = False
    st.session_state[state_keys.SKY_MAP_CLEARS] = st.session_state.get(state_keys.SKY_MAP_CLEARS, 0) + 1
    set_selection([])


def kept_selection(returning: bool) -> list[str]:
    """The selection made before a visit to another page (the map forgets it; the session does not)."""
    kept = current_selection() if returning or st.session_state.get(state_keys.CATALOG_KEEP_SELECTION) else []
    st.session_state[state_keys.CATALOG_KEEP_SELECTION] = bool(kept)
    if kept:
        st.caption(f"Your earlier box/lasso selection of {len(kept):,} galaxies is still in use (the map does "
                   "not redraw it); draw a new one to replace it, or clear it below.")
    return kept

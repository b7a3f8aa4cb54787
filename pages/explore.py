"""Explore: the model's embedding of the galaxies as a 2-D map; select galaxies for the other pages."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import streamlit as st

from core.config import get_settings
from core.explain.index_file import IndexFileError
from core.explain.map_table import galaxies_for, map_table, selection_csv
from core.explain.projection import ProjectionError
from core.schema import VOTE_COLUMNS
from ui import state_keys
from ui.credits import show_credit
from ui.embedding_map_inputs import choose_files, projection_for, run_for, short_error
from ui.embedding_map_view import (
    choice_words,
    colour_choices,
    is_model_choice,
    map_figure,
    picked,
    show_map_galaxy,
)
from ui.embedding_selection import clear_map_selection, current_map_selection, set_map_selection
from ui.model_cache import demo_set, model_for, predictions_with_progress
from ui.navigation import ensure_app_navigation
from ui.plain_text import md_escape

ensure_app_navigation()
settings = get_settings()
st.title("Explore")
st.caption("Every galaxy as a point, placed by what the model \"sees\" in it: its 112 penultimate features "
           "(averaged over 4 rotations), reduced to two axes by principal component analysis. Galaxies the model "
           "finds alike lie close together. Click a point to see that galaxy; to pick galaxies for the other "
           "pages, choose *Box select* or *Lasso select* in the chart's toolbar (top right) and draw.")

chosen = choose_files()
if not chosen:
    st.info("Pick at least one embedding file.")
    show_credit()
    st.stop()
try:
    projection = projection_for(chosen)
except (IndexFileError, ProjectionError) as exc:
    st.error(short_error(exc), icon=":material/error:")
    show_credit()
    st.stop()
label = " + ".join(Path(p).stem for p in chosen)

demo = demo_set(str(settings.demo_dir))
folders = [settings.demo_dir / Path(p).stem for p in chosen]
folders += [Path(st.session_state.get(state_keys.IMAGES_DIR) or settings.images_dir)]
gset = galaxies_for(projection.ids, [demo] if demo is not None else [], folders)
run_path = run_for(str(projection.meta.get("model_sha256")))

model = None
if run_path:
    from core.training.checkpoint import CheckpointError

    try:
        model = model_for(run_path)
    except (CheckpointError, OSError) as exc:
        st.warning(f"The model of these files cannot be loaded: {md_escape(exc)}", icon=":material/error:")
frame = map_table(projection, gset)
options = colour_choices(frame, model.learned if model is not None else None)
if st.session_state.get(state_keys.MAP_COLOUR) not in options:
    st.session_state.pop(state_keys.MAP_COLOUR, None)
c_colour, c_note = st.columns([1, 1], vertical_alignment="bottom")
colour = c_colour.selectbox("Colour by", options, key=state_keys.MAP_COLOUR, format_func=choice_words,
                            help="The volunteers' vote joined by ID from the built-in labels (GZ1 classes are "
                                 "one-hot, class-derived; the spin cutouts carry only the spin fractions), or the "
                                 "model's own answer (predicted once per model and kept).")
fractions = None
if model is not None and is_model_choice(colour) and len(gset):
    slot = st.empty()
    fractions, _ = predictions_with_progress([(run_path, Path(run_path).name)], gset, False, slot)[run_path]
    fractions = np.asarray(fractions, dtype=float)[:, :len(VOTE_COLUMNS)]
    frame = map_table(projection, gset, fractions, model.learned)
c_note.caption(f"{len(frame):,} galaxies from {md_escape(label)}; "
               f"axes: the first two principal components ({projection.explained[0]:.0%} and "
               f"{projection.explained[1]:.0%} of the variance)."
               + ("" if run_path else " The model that made these files is not among the runs, so the map cannot "
                                      "be coloured by its answers."))

mf = map_figure(frame, colour, projection.explained)
chart_key = f"embedding_map|{label}|{colour}|{st.session_state.get(state_keys.MAP_CLEARS, 0)}"
returning = chart_key not in st.session_state
event = st.plotly_chart(mf.figure, key=chart_key, on_select="rerun", selection_mode=("points", "box", "lasso"),
                        config={"displaylogo": False})
rows, region = picked(mf, (event or {}).get("selection"))  # a dict-like PlotlyState
if region:
    set_map_selection(frame["ID"].iloc[rows].tolist(), label)
    st.session_state[state_keys.MAP_KEEP_SELECTION] = False
elif rows:  # a click: show that galaxy, keep any box/lasso selection
    st.session_state[state_keys.MAP_FOCUS] = str(frame["ID"].iloc[rows[0]])
    st.session_state[state_keys.MAP_KEEP_SELECTION] = True
elif not returning and not st.session_state.get(state_keys.MAP_KEEP_SELECTION):
    clear_map_selection()  # a double-click on the map cleared it
selection = current_map_selection()


def _clear() -> None:
    clear_map_selection()
    st.session_state[state_keys.MAP_KEEP_SELECTION] = False
    st.session_state[state_keys.MAP_CLEARS] = st.session_state.get(state_keys.MAP_CLEARS, 0) + 1


st.subheader("Selection")
if selection is None:
    st.caption("Nothing selected. Choose *Box select* or *Lasso select* in the map's toolbar and draw around some "
               "galaxies: they become a selection the Predict, Compare models and Train pages can use. A "
               "double-click on the map, or the button that then appears here, clears it.")
else:
    if returning or st.session_state.get(state_keys.MAP_KEEP_SELECTION):
        st.session_state[state_keys.MAP_KEEP_SELECTION] = True
        if returning:
            st.caption("Your earlier box/lasso selection is still in use (the map does not redraw it); draw a new "
                       "one to replace it, or clear it below.")
    c_n, c_clear, c_csv = st.columns([1, 1, 1], vertical_alignment="center")
    c_n.metric("Selected", f"{len(selection):,}")
    c_clear.button("Clear the selection", key="embedding_map_clear", icon=":material/deselect:", on_click=_clear)
    c_csv.download_button("Download the selection (CSV)", selection_csv(frame, selection.ids),
                          file_name="embedding_selection.csv", mime="text/csv", icon=":material/download:",
                          on_click="ignore", key="embedding_map_download")
    st.markdown(f"**What the selection is used for.** On **Predict** and **Compare models**, and on **Train** with "
                f"the built-in demo set, a switch *Only the {len(selection):,} galaxies selected on the embedding "
                "map* (on by default) limits the galaxies to these: predict them, score them, or train a model on "
                "just them. The CSV holds their IDs, map position, volunteers' votes"
                + (" and the model's answers." if fractions is not None else "."))


st.subheader("Galaxy")
focus = st.session_state.get(state_keys.MAP_FOCUS)
hit = frame.index[frame["ID"] == focus]
if len(hit):
    show_map_galaxy(frame.loc[hit[0]], model)
else:
    st.caption("Click a point on the map to see that galaxy here, with the volunteers' votes and the model's answer.")

show_credit()

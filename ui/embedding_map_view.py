"""The Explore page's embedding map: colour choices, the plotly scatter, and reading its selection.

The figure is built from :func:`core.explain.map_table.map_table`'s frame. A categorical colour
(top answers, index file) is one trace per category, a vote fraction one trace of the known values
on a colour scale plus one grey trace of the galaxies without one; :class:`MapFigure` keeps, per
trace, which frame rows its points are, so a plotly selection maps back to galaxies exactly.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from core.schema import ANSWER_WORDS, CLASS_NAMES, SHORT_LABELS, VOTE_COLUMNS

MODEL_TOP = "The model's top answer"
HUMAN_TOP = "The volunteers' top answer"
SOURCE = "Embedding file"
#: Fixed colours of the six answers (plotly's qualitative "D3"), so every map reads the same.
ANSWER_COLOURS = dict(zip(CLASS_NAMES, ("#d62728", "#1f77b4", "#2ca02c", "#9467bd", "#7f7f7f", "#ff7f0e"),
                          strict=True))
UNKNOWN_COLOUR = "#d0d0d0"


@dataclass
class MapFigure:
    """The figure and, per trace, the frame rows (positions) its points stand for."""

    figure: go.Figure
    rows: list[np.ndarray]


def colour_choices(frame: pd.DataFrame, learned: np.ndarray | None = None) -> list[str]:
    """What the map can be coloured by: the volunteers' top answer, the model's (when ``learned``, the
    run's learned columns, is given), each vote fraction the labels hold, each the run learned, the file."""
    out = [HUMAN_TOP] if (frame["HUMAN_TOP"] != "").any() else []
    out += [MODEL_TOP] if learned is not None else []
    out += [f"HUMAN {c}" for c in VOTE_COLUMNS if frame[f"HUMAN {c}"].notna().any()]
    if learned is not None:
        out += [f"MODEL {c}" for c, known in zip(VOTE_COLUMNS, learned, strict=True) if known]
    return out + ([SOURCE] if frame["SOURCE"].nunique() > 1 else [])


def is_model_choice(choice: str) -> bool:
    """True for the colours that need the model's predictions."""
    return choice == MODEL_TOP or choice.startswith("MODEL ")


def choice_words(choice: str) -> str:
    """A colour choice as menu words: 'Volunteers' vote: clockwise spiral (P_CW)'."""
    who, _, col = choice.partition(" ")
    if col in SHORT_LABELS:
        whose = "Volunteers' vote" if who == "HUMAN" else "Model"
        return f"{whose}: {SHORT_LABELS[col]} ({col})"
    return choice


def _hover(frame: pd.DataFrame, rows: np.ndarray, value: str | None) -> list[str]:
    out = []
    for r in rows:
        g = frame.iloc[int(r)]
        bits = [f"<b>{g['ID']}</b>", f"file {g['SOURCE']}"]
        if g["HUMAN_TOP"]:
            bits.append(f"volunteers: {ANSWER_WORDS[g['HUMAN_TOP']]}")
        if g.get("MODEL_TOP"):
            bits.append(f"model: {ANSWER_WORDS[g['MODEL_TOP']]}")
        if value is not None and not pd.isna(g[value]):
            bits.append(f"{value.split(' ', 1)[1]} = {g[value]:.2f}")
        out.append("<br>".join(bits))
    return out


def _trace(frame: pd.DataFrame, rows: np.ndarray, name: str, marker: dict, value: str | None) -> go.Scattergl:
    return go.Scattergl(x=frame["x"].to_numpy()[rows], y=frame["y"].to_numpy()[rows], mode="markers", name=name,
                        marker=marker, customdata=rows, text=_hover(frame, rows, value),
                        hovertemplate="%{text}<extra></extra>")


def map_figure(frame: pd.DataFrame, colour: str, explained: tuple[float, float], height: int = 560) -> MapFigure:
    """The scatter of the frame's ``x``, ``y`` coloured by ``colour`` (one of :func:`colour_choices`)."""
    traces, rows_of = [], []
    size = 7 if len(frame) < 2000 else 4
    if colour in (MODEL_TOP, HUMAN_TOP, SOURCE):
        column = {MODEL_TOP: "MODEL_TOP", HUMAN_TOP: "HUMAN_TOP", SOURCE: "SOURCE"}[colour]
        values = frame[column].astype(str).to_numpy()
        if colour == SOURCE:
            order = sorted(set(values))
            names, colours = dict(zip(order, order, strict=True)), {}
        else:
            order = [c for c in CLASS_NAMES if c in set(values)] + ([""] if "" in set(values) else [])
            names = {**ANSWER_WORDS, "": "not known"}
            colours = {**ANSWER_COLOURS, "": UNKNOWN_COLOUR}
        for cat in order:
            rows = np.flatnonzero(values == cat)
            marker = dict(size=size, opacity=0.85, line=dict(width=0))
            if cat in colours:
                marker["color"] = colours[cat]
            traces.append(_trace(frame, rows, names.get(cat, cat), marker, None))
            rows_of.append(rows)
    else:
        v = frame[colour].to_numpy(dtype=float)
        known = np.flatnonzero(~np.isnan(v))
        unknown = np.flatnonzero(np.isnan(v))
        if len(unknown):
            traces.append(_trace(frame, unknown, "no value", dict(size=size, color=UNKNOWN_COLOUR, opacity=0.6),
                                 None))
            rows_of.append(unknown)
        traces.append(_trace(frame, known, colour.split(" ", 1)[1], dict(
            size=size, color=v[known], colorscale="Viridis", cmin=0.0, cmax=1.0, opacity=0.9,
            colorbar=dict(title=dict(text=colour.split(" ", 1)[1], side="right"), thickness=12, len=0.8)),
            colour))
        rows_of.append(known)
    fig = go.Figure(traces)
    fig.update_layout(
        # Pan by default: Streamlit lets a click select a point only outside box/lasso mode (it sets
        # clickmode itself), and a click is how a galaxy is opened; box and lasso are in the toolbar.
        height=height, margin=dict(l=10, r=10, t=30, b=10), dragmode="pan", hovermode="closest",
        xaxis=dict(title=f"PC 1 ({explained[0]:.0%} of the variance)", zeroline=False),
        yaxis=dict(title=f"PC 2 ({explained[1]:.0%})", zeroline=False),
        legend=dict(orientation="h", yanchor="top", y=-0.14, xanchor="left", x=0, itemsizing="constant"),
        showlegend=colour in (MODEL_TOP, HUMAN_TOP, SOURCE) or len(rows_of) > 1,
    )
    return MapFigure(fig, rows_of)


def picked(mf: MapFigure, selection: Mapping[str, Any] | None) -> tuple[list[int], bool]:
    """(frame rows chosen, whether by a box/lasso region) from ``st.plotly_chart``'s selection.

    A plain click selects one point (region False; only in pan/zoom mode, see :func:`map_figure`);
    a box or lasso selects every drawn point inside it (plotly lists them all: every galaxy is drawn).
    """
    if not selection:
        return [], False
    region = bool(selection.get("box") or selection.get("lasso"))
    rows = []
    for point in selection.get("points") or []:
        curve = point.get("curve_number", 0)
        index = point.get("point_index", point.get("point_number"))
        if index is not None and 0 <= int(curve) < len(mf.rows) and 0 <= int(index) < len(mf.rows[int(curve)]):
            rows.append(int(mf.rows[int(curve)][int(index)]))
    return sorted(set(rows)), region


def show_map_galaxy(g: pd.Series, model=None) -> None:
    """One clicked galaxy (a row of the map frame): its image beside the volunteers' and the model's nine
    fractions. The model's are the frame's ``MODEL`` columns when present, else predicted for this image."""
    import streamlit as st

    from core.schema import LabelKind
    from ui.plain_text import md_escape
    from ui.prediction_charts import fraction_bars

    c_img, c_bars = st.columns([1, 2], vertical_alignment="top")
    c_img.markdown(f"**{md_escape(g['ID'])}**  \nfrom {md_escape(g['SOURCE'])}")
    if g["IMAGE"]:
        c_img.image(g["IMAGE"], width="stretch")
    else:
        c_img.caption("No image of this galaxy in the demo set or the image folder.")
    series = [("volunteers", g[[f"HUMAN {c}" for c in VOTE_COLUMNS]].to_numpy(dtype=float), "#4c78a8")]
    if model is not None and g["IMAGE"]:
        if "MODEL P_EL" in g:
            values = g[[f"MODEL {c}" for c in VOTE_COLUMNS]].to_numpy(dtype=float)
        else:
            from core.inference.batch import predict_one
            from core.inference.learned import blank_unlearned

            values = blank_unlearned(np.asarray(predict_one(model, g["IMAGE"]))[:len(VOTE_COLUMNS)], model.learned)
        series.append(("model", values, "#f58518"))
    one_hot = g["LABEL_KIND"] == LabelKind.CLASS
    c_bars.plotly_chart(fraction_bars(series, hatched=("volunteers",) if one_hot else (), height=300,
                                      blank_text={"model": "not learned"}), key="embedding_map_bars")
    kind = f"{LabelKind.CLASS} (the source's class as one-hot votes, hatched)" if one_hot else str(g["LABEL_KIND"])
    top = ANSWER_WORDS.get(g["HUMAN_TOP"], "not known")
    c_bars.caption(f"Volunteers' label: {md_escape(kind)}; their top answer: {md_escape(top)}.")

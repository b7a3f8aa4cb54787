"""The Catalog page's figures: the all-sky map and the vote-fraction histograms (plotly).

The data comes from core: the projection, thinning and selections from :mod:`core.catalog.sky`,
the histogram counts from :func:`core.catalog.stats.fraction_histograms`. Here it is only drawn.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio
from plotly.subplots import make_subplots

from core.catalog import sky as sky_data
from core.catalog.sky import DEFAULT_MAX_POINTS, X_MAX, Y_MAX, SkyPoints, hover_columns, sky_points
from core.schema import SHORT_LABELS, VOTE_COLUMNS

GRID_COLOUR = "rgba(128,128,128,0.45)"
#: RA/DEC tick labels: dark grey, 12 px, readable on the light theme at 1024 px (WCAG contrast > 7 on white).
LABEL_COLOUR = "#404040"
LABEL_SIZE_PX = 12


@dataclass
class SkyMap:
    """A sky-map figure, the :class:`core.catalog.sky.SkyPoints` it draws and its galaxies' trace."""

    figure: go.Figure
    points: SkyPoints
    data_trace_index: int

    n_total = property(lambda self: self.points.n_total)
    n_shown = property(lambda self: self.points.n_shown)
    subsampled = property(lambda self: self.points.subsampled)
    color_by = property(lambda self: self.points.color_by)
    shown_index = property(lambda self: self.points.shown_index)
    x_all = property(lambda self: self.points.x_all)
    y_all = property(lambda self: self.points.y_all)

    @property
    def title(self) -> str:
        return str(self.figure.layout.title.text)


def _grid_traces(center_ra_deg: float) -> list[go.Scatter]:
    g = sky_data.graticule(center_ra_deg)
    font = dict(size=LABEL_SIZE_PX, color=LABEL_COLOUR)
    return [
        go.Scatter(x=g.line_x, y=g.line_y, mode="lines", line=dict(color=GRID_COLOUR, width=1),
                   hoverinfo="skip", showlegend=False, name="grid"),
        go.Scatter(x=g.ra_label_x, y=g.ra_label_y, mode="text", text=g.ra_labels, textfont=font,
                   hoverinfo="skip", showlegend=False, name="RA labels"),
        go.Scatter(x=g.dec_label_x, y=g.dec_label_y, mode="text", text=g.dec_labels, textfont=font,
                   hoverinfo="skip", showlegend=False, name="DEC labels"),
    ]


def _hover(table: pd.DataFrame, shown: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """(customdata float32 rows, hover template lines): OBJID, RA/DEC in degrees, NVOTE, fractions."""
    cols = hover_columns(table)
    custom = np.column_stack([table[c].to_numpy(dtype=np.float64)[shown] for c in cols]).astype(np.float32)
    lines = ["<b>OBJID %{text}</b>", "RA %{customdata[0]:.4f}°, DEC %{customdata[1]:.4f}°"]
    for i, col in enumerate(cols[2:], start=2):
        if col == "NVOTE":
            lines.append(f"NVOTE %{{customdata[{i}]:.0f}}")
        else:
            lines.append(f"{col} ({SHORT_LABELS[col]}) %{{customdata[{i}]:.3f}}")
    return custom, lines


def _marker(table: pd.DataFrame, color_by: str | None, shown: np.ndarray) -> dict[str, Any]:
    """Marker style: smaller and fainter as more points are drawn; Viridis over [0, 1] for fractions."""
    n_shown = len(shown)
    size = 7 if n_shown <= 2_000 else 4 if n_shown <= 20_000 else 3
    marker: dict[str, Any] = dict(size=size, opacity=0.85 if n_shown <= 20_000 else 0.6)
    if color_by is None:
        return marker | dict(color="#1f77b4")
    values = table[color_by].to_numpy(dtype=np.float64)[shown].astype(np.float32)
    marker.update(color=values, colorscale="Viridis", showscale=True,
                  colorbar=dict(title=dict(text=color_by, side="right"), thickness=14, len=0.8))
    if color_by in VOTE_COLUMNS:
        marker.update(cmin=0.0, cmax=1.0)
    return marker


def build_sky_map(table: pd.DataFrame, color_by: str | None = "P_EL", max_points: int | None = DEFAULT_MAX_POINTS,
                  seed: int = 0, center_ra_deg: float = 180.0, height: int = 440) -> SkyMap:
    """The all-sky Scattergl figure of ``table`` (see :func:`core.catalog.sky.sky_points` for the arguments).

    The title reads "showing N of M" when thinned. Hover shows OBJID, RA/DEC, NVOTE and the vote
    fractions present.
    """
    points = sky_points(table, color_by=color_by, max_points=max_points, seed=seed, center_ra_deg=center_ra_deg)
    shown = points.shown_index
    custom, lines = _hover(table, shown)
    traces: list[Any] = _grid_traces(center_ra_deg)
    data_trace_index = len(traces)
    traces.append(go.Scattergl(
        x=points.x_all[shown].astype(np.float32), y=points.y_all[shown].astype(np.float32), mode="markers",
        marker=_marker(table, color_by, shown), text=points.objids.to_numpy(dtype=object)[shown],
        customdata=custom, hovertemplate="<br>".join(lines) + "<extra></extra>", name="galaxies",
        showlegend=False,
    ))
    if points.subsampled:
        title = f"Showing {points.n_shown:,} of {points.n_total:,} galaxies (random subset)"
    else:
        title = f"{points.n_total:,} galaxies"
    colour_note = f" · colour: {color_by}" if color_by else ""  # short: the modebar sits top right
    fig = go.Figure(traces)
    fig.update_layout(
        title=dict(text=title + colour_note, font=dict(size=14)),
        height=height, margin=dict(l=10, r=10, t=40, b=10),
        # Fixed ranges (never autoranged onto the labels); the 1:1 scale shrinks an axis's domain, not its range.
        xaxis=dict(visible=False, range=[-X_MAX * 1.05, X_MAX * 1.05], autorange=False, constrain="domain"),
        yaxis=dict(visible=False, range=[-Y_MAX * 1.05, Y_MAX * 1.05], autorange=False, constrain="domain",
                   scaleanchor="x", scaleratio=1),
        dragmode="select", hovermode="closest", showlegend=False,
    )
    return SkyMap(fig, points, data_trace_index)


def selected_objids(sky: SkyMap, selection: Mapping[str, Any] | None) -> list[str]:
    """OBJIDs (strings) of the rows a chart selection picks, in table order."""
    return sky_data.selected_objids(sky.points, selection, sky.data_trace_index)


def payload_bytes(sky: SkyMap) -> int:
    """Size of the JSON that ``st.plotly_chart`` sends to the browser for this figure."""
    return len(pio.to_json(sky.figure, validate=False).encode("utf-8"))


def histogram_figure(histograms: pd.DataFrame, height: int = 560) -> go.Figure:
    """A 3x3 grid of bar charts, one per vote fraction, from :func:`core.catalog.stats.fraction_histograms`."""
    columns = list(dict.fromkeys(histograms["column"]))
    n_cols = 3
    n_rows = max(1, -(-len(columns) // n_cols))
    fig = make_subplots(
        rows=n_rows, cols=n_cols, shared_xaxes=True,
        subplot_titles=[f"{c} ({SHORT_LABELS.get(c, c)})" for c in columns],
        vertical_spacing=0.12, horizontal_spacing=0.06,
    )
    for i, column in enumerate(columns):
        part = histograms[histograms["column"] == column]
        centres = (part["bin_left"] + part["bin_right"]) / 2
        fig.add_trace(
            go.Bar(x=centres, y=part["count"], width=(part["bin_right"] - part["bin_left"]) * 0.95,
                   name=column, marker_color="#4c78a8", showlegend=False,
                   hovertemplate=f"{column} %{{x:.3f}}: %{{y:,}} galaxies<extra></extra>"),
            row=i // n_cols + 1, col=i % n_cols + 1,
        )
    fig.update_xaxes(range=[0, 1])
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=40, b=10), bargap=0)
    for annotation in fig.layout.annotations:
        annotation.font.size = 12
    return fig

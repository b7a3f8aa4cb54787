"""Figures of the Classify page: the six GZ1 answers as bars, and the crowd's votes per galaxy."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from core.votes.answers import ANSWERS
from ui.prediction_charts import confusion_figure  # the Predict page's heatmap; crowd_heatmap restyles it

VISITOR_COLOUR = "#2ca02c"


def bar_label(x: float) -> str:
    """Label of one answer bar: "n/a" for unknown, "" for a zero share (< 0.005), else two decimals."""
    return "n/a" if np.isnan(x) else "" if x < 0.005 else f"{x:.2f}"


def answer_bars(series: Sequence[tuple[str, np.ndarray, str]], hatched: Sequence[str] = (),
                height: int = 430) -> go.Figure:
    """Horizontal grouped bars over the six GZ1 answers (top to bottom in button order);
    ``series`` = [(name, six fractions, colour)], NaN = unknown. A bar of 0 (under 0.005) gets no label:
    a column of "0.00" labels stacked beside empty bars says nothing and crowds the readable ones."""
    labels = [a.wording.replace(", ", ",<br>") for a in ANSWERS]
    fig = go.Figure()
    for name, values, colour in series:
        v = np.asarray(values, dtype=float)
        fig.add_bar(y=labels, x=np.where(np.isnan(v), None, v), name=name, marker_color=colour, orientation="h",
                    marker_pattern_shape="/" if name in hatched else "",
                    text=[bar_label(x) for x in v], textposition="outside",
                    textfont_size=11, constraintext="none", cliponaxis=False,  # never shrunk to the bar
                    hovertemplate="%{y}: %{x:.3f}<extra>" + name + "</extra>")
    fig.update_layout(barmode="group", height=height, margin=dict(l=10, r=30, t=10, b=10), bargap=0.2,
                      xaxis=dict(title="fraction of the vote", range=[0, 1.15]),
                      yaxis=dict(autorange="reversed", tickfont_size=11),
                      legend=dict(orientation="h", yanchor="bottom", y=1.02, xanchor="left", x=0))
    return fig


def votes_per_galaxy_figure(galaxies_by_votes: dict[int, int]) -> go.Figure:
    """Bars: how many galaxies have 1, 2, 3 ... votes."""
    fig = go.Figure(go.Bar(x=list(galaxies_by_votes), y=list(galaxies_by_votes.values()), marker_color=VISITOR_COLOUR,
                           hovertemplate="%{y} galaxies with %{x} votes<extra></extra>"))
    top = max(galaxies_by_votes.values(), default=1)
    fig.update_layout(height=260, margin=dict(l=10, r=10, t=10, b=10), xaxis=dict(title="votes", dtick=1),
                      yaxis=dict(title="galaxies", dtick=max(1, -(-top // 5)), rangemode="tozero"))  # whole galaxies
    return fig


def crowd_heatmap(confusion: np.ndarray) -> go.Figure:
    """Visitors' answers (columns) against GZ1's top answer or class (rows), as share of each row with the
    counts written in; sized for a column of half the page at 1024 px: all six labels on both axes, the
    colour bar under the map instead of beside it."""
    fig = confusion_figure(confusion, x_title="visitors' answer", y_title="GZ1 top answer")
    fig.update_traces(colorbar=dict(title=dict(text="share of row", side="top"), orientation="h", thickness=10,
                                    len=0.9, y=-0.42, yanchor="top"), textfont_size=12)
    fig.update_xaxes(dtick=1, tickangle=-45, automargin=True, tickfont_size=11)
    fig.update_yaxes(dtick=1, automargin=True, tickfont_size=11)
    fig.update_layout(height=470, margin=dict(l=10, r=10, t=10, b=90))
    return fig

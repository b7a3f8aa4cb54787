"""Plotly figures for the Predict and Compare pages (drawing only; the numbers come from ``core``)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.colors import qualitative
from plotly.subplots import make_subplots

from core.inference.confidence_scores import QUOTED_COVERAGE
from core.inference.learned import NOT_LEARNED, blank_unlearned
from core.schema import ANSWER_AXIS_LABELS, AXIS_LABELS, CLASS_NAMES, SHORT_LABELS, VOTE_COLUMNS

MODEL_COLOUR = "#1f77b4"
HUMAN_COLOUR = "#ff7f0e"
CLASS_DERIVED_COLOUR = "#b0b0b0"
#: One colour per run on every chart of a page (plotly's default cycle without the people's orange).
RUN_PALETTE = tuple(c.lower() for c in qualitative.D3 if c.lower() != HUMAN_COLOUR.lower())


def run_colours(names: Sequence[str]) -> dict[str, str]:
    """Run name -> colour from :data:`RUN_PALETTE`, in the order given (cycling past its length)."""
    return {name: RUN_PALETTE[k % len(RUN_PALETTE)] for k, name in enumerate(names)}


def rmse_bars(board, colours: dict[str, str] | None = None) -> go.Figure:
    """Grouped bars of RMSE per column, one series per leaderboard row (``RMSE <column>`` columns, NaN skipped).

    ``colours``: run name -> colour, so a run keeps its colour across a page's charts (else plotly's cycle).
    The legend sits to the right of the bars, in its own column, so however many rows it takes it never
    covers the title above the plot.
    """
    have = [c for c in VOTE_COLUMNS if board[f"RMSE {c}"].notna().any()]
    fig = go.Figure()
    for _, row in board.iterrows():
        name = str(row["run"])
        fig.add_bar(x=[AXIS_LABELS[c] for c in have], y=[row[f"RMSE {c}"] for c in have], name=name,
                    marker_color=(colours or {}).get(name),
                    customdata=list(have), hovertemplate="%{customdata}: %{y:.3f}<extra>%{fullData.name}</extra>")
    fig.update_layout(barmode="group", height=340, margin=dict(l=10, r=10, t=40, b=10),
                      yaxis_title="RMSE (fraction of the vote)",
                      title=dict(text="RMSE per column (lower is better)", x=0, xanchor="left"),
                      xaxis=dict(tickangle=-35, automargin=True),
                      legend=dict(orientation="v", yanchor="top", y=1, xanchor="left", x=1.02))
    return fig


def human_trace_name(class_derived: bool) -> str:
    return "people (class-derived)" if class_derived else "people (vote fractions)"


def fraction_bars(series: Sequence[tuple[str, np.ndarray, str]], title: str = "",
                  hatched: Sequence[str] = (), height: int = 360,
                  blank_text: dict[str, str] | None = None,
                  errors: dict[str, np.ndarray] | None = None) -> go.Figure:
    """Grouped bars over the nine columns; ``series`` = [(name, values (9,), colour)], NaN = not known.

    Series named in ``hatched`` are drawn with a diagonal pattern (used for class-derived labels).
    A NaN value is labelled "n/a", or ``blank_text[name]`` for that series (e.g. "not learned"
    for a model's columns it never had labels for). ``errors[name]``: (9,) one standard
    deviation per bar, drawn as a +-1 SD interval (NaN: none).
    """
    labels = [AXIS_LABELS[c] for c in VOTE_COLUMNS]
    fig = go.Figure()
    for name, values, colour in series:
        v = np.asarray(values, dtype=float)
        blank = (blank_text or {}).get(name, "n/a")
        sd = (errors or {}).get(name)
        error_y = None
        if sd is not None and np.isfinite(np.asarray(sd, dtype=float)).any():
            sd = np.nan_to_num(np.asarray(sd, dtype=float), nan=0.0)
            # The interval is clipped to [0, 1]: a share of the vote cannot leave it.
            error_y = dict(type="data", symmetric=False, array=np.minimum(sd, 1 - np.nan_to_num(v)),
                           arrayminus=np.minimum(sd, np.nan_to_num(v)), color="#333", thickness=1.2, width=4)
        text = [(blank if math.isnan(x) else f"{x:.2f}") for x in v]
        fig.add_bar(
            x=labels, y=np.where(np.isnan(v), None, v), name=name, marker_color=colour, offsetgroup=name,
            marker_pattern_shape="/" if name in hatched else "", error_y=error_y,
            text=None if error_y else text, textposition="outside", textfont_size=10, cliponaxis=False,
            customdata=[f"{SHORT_LABELS[c]} ({c})" for c in VOTE_COLUMNS],
            hovertemplate="%{customdata}: %{y:.3f}<extra>" + name + "</extra>",
        )
        if error_y:  # the values go above the whisker's top, in the same slot, not across it
            fig.add_bar(x=labels, y=[0.0] * len(labels), base=np.nan_to_num(v) + error_y["array"],
                        offsetgroup=name, text=text, textposition="outside", textfont_size=10,
                        cliponaxis=False, marker_color="rgba(0,0,0,0)", showlegend=False, hoverinfo="skip")
    fig.update_layout(
        barmode="group", title=title or None, height=height, margin=dict(l=10, r=10, t=40 if title else 10, b=10),
        yaxis=dict(title="fraction of the vote", range=[0, 1.12]),
        xaxis=dict(tickangle=-35, tickfont_size=11, automargin=True),
        legend=dict(orientation="h", yanchor="bottom", y=1.02, xanchor="right", x=1),
        bargap=0.25,
    )
    fig.add_vline(x=5.5, line_dash="dot", line_color="grey", opacity=0.6)
    fig.add_vline(x=6.5, line_dash="dot", line_color="grey", opacity=0.6)
    return fig


def scatter_grid(pred: np.ndarray, target: np.ndarray, class_derived: np.ndarray,
                 rmse: dict[str, float | None], learned: np.ndarray | None = None) -> go.Figure:
    """Predicted (y) vs human (x) per column with the 1:1 line; RMSE over vote-fraction labels in each title.

    Class-derived labels (0 or 1) are drawn in grey and left out of the RMSE. Columns the run never
    learned (``learned`` (9,) bool) are titled "not learned" and left empty.
    """
    pred = blank_unlearned(pred, learned)
    target = np.asarray(target, dtype=float)
    cd = np.asarray(class_derived, dtype=bool)
    titles = []
    for j, c in enumerate(VOTE_COLUMNS):
        n = int((~np.isnan(target[:, j]) & ~cd).sum())
        r = rmse.get(c)
        if learned is not None and not learned[j]:
            titles.append(f"{c}: {NOT_LEARNED}")
        else:
            titles.append(f"{c}: RMSE {r:.3f} (n={n})" if r is not None else f"{c}: no vote-fraction labels")
    fig = make_subplots(rows=3, cols=3, subplot_titles=titles, horizontal_spacing=0.06, vertical_spacing=0.09)
    in_legend: set[str] = set()
    for j, c in enumerate(VOTE_COLUMNS):
        row, col = j // 3 + 1, j % 3 + 1
        fig.add_scatter(x=[0, 1], y=[0, 1], mode="lines", line=dict(color="grey", dash="dash", width=1),
                        name="1:1", showlegend=j == 0, row=row, col=col, hoverinfo="skip")
        for mask, name, colour in ((cd, "class-derived label (0 or 1)", CLASS_DERIVED_COLOUR),
                                   (~cd, "vote-fraction label", MODEL_COLOUR)):
            m = mask & ~np.isnan(target[:, j]) & ~np.isnan(pred[:, j])
            if not m.any():
                continue
            fig.add_scatter(x=target[m, j], y=pred[m, j], mode="markers", name=name,
                            marker=dict(color=colour, size=5, opacity=0.6), legendgroup=name,
                            showlegend=name not in in_legend,
                            row=row, col=col,
                            hovertemplate="human %{x:.3f}<br>model %{y:.3f}<extra>" + c + "</extra>")
            in_legend.add(name)
        fig.update_xaxes(range=[-0.03, 1.03], row=row, col=col)
        fig.update_yaxes(range=[-0.03, 1.03], row=row, col=col)
    for r in (1, 2, 3):
        fig.update_yaxes(title_text="model", row=r, col=1)
    for c in (1, 2, 3):
        fig.update_xaxes(title_text="people", row=3, col=c)
    fig.update_annotations(font_size=12)
    fig.update_layout(height=820, margin=dict(l=10, r=10, t=60, b=10),
                      legend=dict(orientation="h", yanchor="bottom", y=1.04, xanchor="right", x=1))
    return fig


def confusion_figure(confusion: Sequence[Sequence[int]], labels: Sequence[str] = CLASS_NAMES,
                     x_title: str = "model's top answer", y_title: str = "people's top answer") -> go.Figure:
    """Heatmap of counts, rows = human top answer, columns = model top answer."""
    z = np.asarray(confusion, dtype=int)
    short = [ANSWER_AXIS_LABELS.get(name, name) for name in labels]
    row_sum = z.sum(axis=1, keepdims=True)
    share = np.divide(z, row_sum, out=np.zeros_like(z, dtype=float), where=row_sum > 0)
    fig = go.Figure(go.Heatmap(
        z=share, x=short, y=short, colorscale="Blues", zmin=0, zmax=1,
        text=z, texttemplate="%{text}", colorbar=dict(title="share<br>of row"),
        hovertemplate="people: %{y}<br>model: %{x}<br>%{text} galaxies<extra></extra>",
    ))
    fig.update_layout(height=420, margin=dict(l=10, r=10, t=30, b=10),
                      xaxis=dict(title=x_title, side="bottom"), yaxis=dict(title=y_title, autorange="reversed"))
    return fig


def reliability_figure(reports: Sequence[tuple[str, dict]], colours: dict[str, str] | None = None) -> go.Figure:
    """Reliability diagram: per run (name, core.inference.confidence_scores.confidence_report), the
    accuracy of each TOP_P bin against its mean TOP_P; the diagonal is perfect calibration.
    ``colours``: run name -> colour (see :func:`run_colours`), else plotly's cycle."""
    fig = go.Figure()
    # The diagonal is a shape, not a trace, so run k takes colour k here and on the coverage figure alike.
    fig.add_shape(type="line", x0=0, y0=0, x1=1, y1=1, line=dict(dash="dot", color="grey"))
    for name, rep in reports:
        bins = [b for b in rep["bins"] if b["n"]]
        fig.add_scatter(x=[b["confidence"] for b in bins], y=[b["accuracy"] for b in bins], mode="lines+markers",
                        line_color=(colours or {}).get(name), marker_color=(colours or {}).get(name),
                        name=f"{name} (ECE {rep['ece']:.3f})", marker=dict(size=[6 + 14 * (b["n"] / rep["n"]) ** 0.5
                                                                                  for b in bins]),
                        customdata=[[b["n"], b["lo"], b["hi"]] for b in bins],
                        hovertemplate="TOP_P %{customdata[1]:.1f}-%{customdata[2]:.1f}: %{customdata[0]} galaxies"
                                      "<br>mean TOP_P %{x:.2f}, right %{y:.0%}<extra></extra>")
    fig.update_layout(height=380, margin=dict(l=10, r=10, t=50, b=10), title="Reliability",
                      xaxis=dict(title="TOP_P (claimed)", range=[0, 1.02]),
                      yaxis=dict(title="share right", range=[0, 1.02], tickformat=".0%"),
                      legend=dict(orientation="h", yanchor="top", y=-0.18, xanchor="left", x=0))
    return fig


def coverage_figure(curves: Sequence[tuple[str, np.ndarray, np.ndarray]],
                    colours: dict[str, str] | None = None) -> go.Figure:
    """Accuracy vs coverage: per run (name, coverage, accuracy), answering only the most certain galaxies.
    ``colours``: run name -> colour (see :func:`run_colours`), else plotly's cycle."""
    fig = go.Figure()
    for name, cov, acc in curves:
        fig.add_scatter(x=cov, y=acc, mode="lines", name=name, line_color=(colours or {}).get(name),
                        hovertemplate="most certain %{x:.0%}: right %{y:.1%}<extra>" + name + "</extra>")
    fig.add_vline(x=QUOTED_COVERAGE, line_dash="dot", line_color="grey", opacity=0.6)
    fig.update_layout(height=380, margin=dict(l=10, r=10, t=50, b=10), title="Accuracy vs coverage",
                      xaxis=dict(title="share answered, most certain first", tickformat=".0%",
                                 range=[0, 1.01]),
                      yaxis=dict(title="top-answer accuracy", tickformat=".0%"),
                      legend=dict(orientation="h", yanchor="top", y=-0.18, xanchor="left", x=0))
    return fig

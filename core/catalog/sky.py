"""All-sky map of a catalogue: Mollweide projection (numpy) and the plotly figure.

Conventions: RA and DEC in decimal degrees (J2000). The map is drawn as the sky
is seen from inside the sphere, the astronomers' way: RA increases to the
*left*. The projection is centred on RA = 180 degrees by default so the SDSS
northern footprint (RA about 110-260 degrees) sits unbroken in the middle.

Projected coordinates are Mollweide plane units: x in [-2*sqrt(2), 2*sqrt(2)],
y in [-sqrt(2), sqrt(2)].

Only up to ``max_points`` galaxies are sent to the browser (a reproducible
random subset); the chart title says so whenever it shows fewer than all.
Box and lasso selections are applied to *all* rows geometrically, so a
selection on a thinned map still picks every galaxy inside the drawn region.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from core.schema import SHORT_LABELS, VOTE_COLUMNS

SQRT2 = float(np.sqrt(2.0))
X_MAX = 2.0 * SQRT2
Y_MAX = SQRT2

#: Points sent to the browser at most (about 5 MB of chart data; WebGL stays fluid).
DEFAULT_MAX_POINTS = 50_000

#: Columns the map can be coloured by, in menu order (only those present are offered).
COLOR_CHOICES: tuple[str, ...] = VOTE_COLUMNS + ("NVOTE",)


def _wrap_longitude(ra_deg: np.ndarray, center_ra_deg: float) -> np.ndarray:
    """RA offset from the centre in radians, wrapped into [-pi, pi)."""
    offset = (np.asarray(ra_deg, dtype=np.float64) - center_ra_deg + 180.0) % 360.0 - 180.0
    return np.radians(offset)


def _mollweide_theta(dec_rad: np.ndarray) -> np.ndarray:
    """Auxiliary angle theta with 2*theta + sin(2*theta) = pi*sin(dec), by Newton's method."""
    target = np.pi * np.sin(dec_rad)
    t = 2.0 * dec_rad  # t = 2*theta; exact at the equator, a good start elsewhere
    for _ in range(50):
        slope = 1.0 + np.cos(t)
        step = np.where(slope > 1e-15, (t + np.sin(t) - target) / np.maximum(slope, 1e-15), 0.0)
        t = t - step
        if np.max(np.abs(step), initial=0.0) < 1e-12:
            break
    # At the poles the slope vanishes; theta is exactly +-pi/2 there.
    t = np.where(np.abs(dec_rad) >= np.pi / 2 - 1e-12, np.pi * np.sign(dec_rad), t)
    return t / 2.0


def mollweide(ra_deg: Any, dec_deg: Any, center_ra_deg: float = 180.0) -> tuple[np.ndarray, np.ndarray]:
    """Project RA/DEC (degrees) to Mollweide (x, y); RA increases to the left."""
    lam = _wrap_longitude(ra_deg, center_ra_deg)
    theta = _mollweide_theta(np.radians(np.asarray(dec_deg, dtype=np.float64)))
    x = -(2.0 * SQRT2 / np.pi) * lam * np.cos(theta)
    y = SQRT2 * np.sin(theta)
    return x, y


def _graticule(center_ra_deg: float) -> list[go.Scatter]:
    """Meridians every 2h, parallels every 30 degrees, the outline, and their labels."""
    xs: list[float | None] = []
    ys: list[float | None] = []
    dec_line = np.linspace(-90, 90, 91)
    for ra in np.arange(0, 360, 30):
        if abs(((ra - center_ra_deg + 180) % 360) - 180) >= 179.999:
            continue  # the edge meridian is drawn by the outline
        x, y = mollweide(np.full_like(dec_line, ra), dec_line, center_ra_deg)
        xs += [*x, None]
        ys += [*y, None]
    ra_line = center_ra_deg - 179.999 + np.linspace(0, 359.998, 181)
    for dec in (-60, -30, 0, 30, 60):
        x, y = mollweide(ra_line, np.full_like(ra_line, dec), center_ra_deg)
        xs += [*x, None]
        ys += [*y, None]
    for side in (-179.9999, 179.9999):
        x, y = mollweide(np.full_like(dec_line, center_ra_deg + side), dec_line, center_ra_deg)
        xs += [*x, None]
        ys += [*y, None]
    grid = go.Scatter(
        x=xs, y=ys, mode="lines", line=dict(color="rgba(128,128,128,0.45)", width=1),
        hoverinfo="skip", showlegend=False, name="grid",
    )
    ra_labels = [ra for ra in range(0, 360, 30) if abs(((ra - center_ra_deg + 180) % 360) - 180) < 179.0]
    lx, ly = mollweide(np.array(ra_labels, float), np.zeros(len(ra_labels)), center_ra_deg)
    ra_text = go.Scatter(
        x=lx, y=ly - 0.07, mode="text", text=[f"{ra // 15}h" for ra in ra_labels],
        textfont=dict(size=10, color="rgba(128,128,128,0.9)"), hoverinfo="skip", showlegend=False,
        name="RA labels",
    )
    decs = [-60, -30, 30, 60]
    dx, dy = mollweide(np.full(len(decs), center_ra_deg + 179.0), np.array(decs, float), center_ra_deg)
    dec_text = go.Scatter(
        x=dx - 0.12, y=dy, mode="text", text=[f"{d:+d}°" for d in decs],
        textfont=dict(size=10, color="rgba(128,128,128,0.9)"), hoverinfo="skip", showlegend=False,
        name="DEC labels",
    )
    return [grid, ra_text, dec_text]


@dataclass
class SkyMap:
    """A sky-map figure plus what is needed to turn a selection back into OBJIDs.

    ``shown_index``: row positions (into the table) of the plotted points, in
    trace order; ``x_all``/``y_all``: projected coordinates of every table row.
    """

    figure: go.Figure
    n_total: int
    n_shown: int
    color_by: str | None
    shown_index: np.ndarray
    x_all: np.ndarray
    y_all: np.ndarray
    objids: pd.Series
    data_trace_index: int

    @property
    def subsampled(self) -> bool:
        return self.n_shown < self.n_total

    @property
    def title(self) -> str:
        return str(self.figure.layout.title.text)


def color_choices(table: pd.DataFrame) -> list[str]:
    """Columns of ``table`` the map can be coloured by."""
    return [c for c in COLOR_CHOICES if c in table.columns]


def _hover(table: pd.DataFrame, shown: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """(customdata float32 rows, hover template lines): OBJID, RA/DEC in degrees, NVOTE, fractions."""
    hover_cols = ["RA", "DEC"] + [c for c in ("NVOTE",) + VOTE_COLUMNS if c in table.columns]
    custom = np.column_stack([table[c].to_numpy(dtype=np.float64)[shown] for c in hover_cols]).astype(np.float32)
    lines = ["<b>OBJID %{text}</b>", "RA %{customdata[0]:.4f}°, DEC %{customdata[1]:.4f}°"]
    for i, col in enumerate(hover_cols[2:], start=2):
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


def build_sky_map(
    table: pd.DataFrame,
    color_by: str | None = "P_EL",
    max_points: int | None = DEFAULT_MAX_POINTS,
    seed: int = 0,
    center_ra_deg: float = 180.0,
    height: int = 440,
) -> SkyMap:
    """Build the all-sky Scattergl figure of ``table`` (needs RA and DEC in degrees).

    ``color_by``: a column from :data:`COLOR_CHOICES` (None: one colour).
    ``max_points``: at most this many points are drawn (None: all); the title
    then reads "showing N of M". Hover shows OBJID, RA/DEC, NVOTE and the vote
    fractions present.
    """
    if "RA" not in table.columns or "DEC" not in table.columns:
        raise ValueError("the sky map needs RA and DEC columns (decimal degrees); this catalogue has no positions")
    if color_by is not None and color_by not in table.columns:
        raise ValueError(f"cannot colour by {color_by!r}: no such column (choose from {color_choices(table)})")
    n_total = len(table)
    x_all, y_all = mollweide(table["RA"].to_numpy(), table["DEC"].to_numpy(), center_ra_deg)
    if max_points is not None and n_total > max_points:
        rng = np.random.default_rng(seed)
        shown = np.sort(rng.choice(n_total, size=max_points, replace=False))
    else:
        shown = np.arange(n_total)
    n_shown = len(shown)

    custom, lines = _hover(table, shown)
    marker = _marker(table, color_by, shown)
    objids = table["OBJID"]
    traces: list[Any] = _graticule(center_ra_deg)
    data_trace_index = len(traces)
    traces.append(go.Scattergl(
        x=x_all[shown].astype(np.float32), y=y_all[shown].astype(np.float32), mode="markers",
        marker=marker, text=objids.to_numpy(dtype=object)[shown], customdata=custom,
        hovertemplate="<br>".join(lines) + "<extra></extra>", name="galaxies", showlegend=False,
    ))
    if n_shown < n_total:
        title = f"Showing {n_shown:,} of {n_total:,} galaxies (random subset)"
    else:
        title = f"{n_total:,} galaxies"
    colour_note = f" · colour: {color_by}" if color_by else ""  # short: the modebar sits top right
    fig = go.Figure(traces)
    fig.update_layout(
        title=dict(text=title + colour_note, font=dict(size=14)),
        height=height, margin=dict(l=10, r=10, t=40, b=10),
        xaxis=dict(visible=False, range=[-X_MAX * 1.05, X_MAX * 1.05]),
        yaxis=dict(visible=False, range=[-Y_MAX * 1.05, Y_MAX * 1.05], scaleanchor="x", scaleratio=1),
        dragmode="select", hovermode="closest", showlegend=False,
    )
    return SkyMap(fig, n_total, n_shown, color_by, shown, x_all, y_all, objids, data_trace_index)


def _inside_polygon(x: np.ndarray, y: np.ndarray, px: np.ndarray, py: np.ndarray) -> np.ndarray:
    """Even-odd rule: True where (x, y) lies inside the closed polygon (px, py)."""
    inside = np.zeros(len(x), dtype=bool)
    n = len(px)
    for i in range(n):  # loop over polygon edges (a few hundred), vectorised over points
        x1, y1, x2, y2 = px[i], py[i], px[(i + 1) % n], py[(i + 1) % n]
        crosses = (y1 > y) != (y2 > y)
        if not crosses.any():
            continue
        with np.errstate(divide="ignore", invalid="ignore"):
            x_cross = x1 + (y - y1) * (x2 - x1) / (y2 - y1)
        inside ^= crosses & (x < x_cross)
    return inside


def selection_mask(sky: SkyMap, selection: Mapping[str, Any] | None) -> np.ndarray:
    """Rows of the table picked by a plotly selection (``st.plotly_chart(on_select=...)``).

    Boxes and lassos (in projected coordinates) are applied to *all* rows; a
    plain click selection (points only) maps the clicked points back to rows.
    """
    mask = np.zeros(sky.n_total, dtype=bool)
    if not selection:
        return mask
    boxes = selection.get("box") or []
    lassos = selection.get("lasso") or []
    for box in boxes:
        xs, ys = box.get("x") or [], box.get("y") or []
        if len(xs) >= 2 and len(ys) >= 2:
            x0, x1 = sorted(map(float, xs[:2]))
            y0, y1 = sorted(map(float, ys[:2]))
            mask |= (sky.x_all >= x0) & (sky.x_all <= x1) & (sky.y_all >= y0) & (sky.y_all <= y1)
    for lasso in lassos:
        px = np.asarray(lasso.get("x") or [], dtype=np.float64)
        py = np.asarray(lasso.get("y") or [], dtype=np.float64)
        if len(px) >= 3:
            near = ((sky.x_all >= px.min()) & (sky.x_all <= px.max())
                    & (sky.y_all >= py.min()) & (sky.y_all <= py.max()))
            idx = np.flatnonzero(near)
            mask[idx[_inside_polygon(sky.x_all[idx], sky.y_all[idx], px, py)]] = True
    if not boxes and not lassos:
        for point in selection.get("points") or []:
            curve = point.get("curve_number", sky.data_trace_index)
            index = point.get("point_index", point.get("point_number"))
            if curve == sky.data_trace_index and index is not None and 0 <= int(index) < sky.n_shown:
                mask[sky.shown_index[int(index)]] = True
    return mask


def selected_objids(sky: SkyMap, selection: Mapping[str, Any] | None) -> list[str]:
    """OBJIDs (strings) of the rows a selection picks, in table order."""
    mask = selection_mask(sky, selection)
    return sky.objids.to_numpy(dtype=object)[mask].tolist()


def payload_bytes(sky: SkyMap) -> int:
    """Size of the JSON that ``st.plotly_chart`` sends to the browser for this figure."""
    import plotly.io as pio

    return len(pio.to_json(sky.figure, validate=False).encode("utf-8"))

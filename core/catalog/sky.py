"""All-sky map of a catalogue: Mollweide projection, thinning and selections (numpy; the figure is ui's).

Conventions: RA and DEC in decimal degrees (J2000). The map is drawn as the sky
is seen from inside the sphere, the astronomers' way: RA increases to the
*left*. The projection is centred on RA = 180 degrees by default so the SDSS
northern footprint (RA about 110-260 degrees) sits unbroken in the middle.

Projected coordinates are Mollweide plane units: x in [-2*sqrt(2), 2*sqrt(2)],
y in [-sqrt(2), sqrt(2)].

Only up to ``max_points`` galaxies are sent to the browser (a reproducible
random subset); the chart (``ui.catalog_charts``) says so whenever it shows fewer than all.
Box and lasso selections are applied to *all* rows geometrically, so a
selection on a thinned map still picks every galaxy inside the drawn region.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from core.schema import VOTE_COLUMNS

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


@dataclass
class Graticule:
    """Grid of the map in projected units: meridians every 2h, parallels every 30 degrees, the outline.

    ``line_x``/``line_y``: one polyline per grid line, separated by None; ``*_label_*``: where the
    RA labels (on the equator) and DEC labels (at the left edge) go, and their text.
    """

    line_x: list[float | None]
    line_y: list[float | None]
    ra_label_x: np.ndarray
    ra_label_y: np.ndarray
    ra_labels: list[str]
    dec_label_x: np.ndarray
    dec_label_y: np.ndarray
    dec_labels: list[str]


def graticule(center_ra_deg: float = 180.0) -> Graticule:
    """The :class:`Graticule` of a map centred on ``center_ra_deg``."""
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
    ra_at = [ra for ra in range(0, 360, 30) if abs(((ra - center_ra_deg + 180) % 360) - 180) < 179.0]
    lx, ly = mollweide(np.array(ra_at, float), np.zeros(len(ra_at)), center_ra_deg)
    decs = [-60, -30, 30, 60]
    dx, dy = mollweide(np.full(len(decs), center_ra_deg + 179.0), np.array(decs, float), center_ra_deg)
    return Graticule(xs, ys, lx, ly - 0.07, [f"{ra // 15}h" for ra in ra_at],
                     dx - 0.12, dy, [f"{d:+d}°" for d in decs])


@dataclass
class SkyPoints:
    """A catalogue on the map: projected coordinates of every row and which rows are drawn.

    ``shown_index``: row positions (into the table) of the drawn points, in drawing order;
    ``x_all``/``y_all``: projected coordinates of every table row; ``objids``: the table's OBJIDs.
    """

    n_total: int
    color_by: str | None
    shown_index: np.ndarray
    x_all: np.ndarray
    y_all: np.ndarray
    objids: pd.Series

    @property
    def n_shown(self) -> int:
        return len(self.shown_index)

    @property
    def subsampled(self) -> bool:
        return self.n_shown < self.n_total


def color_choices(table: pd.DataFrame) -> list[str]:
    """Columns of ``table`` the map can be coloured by."""
    return [c for c in COLOR_CHOICES if c in table.columns]


def hover_columns(table: pd.DataFrame) -> list[str]:
    """Numbers a point's hover shows, in order: RA, DEC (degrees), then NVOTE and the fractions present."""
    return ["RA", "DEC"] + [c for c in ("NVOTE",) + VOTE_COLUMNS if c in table.columns]


def sky_points(table: pd.DataFrame, color_by: str | None = "P_EL", max_points: int | None = DEFAULT_MAX_POINTS,
               seed: int = 0, center_ra_deg: float = 180.0) -> SkyPoints:
    """Project ``table`` (needs RA and DEC in degrees) and pick at most ``max_points`` rows to draw.

    ``color_by``: a column from :data:`COLOR_CHOICES` (None: one colour), checked here.
    ``max_points`` None draws every row; otherwise a reproducible random subset (``seed``).
    """
    if "RA" not in table.columns or "DEC" not in table.columns:
        raise ValueError("the sky map needs RA and DEC columns (decimal degrees); this catalogue has no positions")
    if color_by is not None and color_by not in table.columns:
        raise ValueError(f"cannot colour by {color_by!r}: no such column (choose from {color_choices(table)})")
    n_total = len(table)
    x_all, y_all = mollweide(table["RA"].to_numpy(), table["DEC"].to_numpy(), center_ra_deg)
    if max_points is not None and n_total > max_points:
        shown = np.sort(np.random.default_rng(seed).choice(n_total, size=max_points, replace=False))
    else:
        shown = np.arange(n_total)
    return SkyPoints(n_total, color_by, shown, x_all, y_all, table["OBJID"])


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


def selection_mask(sky: SkyPoints, selection: Mapping[str, Any] | None, trace: int) -> np.ndarray:
    """Rows of the table picked by a plotly selection (``st.plotly_chart(on_select=...)``).

    Boxes and lassos (in projected coordinates) are applied to *all* rows; a
    plain click selection (points only) maps the clicked points of curve ``trace``
    (the galaxies' trace; clicks on grid lines are ignored) back to rows.
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
            curve = point.get("curve_number", trace)
            index = point.get("point_index", point.get("point_number"))
            if curve == trace and index is not None and 0 <= int(index) < sky.n_shown:
                mask[sky.shown_index[int(index)]] = True
    return mask


def selected_objids(sky: SkyPoints, selection: Mapping[str, Any] | None, trace: int) -> list[str]:
    """OBJIDs (strings) of the rows a selection picks, in table order (see :func:`selection_mask`)."""
    mask = selection_mask(sky, selection, trace)
    return sky.objids.to_numpy(dtype=object)[mask].tolist()

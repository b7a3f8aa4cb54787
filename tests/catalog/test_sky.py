"""Mollweide projection, thinning and selections (core.catalog.sky); the figure is tests/pages/test_catalog_charts.py."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.catalog.reader import load_catalog, load_sample
from core.catalog.sky import (
    SQRT2,
    X_MAX,
    color_choices,
    graticule,
    mollweide,
    selected_objids,
    selection_mask,
    sky_points,
)
from tests.conftest import FIXTURES
from tests.support.sky_sample import tiled

TRACE = 3  #: curve number of the galaxies' trace (after the grid and its two label traces)


@pytest.fixture(scope="module")
def sample() -> pd.DataFrame:
    return load_sample().table


_tiled = tiled


def test_projection_centre_edges_poles_and_ra_to_the_left() -> None:
    x, y = mollweide([180.0, 90.0, 270.0, 0.0, 180.0, 180.0], [0.0, 0.0, 0.0, 0.0, 90.0, -90.0])
    np.testing.assert_allclose(x[:4], [0.0, X_MAX / 2, -X_MAX / 2, X_MAX], atol=1e-12)
    np.testing.assert_allclose(y[4:], [SQRT2, -SQRT2], atol=1e-12)
    # RA increases to the left: a galaxy east of the centre (larger RA) has a smaller x.
    xe, _ = mollweide([190.0], [10.0])
    xw, _ = mollweide([170.0], [10.0])
    assert xe[0] < 0 < xw[0]
    # A different centre moves that RA to x = 0.
    xc, _ = mollweide([30.0], [45.0], center_ra_deg=30.0)
    assert abs(xc[0]) < 1e-12


def test_projection_solves_the_mollweide_equation_and_stays_inside_the_ellipse() -> None:
    ra = np.random.default_rng(1).uniform(0, 360, 20_000)
    dec = np.concatenate([np.linspace(-90, 90, 10_000), np.random.default_rng(2).uniform(-90, 90, 10_000)])
    x, y = mollweide(ra, dec)
    assert np.all(x**2 / 8 + y**2 / 2 <= 1 + 1e-9)
    theta = np.arcsin(y / SQRT2)
    residual = 2 * theta + np.sin(2 * theta) - np.pi * np.sin(np.radians(dec))
    assert np.abs(residual).max() < 1e-9


def test_box_selection_applies_to_all_rows_even_when_thinned(sample: pd.DataFrame) -> None:
    big = _tiled(sample, 3_000)
    sky = sky_points(big, max_points=300)
    box = {"x": [0.5, -0.8], "y": [0.2, 1.0]}
    mask = selection_mask(sky, {"box": [box], "lasso": [], "points": []}, TRACE)
    expected = (sky.x_all >= -0.8) & (sky.x_all <= 0.5) & (sky.y_all >= 0.2) & (sky.y_all <= 1.0)
    np.testing.assert_array_equal(mask, expected)
    assert mask.sum() > 300  # more galaxies than are drawn
    everything = selection_mask(sky, {"box": [{"x": [-3, 3], "y": [-2, 2]}]}, TRACE)
    assert everything.all()
    ids = selected_objids(sky, {"box": [box]}, TRACE)
    assert ids == list(big["OBJID"][expected]) and all(isinstance(i, str) for i in ids)


def test_lasso_selection_is_a_point_in_polygon_test(sample: pd.DataFrame) -> None:
    sky = sky_points(sample)
    triangle = {"x": [-1.0, 1.0, 0.0], "y": [0.0, 0.0, 1.2]}
    mask = selection_mask(sky, {"lasso": [triangle]}, TRACE)
    x, y = sky.x_all, sky.y_all
    # inside the triangle: above the base, below both slanted sides
    expected = (y > 0) & (y < 1.2 * (1 - np.abs(x)))
    boundary = np.abs(y - 1.2 * (1 - np.abs(x))) < 1e-9
    np.testing.assert_array_equal(mask[~boundary], expected[~boundary])
    assert 0 < mask.sum() < len(sample)


def test_clicked_points_map_back_through_the_thinning(sample: pd.DataFrame) -> None:
    big = _tiled(sample, 2_000)
    sky = sky_points(big, max_points=500)
    points = [{"curve_number": TRACE, "point_index": 7},
              {"curve_number": 0, "point_index": 3}]  # a grid line: ignored
    ids = selected_objids(sky, {"points": points, "box": [], "lasso": []}, TRACE)
    assert ids == [big["OBJID"].iloc[sky.shown_index[7]]]
    assert selected_objids(sky, None, TRACE) == [] and selected_objids(sky, {}, TRACE) == []


def test_color_choices_and_errors() -> None:
    training = load_catalog(FIXTURES / "catalog" / "training_10col.csv").table
    with pytest.raises(ValueError, match="no positions"):
        sky_points(training)
    positions = load_catalog(FIXTURES / "catalog" / "objid_ra_dec.csv").table
    assert color_choices(positions) == []
    with pytest.raises(ValueError, match="cannot colour"):
        sky_points(positions, color_by="P_EL")
    plain = sky_points(positions, color_by=None)
    assert plain.n_shown == len(positions)


def test_thinning_is_reproducible_and_the_graticule_lies_on_the_map(sample: pd.DataFrame) -> None:
    big = _tiled(sample, 5_000)
    points = sky_points(big, color_by="NVOTE", max_points=1_000)
    assert points.subsampled and points.n_shown == 1_000 and points.n_total == 5_000
    np.testing.assert_array_equal(sky_points(big, max_points=1_000).shown_index, points.shown_index)
    grid = graticule()
    xs = np.array([v for v in grid.line_x if v is not None])
    ys = np.array([v for v in grid.line_y if v is not None])
    assert np.all(xs**2 / 8 + ys**2 / 2 <= 1 + 1e-9)
    assert "12h" in grid.ra_labels and grid.dec_labels == ["-60°", "-30°", "+30°", "+60°"]

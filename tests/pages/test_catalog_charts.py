"""The Catalog page's figures (ui.catalog_charts): the sky map's traces, title, payload, and its selections."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import plotly.io as pio
import pytest

from core.catalog.reader import load_sample
from core.catalog.sky import mollweide
from core.catalog.stats import fraction_histograms
from tests.support.sky_sample import tiled
from ui.catalog_charts import build_sky_map, histogram_figure, payload_bytes, selected_objids


@pytest.fixture(scope="module")
def sample() -> pd.DataFrame:
    return load_sample().table


_tiled = tiled


def test_sample_map_shows_every_galaxy_with_hover_and_colour(sample: pd.DataFrame) -> None:
    sky = build_sky_map(sample, color_by="P_EL")
    assert sky.n_shown == sky.n_total == 695 and not sky.subsampled
    assert sky.title.startswith("695 galaxies")
    trace = sky.figure.data[sky.data_trace_index]
    assert trace.type == "scattergl"
    assert list(trace.text) == list(sample["OBJID"])
    np.testing.assert_allclose(np.asarray(trace.marker.color), sample["P_EL"], atol=1e-6)
    assert "OBJID %{text}" in trace.hovertemplate and "P_CS" in trace.hovertemplate
    assert np.asarray(trace.customdata).shape == (695, 2 + 1 + 9)
    x, y = mollweide(sample["RA"], sample["DEC"])
    np.testing.assert_allclose(np.asarray(trace.x), x, atol=1e-5)
    np.testing.assert_allclose(np.asarray(trace.y), y, atol=1e-5)


def test_large_table_is_thinned_and_the_title_says_so(sample: pd.DataFrame) -> None:
    big = _tiled(sample, 5_000)
    sky = build_sky_map(big, color_by="NVOTE", max_points=1_000)
    assert sky.subsampled and sky.n_shown == 1_000 and sky.n_total == 5_000
    assert "Showing 1,000 of 5,000 galaxies" in sky.title
    trace = sky.figure.data[sky.data_trace_index]
    assert len(trace.x) == 1_000
    assert list(trace.text) == list(big["OBJID"].iloc[sky.shown_index])
    again = build_sky_map(big, color_by="NVOTE", max_points=1_000)
    np.testing.assert_array_equal(again.shown_index, sky.shown_index)  # reproducible


def test_payload_is_base64_compact(sample: pd.DataFrame) -> None:
    sky = build_sky_map(_tiled(sample, 20_000), max_points=None)
    size = payload_bytes(sky)
    spec = json.loads(pio.to_json(sky.figure, validate=False))
    assert "bdata" in json.dumps(spec["data"][sky.data_trace_index]["x"])
    # Per galaxy: 15 float32 (x, y, colour, 12 hover numbers) = 80 base64 bytes + a 21-byte OBJID
    # string; as plain JSON numbers the same would take ~280 bytes.
    assert 100 < size / 20_000 < 120


def test_a_clicked_galaxy_is_selected_and_a_grid_click_is_not(sample: pd.DataFrame) -> None:
    sky = build_sky_map(_tiled(sample, 2_000), max_points=500)
    points = [{"curve_number": sky.data_trace_index, "point_index": 7}, {"curve_number": 0, "point_index": 3}]
    assert selected_objids(sky, {"points": points}) == [sky.points.objids.iloc[sky.shown_index[7]]]


def test_histograms_draw_one_panel_per_fraction(sample: pd.DataFrame) -> None:
    fig = histogram_figure(fraction_histograms(sample))
    assert len(fig.data) == 9 and fig.layout.annotations[0].text.startswith("P_EL (elliptical)")


def test_the_map_keeps_its_ranges_and_readable_tick_labels(sample: pd.DataFrame) -> None:
    sky = build_sky_map(sample, color_by=None)
    layout = sky.figure.layout
    # The 1:1 scale shrinks a domain (the ellipse fills the plot) and never autoranges onto the labels.
    assert layout.xaxis.constrain == layout.yaxis.constrain == "domain"
    assert layout.xaxis.autorange is False and layout.yaxis.autorange is False
    labels = [t for t in sky.figure.data if t.name in ("RA labels", "DEC labels")]
    assert len(labels) == 2
    for trace in labels:
        assert trace.textfont.size >= 11
        r, g, b = (int(trace.textfont.color[i:i + 2], 16) for i in (1, 3, 5))
        assert max(r, g, b) <= 0x50  # dark grey on the light page

"""AppTest of the Explore page: the embedding map renders on the built-in data, a click shows the galaxy,
and a box selection is what the Predict and Train pages then use."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core.explain.map_table import galaxies_for, map_table
from core.explain.projection import project_files
from core.inference.galaxy_sets import combine_sets, demo_sets
from tests.support.paths import APP_FILE, REPO_ROOT
from ui import state_keys
from ui.embedding_map_view import HUMAN_TOP, map_figure

DEMO = REPO_ROOT / "data" / "demo"
FILES = [str(DEMO / "embeddings" / "gz1.parquet"), str(DEMO / "embeddings" / "spin.parquet")]
CHART = f"embedding_map|gz1 + spin|{HUMAN_TOP}|0"  # the chart's key with the default colour


@pytest.fixture
def demo_model(monkeypatch: pytest.MonkeyPatch) -> None:
    """The shipped models/demo (the model the built-in indexes were made with) as the only run."""
    shutil.copytree(REPO_ROOT / "models" / "demo", Path(os.environ["GZ_MODELS_DIR"]) / "demo")


@pytest.fixture(scope="module")
def drawn():
    """(IDs in map order, the map's traces' rows) as the page draws them with the default colour."""
    projection = project_files(FILES)
    gset = galaxies_for(projection.ids, [combine_sets(demo_sets(DEMO), "demo")])
    frame = map_table(projection, gset)
    return projection.ids, frame, map_figure(frame, HUMAN_TOP, projection.explained).rows


def _points(drawn, rows: list[int]) -> list[dict]:
    """Plotly's selection points for frame rows, as the browser reports them (trace, index in trace)."""
    _, frame, traces = drawn
    return [{"curve_number": curve, "point_index": index, "point_number": index,
             "x": float(frame["x"][row]), "y": float(frame["y"][row])}
            for curve, trace_rows in enumerate(traces) for index, row in enumerate(trace_rows) if row in rows]


def test_map_renders_a_click_shows_the_galaxy_and_a_box_reaches_predict_and_train(demo_model, drawn):
    ids = drawn[0]
    at = AppTest.from_file(str(APP_FILE), default_timeout=180).run()
    at.switch_page("pages/explore.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.multiselect(key=state_keys.MAP_FILES).value == FILES
    assert any("581 galaxies from gz1" in c.value and "principal components" in c.value for c in at.caption)
    assert any("Lintott et al. 2008" in c.value and "SDSS" in c.value for c in at.caption)
    assert "The model's top answer" in at.selectbox(key=state_keys.MAP_COLOUR).options  # models/demo found
    # A click on one point shows that galaxy's image and votes.
    at.session_state[CHART] = {"selection": {"points": _points(drawn, [3]), "box": [], "lasso": [], "point_indices": []}}
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.session_state[state_keys.MAP_FOCUS] == ids[3]
    assert any(ids[3] in m.value for m in at.markdown)
    assert at.get("imgs") or at.get("image")
    # A box around five galaxies becomes the selection, with its CSV.
    rows = [0, 1, 2, 400, 500]
    box = {"x": [-1.0, 1.0], "y": [-1.0, 1.0], "xref": "x", "yref": "y"}
    at.session_state[CHART] = {"selection": {"points": _points(drawn, rows), "box": [box], "lasso": [],
                                             "point_indices": []}}
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert {m.label: m.value for m in at.metric}["Selected"] == "5"
    assert list(at.session_state[state_keys.MAP_SELECTION].ids) == [ids[r] for r in rows]
    # Predict: the demo set is cut to the selection (a switch says so).
    at.switch_page("pages/predict.py").run()
    assert not at.exception, [e.value for e in at.exception]
    only = [t for t in at.toggle if "selected on the embedding map" in t.label]
    assert only and only[0].label == "Only the 5 galaxies selected on the embedding map" and only[0].value
    table = next(df for df in at.dataframe if "model P_EL" in df.value.columns)
    assert sorted(table.value["ID"]) == sorted([ids[r] for r in rows])  # predicted: exactly the selection
    # Train: the demo set's label rows are cut to the selection.
    at.switch_page("pages/train.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert any(t.label == "Only the 5 galaxies selected on the embedding map" for t in at.toggle)
    assert any("Training on 5 selected galaxies' labels from gz1, spin" in c.value for c in at.caption)
    # Back on Explore the map is redrawn without it, but the selection stays in use until cleared.
    at.switch_page("pages/explore.py").run()
    assert {m.label: m.value for m in at.metric}["Selected"] == "5"
    assert any("earlier box/lasso selection is still in use" in c.value for c in at.caption)
    next(b for b in at.button if b.key == "embedding_map_clear").click().run()
    assert state_keys.MAP_SELECTION not in at.session_state
    assert "Selected" not in {m.label for m in at.metric}

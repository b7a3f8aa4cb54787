"""AppTest of the Predict page's explain panels: Grad-CAM per learned answer and "More like this"."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from core.explain.answers import learned_columns
from core.explain.index_file import read_index
from core.explain.neighbours import NeighbourIndex
from core.inference.compare import top_answer
from core.inference.predict import load_run
from core.schema import VOTE_COLUMNS
from tests.support.paths import page_file
from tests.support.tiny_runs import make_run

PAGE = page_file("predict")
REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "data" / "demo"
K = 6


@pytest.fixture
def demo_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> tuple[str, list[str]]:
    """The shipped models/demo, a small demo set (one galaxy and its K nearest) and the built-in gz1 index.

    Returns (query ID, its neighbours nearest first).
    """
    shutil.copytree(REPO / "models" / "demo", Path(os.environ["GZ_MODELS_DIR"]) / "demo")
    index = read_index(DEMO / "embeddings" / "gz1.parquet")
    pos, _ = NeighbourIndex(index.vectors).search(index.vectors[:1], K, exclude=[0])
    query, near = index.ids[0], [index.ids[p] for p in pos[0]]
    demo = tmp_path / "demo"
    (demo / "gz1").mkdir(parents=True)
    (demo / "embeddings").mkdir()
    shutil.copy(DEMO / "embeddings" / "gz1.parquet", demo / "embeddings" / "gz1.parquet")
    labels = pd.read_csv(DEMO / "gz1" / "labels.csv", dtype={"OBJID": str})
    labels = labels[labels["OBJID"].isin([query, *near])]
    labels.to_csv(demo / "gz1" / "labels.csv", index=False)
    for name in labels["FILE"]:
        shutil.copy(DEMO / "gz1" / name, demo / "gz1" / name)
    monkeypatch.setenv("GZ_DEMO_DIR", str(demo))
    return query, near


def _images(at: AppTest) -> list[str]:
    return [url for el in at.get("image") for url in el.value]


def _open_buttons(at: AppTest) -> list:
    return [b for b in at.button if b.key and b.key.startswith("similar_open|")]


def _show(at: AppTest, gid: str) -> None:
    """Select the galaxy table's row of ``gid``."""
    table = next(df for df in at.dataframe if "model P_EL" in df.value.columns)
    row = list(table.value["ID"]).index(gid)
    key = table.proto.id[table.proto.id.index("predict_table|"):]
    at.session_state[key] = {"selection": {"rows": [row], "columns": [], "cells": []}}
    at.run()


def test_saliency_switches_answers_and_more_like_this_opens_a_neighbour(demo_home):
    query, near = demo_home
    at = AppTest.from_file(PAGE, default_timeout=120).run()
    assert not at.exception, [e.value for e in at.exception]
    _show(at, query)
    assert not at.exception, [e.value for e in at.exception]
    picker = at.selectbox(key="explain_answer")
    learned = learned_columns(load_run(REPO / "models" / "demo").learned)
    assert [o.split("(")[-1].rstrip(")") for o in picker.options] == learned  # only the learned columns
    assert "P_EL_DEBIASED" not in learned
    assert any("Grad-CAM" in c.value and "4 x 4" in c.value for c in at.caption)
    before = _images(at)
    picker.set_value("P_CW" if picker.value != "P_CW" else "P_ACW").run()
    assert not at.exception
    after = _images(at)
    assert len(after) == len(before) and after != before  # the heat map changed, the rest did not
    # More like this: K neighbours, the galaxy itself not among them, nearest first.
    buttons = _open_buttons(at)
    assert [b.key.split("|")[2] for b in buttons] == near and query not in near
    assert any(c.value.startswith(near[0]) and "d = " in c.value for c in at.caption)
    buttons[2].click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert any(h.value.startswith(f"Galaxy {near[2]}") for h in at.subheader)
    # The opened galaxy's heat map starts on its own top answer, not on the answer picked for the last one.
    table = next(df for df in at.dataframe if "model P_EL" in df.value.columns).value
    row = table[table["ID"] == near[2]].iloc[0]
    top = VOTE_COLUMNS[int(top_answer(np.array([[row[f"model {c}"] for c in VOTE_COLUMNS]], float))[0])]
    assert at.selectbox(key="explain_answer").value == top


def test_run_without_an_index_shows_the_embed_command(monkeypatch: pytest.MonkeyPatch):
    from tests.support.tiny_runs import FIXTURES

    monkeypatch.setenv("GZ_DEMO_DIR", str(FIXTURES))
    run = make_run(Path(os.environ["GZ_MODELS_DIR"]) / "tiny", width=8, image_size=32,
                   learned_columns=("P_EL", "P_CW", "P_ACW", "P_EDGE", "P_DK", "P_MG", "P_CS"))
    at = AppTest.from_file(PAGE, default_timeout=120).run()
    assert not at.exception, [e.value for e in at.exception]
    offered = [o.split("(")[-1].rstrip(")") for o in at.selectbox(key="explain_answer").options]
    assert offered == ["P_EL", "P_CW", "P_ACW", "P_EDGE", "P_DK", "P_MG", "P_CS"]  # not the two it never learned
    assert any("No embedding index was made with this run" in i.value for i in at.info)
    assert any(f"python -m core embed --model {run}" in c.value and "/embeddings/" in c.value for c in at.code)


def test_upload_gets_a_heat_map_and_its_look_alikes(demo_home):
    query, near = demo_home
    at = AppTest.from_file(PAGE, default_timeout=120).run()
    image = DEMO / "gz1" / f"{query}.jpg"
    at.file_uploader(key="predict_upload").upload("mine.jpg", image.read_bytes(), "image/jpeg")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.selectbox(key="explain_answer_upload").options
    looks = [b.key.split("|")[2] for b in at.button if b.key and b.key.startswith("similar_upload_open|")]
    assert len(looks) == K and looks[0] == query  # the same picture: its own indexed copy comes first


def test_a_galaxy_missing_from_the_index_is_compared_by_its_image(demo_home):
    from core.explain.index_file import write_index

    query, near = demo_home
    path = Path(os.environ["GZ_DEMO_DIR"]) / "embeddings" / "gz1.parquet"
    index = read_index(path)
    keep = [i for i, gid in enumerate(index.ids) if gid != query]
    write_index(path, [index.ids[i] for i in keep], index.vectors[keep], index.meta)
    at = AppTest.from_file(PAGE, default_timeout=120).run()
    _show(at, query)
    assert not at.exception, [e.value for e in at.exception]
    assert any("is not in the index" in c.value and "embedded now" in c.value for c in at.caption)
    looks = [b.key.split("|")[2] for b in _open_buttons(at)]
    assert len(looks) == K and query not in looks and looks[0] == near[0]  # its image finds the same nearest

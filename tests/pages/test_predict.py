"""AppTest of the Predict page: model metrics, galaxy table and selection, set charts, uploads, errors."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from tests.support.paths import page_file
from tests.support.tiny_runs import FIXTURES, make_run
from ui.plain_text import md_escape

PAGE = page_file("predict")


@pytest.fixture
def with_demo(monkeypatch: pytest.MonkeyPatch) -> Path:
    """models/demo (untrained) and the fixture galaxies (7 GZ1 class-labelled, 5 spin cutouts) as demo set."""
    monkeypatch.setenv("GZ_DEMO_DIR", str(FIXTURES))
    return make_run(Path(os.environ["GZ_MODELS_DIR"]) / "demo", width=8, image_size=32)


def _charts(at: AppTest) -> dict[str, dict]:
    return {el.proto.id: json.loads(el.proto.spec) for el in at.get("plotly_chart")}


def _chart(at: AppTest, key: str) -> dict:
    return next(spec for cid, spec in _charts(at).items() if key in cid)


def _table(at: AppTest):
    return next(df for df in at.dataframe if "model P_EL" in df.value.columns)


def test_without_models_the_page_says_where_to_train():
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    assert not at.exception
    assert any("No trained model" in i.value for i in at.info)


def test_demo_set_table_bars_and_set_metrics(with_demo: Path):
    at = AppTest.from_file(PAGE, default_timeout=120).run()
    assert not at.exception, [e.value for e in at.exception]
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Validation accuracy"] == "70.0%"  # last epoch of the run's metrics.csv
    table = _table(at).value
    assert len(table) == 12
    assert table["DISAGREEMENT"].is_monotonic_decreasing  # largest disagreement first
    assert set(table["LABEL_KIND"]) == {"class-derived", "vote fractions", "partial vote fractions"}
    bars = _chart(at, "predict_galaxy_bars")
    first = table.iloc[0]
    names = [t["name"] for t in bars["data"]]
    human = "people (class-derived)" if first["LABEL_KIND"] == "class-derived" else "people (vote fractions)"
    assert names == ["model", human]
    assert len(bars["data"][0]["y"]) == 9
    # Over the set: scatter per column with the 1:1 line, confusion matrix, accuracy.
    scatter = _chart(at, "predict_scatter")
    assert sum(1 for t in scatter["data"] if t["name"] == "1:1") == 9
    assert any("RMSE" in a["text"] for a in scatter["layout"]["annotations"])
    assert "predict_confusion" in " ".join(_charts(at))
    assert "Top-answer accuracy" in metrics
    # Every figure with its n, the majority-class baseline and chance; 12 galaxies is below 50: a warning.
    assert any("n = 8 galaxies with a top answer" in c.value and "majority-class baseline" in c.value
               and "chance 16.7%" in c.value for c in at.caption)
    assert any("Only 8 galaxies with a top answer" in w.value for w in at.warning)
    assert at.get("download_button")


def test_selecting_a_row_shows_that_galaxy(with_demo: Path):
    at = AppTest.from_file(PAGE, default_timeout=120).run()
    table = _table(at)
    target = table.value.iloc[3]
    at.session_state[_selection_key(table)] = {"selection": {"rows": [3], "columns": [], "cells": []}}
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert any(h.value == f"Galaxy {md_escape(target['ID'])}" for h in at.subheader)
    bars = _chart(at, "predict_galaxy_bars")
    assert bars["data"][0]["y"][0] == pytest.approx(target["model P_EL"])


def _selection_key(table) -> str:
    """The user key of the galaxy table (it includes run, set and TTA, so a new choice clears the selection)."""
    return table.proto.id[table.proto.id.index("predict_table|"):]


def test_upload_shows_nine_bars_and_bad_upload_an_error(with_demo: Path, tmp_path: Path):
    at = AppTest.from_file(PAGE, default_timeout=120).run()
    image = FIXTURES / "spin" / "ra11.876000_dec+16.136900.jpg"
    at.file_uploader(key="predict_upload").upload(image.name, image.read_bytes(), "image/jpeg")
    at.run()
    assert not at.exception
    bars = _chart(at, "predict_upload_bars")
    assert [t["name"] for t in bars["data"]] == ["model"] and len(bars["data"][0]["y"]) == 9
    top = next(m for m in at.metric if m.label == "Most people would say")
    assert not top.proto.delta  # the share is plain text, never an up-arrow delta
    assert any(c.value.endswith("of the vote, as the model predicts it") for c in at.caption)

    at.file_uploader(key="predict_upload").set_value(("galaxy.jpg", b"Not an image at all", "image/jpeg"))
    at.run()
    assert not at.exception  # the page keeps running
    assert any(md_escape("galaxy.jpg: is not a JPEG or PNG") in e.value for e in at.error)


def test_catalogue_choice_without_an_upload_uses_the_builtin_sample_and_explains(with_demo: Path):
    # One catalogue state for every page (ui.catalog_state): with no upload it is the built-in
    # sample, as on the Catalog, Images and Train pages; here no images are downloaded yet.
    at = AppTest.from_file(PAGE, default_timeout=120).run()
    at.radio(key="predict_set_source").set_value("Catalogue + downloaded images").run()
    assert not at.exception
    assert not any("No catalogue loaded yet" in i.value for i in at.info)
    assert any("Download images on the **Images** page first" in i.value for i in at.info)


def test_loaded_catalogue_is_joined_to_downloaded_images(with_demo: Path, tmp_path: Path):
    from core.catalog.reader import load_sample
    from ui import state_keys

    images = tmp_path / "images"
    images.mkdir()
    (images / "587738947208085695.jpg").write_bytes((FIXTURES / "gz1" / "587738947208085695.jpg").read_bytes())
    at = AppTest.from_file(PAGE, default_timeout=120)
    at.session_state[state_keys.CATALOG] = load_sample()
    at.session_state[state_keys.IMAGES_DIR] = str(images)
    at.run()
    at.radio(key="predict_set_source").set_value("Catalogue + downloaded images").run()
    assert not at.exception, [e.value for e in at.exception]
    table = _table(at).value
    assert table["ID"].tolist() == ["587738947208085695"]
    assert table["LABEL_KIND"].tolist() == ["vote fractions"]  # the sample's Table-2 fractions
    assert table["human P_EDGE"].iloc[0] == pytest.approx(0.345)
    assert any("694 catalogue galaxies have no image" in c.value for c in at.caption)


def test_columns_the_run_never_learned_are_drawn_as_not_learned(monkeypatch: pytest.MonkeyPatch):
    from core.schema import RAW_COLUMNS

    monkeypatch.setenv("GZ_DEMO_DIR", str(FIXTURES))
    make_run(Path(os.environ["GZ_MODELS_DIR"]) / "demo", learned_columns=RAW_COLUMNS + ("P_CS",))
    at = AppTest.from_file(PAGE, default_timeout=120).run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("never learned P_EL_DEBIASED, P_CS_DEBIASED" in c.value for c in at.caption)
    model_bars = _chart(at, "predict_galaxy_bars")["data"][0]
    assert model_bars["text"][-2:] == ["not learned", "not learned"] and model_bars["y"][-2:] == [None, None]
    table = _table(at).value
    assert table["model P_CS_DEBIASED"].isna().all() and table["model P_CS"].notna().all()
    titles = [a["text"] for a in _chart(at, "predict_scatter")["layout"]["annotations"]]
    assert "P_EL_DEBIASED: not learned" in titles and "P_CS_DEBIASED: not learned" in titles


def test_choices_persist_when_navigating_away_and_back(with_demo: Path):
    from tests.support.paths import REPO_ROOT
    from ui import state_keys

    at = AppTest.from_file(str(REPO_ROOT / "app.py"), default_timeout=120).run()
    at.switch_page("pages/predict.py").run()
    assert not at.exception, [e.value for e in at.exception]
    at.toggle(key=state_keys.PREDICT_TTA).set_value(True).run()
    at.radio(key=state_keys.PREDICT_SET_SOURCE).set_value("Image folder (no labels)").run()
    at.switch_page("pages/compare.py").run()
    assert not at.exception
    at.toggle(key=state_keys.COMPARE_HELD_OUT).set_value(False).run()
    at.switch_page("pages/home.py").run()
    at.switch_page("pages/predict.py").run()
    assert at.toggle(key=state_keys.PREDICT_TTA).value is True
    assert at.radio(key=state_keys.PREDICT_SET_SOURCE).value == "Image folder (no labels)"
    at.switch_page("pages/compare.py").run()
    assert at.toggle(key=state_keys.COMPARE_HELD_OUT).value is False


class _Slot:
    """Stands in for the st.empty() placeholder: records the progress bar's texts and the final clearing."""

    def __init__(self) -> None:
        self.texts: list[str] = []
        self.cleared = False

    def progress(self, value: float, text: str = "") -> _Slot:
        assert 0.0 <= value <= 1.0
        self.texts.append(text)
        return self

    def empty(self) -> None:
        self.cleared = True


def test_progress_bar_counts_while_predicting_and_not_when_kept(tmp_path: Path):
    from core.inference.galaxy_sets import combine_sets, demo_sets
    from ui.model_cache import predictions_with_progress

    run = make_run(tmp_path / "models" / "progress-run", seed=3)
    gset = combine_sets(demo_sets(FIXTURES), "demo")
    slot = _Slot()
    first = predictions_with_progress([(str(run), "progress-run")], gset, False, slot)[str(run)]
    assert slot.texts[0].endswith("loading the model")
    assert slot.texts[-1] == "Predicting 12 galaxies with progress-run: 12 / 12" and slot.cleared
    assert any(t.endswith(": 0 / 12") for t in slot.texts)
    again = _Slot()
    kept = predictions_with_progress([(str(run), "progress-run")], gset, False, again)[str(run)]
    assert again.texts == [] and np.array_equal(kept[0], first[0], equal_nan=True)


def test_file_names_with_markdown_are_shown_as_text(with_demo: Path, tmp_path: Path):
    from ui import state_keys

    images = tmp_path / "images"
    images.mkdir()
    hostile = "![x](http:evil.example-p.png)"
    (images / f"{hostile}.jpg").write_bytes((FIXTURES / "gz1" / "587738947208085695.jpg").read_bytes())
    at = AppTest.from_file(PAGE, default_timeout=120)
    at.session_state[state_keys.IMAGES_DIR] = str(images)
    at.run()
    at.radio(key=state_keys.PREDICT_SET_SOURCE).set_value("Image folder (no labels)").run()
    assert not at.exception, [e.value for e in at.exception]
    assert _table(at).value["ID"].tolist() == [hostile]
    heading = next(h.value for h in at.subheader if h.value.startswith("Galaxy "))
    assert heading == f"Galaxy {md_escape(hostile)} (first in the table; select a row for another)"
    assert "![x](" not in heading and "largest disagreement" not in heading


def test_a_run_validated_on_three_galaxies_says_so(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("GZ_DEMO_DIR", str(FIXTURES))
    from core.training import checkpoint as ckpt

    run = make_run(Path(os.environ["GZ_MODELS_DIR"]) / "demo", val_fraction=0.2, extra_config={"data": {"n_val": 3}})
    rows = ckpt.read_metrics(run)
    rows[-1].update(val_n_top_answer=3, val_n_spin=1, val_baseline_accuracy=0.6667)
    ckpt.write_metrics(run, rows)
    at = AppTest.from_file(PAGE, default_timeout=120).run()
    assert not at.exception, [e.value for e in at.exception]
    assert {m.label: m.value for m in at.metric}["Validation accuracy"] == "70.0%"
    assert any(c.value.startswith("validation n = 3 galaxies") and "majority-class baseline 66.7%" in c.value
               and "chance 16.7%" in c.value for c in at.caption)
    assert any("only 3 validation images" in w.value for w in at.warning)
    assert "(n = 3)" in at.selectbox(key="predict_run").format_func(at.selectbox(key="predict_run").value)


def test_a_folder_of_other_galaxies_says_how_many_images_and_why_none_match(with_demo: Path, tmp_path: Path):
    from ui import state_keys

    images = tmp_path / "images"
    images.mkdir()
    for name in ("587722982276399181.jpg", "587722983360102542.jpg"):  # not galaxies of the 695-row sample
        (images / name).write_bytes((FIXTURES / "gz1" / "587738947208085695.jpg").read_bytes())
    at = AppTest.from_file(PAGE, default_timeout=120)
    at.session_state[state_keys.IMAGES_DIR] = str(images)
    at.run()
    at.radio(key="predict_set_source").set_value("Catalogue + downloaded images").run()
    assert not at.exception, [e.value for e in at.exception]
    text = next(re.sub(r"\\(.)", r"\1", i.value) for i in at.info if "No galaxy in this set" in i.value)
    assert "The folder holds 2 images, none named after an OBJID of this catalogue (e.g. 587722982276399181.jpg" in text


def test_a_sky_map_selection_is_the_default_set_and_says_so(with_demo: Path, tmp_path: Path):
    from core.catalog.reader import load_catalog
    from core.images.matching import mapped_catalog, mapped_dir
    from ui import state_keys
    from ui.catalog_state import MAPPED_NAME, mapped_digest

    images = tmp_path / "images"
    images.mkdir()
    ids = sorted(p.stem for p in mapped_dir().glob("*.jpg"))
    for objid in ids:
        (images / f"{objid}.jpg").write_bytes((mapped_dir() / f"{objid}.jpg").read_bytes())
    at = AppTest.from_file(PAGE, default_timeout=120)
    at.session_state[state_keys.CATALOG] = load_catalog(mapped_catalog(), name=MAPPED_NAME)
    at.session_state[state_keys.CATALOG_DIGEST] = mapped_digest()
    at.session_state[state_keys.SKY_SELECTION] = ids[:5]
    at.session_state[state_keys.IMAGES_DIR] = str(images)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.radio(key="predict_set_source").value == "Catalogue + downloaded images"
    assert at.toggle(key="predict_set_source_only_selection").label == "Only the 5 galaxies selected on the sky map"
    table = _table(at).value
    assert sorted(table["ID"]) == ids[:5]
    assert set(table["LABEL_KIND"]) == {"class-derived"}  # the built-in galaxies' shipped labels.csv
    at.toggle(key="predict_set_source_only_selection").set_value(False).run()
    assert len(_table(at).value) == 30

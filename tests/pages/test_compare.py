"""AppTest of the Compare models page: leaderboard of runs, two runs side by side."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.support.paths import page_file
from tests.support.tiny_runs import FIXTURES, make_run

PAGE = page_file("compare")


@pytest.fixture
def models_dir(monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("GZ_DEMO_DIR", str(FIXTURES))
    return Path(os.environ["GZ_MODELS_DIR"])


def test_leaderboard_and_side_by_side(models_dir: Path):
    make_run(models_dir / "demo", seed=0, image_size=32)
    make_run(models_dir / "wide48", seed=5, width=12, image_size=48)
    at = AppTest.from_file(PAGE, default_timeout=120).run()
    assert not at.exception, [e.value for e in at.exception]
    board = at.dataframe[0].value
    assert sorted(board["run"]) == ["demo", "wide48"]
    assert set(board["image size (px)"]) == {32, 48}
    assert board["n"].tolist() == [12, 12]
    pair = at.dataframe[1].value
    assert len(pair) == 12 and pair["DISAGREEMENT"].is_monotonic_decreasing
    assert {"A: demo P_EL", "B: wide48 P_EL"} <= set(pair.columns)
    bars = next(json.loads(el.proto.spec) for el in at.get("plotly_chart") if "compare_bars" in el.proto.id)
    assert [t["name"] for t in bars["data"]][:2] == ["A: demo", "B: wide48"]
    assert {m.label for m in at.metric} >= {"Same top answer", "Mean disagreement"}
    # One colour per run on every chart: the RMSE bars and the side-by-side bars agree.
    rmse = next(json.loads(el.proto.spec) for el in at.get("plotly_chart") if "compare_rmse" in el.proto.id)
    rmse_colour = {t["name"]: t["marker"]["color"] for t in rmse["data"]}
    assert rmse_colour["demo"] == bars["data"][0]["marker"]["color"] != rmse_colour["wide48"]
    assert rmse_colour["wide48"] == bars["data"][1]["marker"]["color"]
    legend = rmse["layout"]["legend"]  # beside the bars, never over the title above them
    assert legend["orientation"] == "v" and legend["x"] > 1
    # Chips carry the run name only (a full label was cut at 1024 px).
    assert at.multiselect(key="compare_runs").format_func(str(models_dir / "demo")) == "demo"

    # Swapping A: B is offered only the other run.
    at.selectbox(key="compare_a").set_value(str(models_dir / "wide48")).run()
    assert not at.exception
    assert at.selectbox(key="compare_b").value == str(models_dir / "demo")
    assert len(at.selectbox(key="compare_b").options) == 1
    assert "A: wide48 P_EL" in at.dataframe[1].value.columns


def test_one_run_gets_a_leaderboard_and_a_hint(models_dir: Path):
    make_run(models_dir / "demo")
    at = AppTest.from_file(PAGE, default_timeout=120).run()
    assert not at.exception
    assert len(at.dataframe[0].value) == 1
    assert any("Pick two or more runs" in i.value for i in at.info)


def test_no_runs():
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    assert not at.exception
    assert any("No trained model" in i.value for i in at.info)


def test_columns_a_run_never_learned_are_left_out_of_the_comparison(models_dir: Path):
    from core.schema import RAW_COLUMNS

    make_run(models_dir / "demo", seed=0, learned_columns=RAW_COLUMNS + ("P_CS",))
    make_run(models_dir / "full", seed=5)
    at = AppTest.from_file(PAGE, default_timeout=120).run()
    assert not at.exception, [e.value for e in at.exception]
    board = at.dataframe[0].value.set_index("run")
    assert board.loc["demo", "not learned"] == "P_EL_DEBIASED, P_CS_DEBIASED"
    assert board.loc["full", "not learned"] == ""
    assert board.loc["demo", ["RMSE P_EL_DEBIASED", "RMSE P_CS_DEBIASED"]].isna().all()
    pair = at.dataframe[1].value
    assert pair["A: demo P_EL_DEBIASED"].isna().all()
    assert not pair["MOST_DIFFERENT"].isin(["P_EL_DEBIASED", "P_CS_DEBIASED"]).any()
    bars = next(json.loads(el.proto.spec) for el in at.get("plotly_chart") if "compare_bars" in el.proto.id)
    assert bars["data"][0]["text"][-2:] == ["not learned", "not learned"]


def test_runs_are_scored_on_their_held_out_intersection(models_dir: Path):
    """Two runs with a split are scored on the galaxies both held out; a run without one is flagged."""
    from core.inference.galaxy_sets import combine_sets, demo_sets
    from core.training.prepare import is_validation

    make_run(models_dir / "demo", seed=9)  # val_fraction 0: trained on everything
    make_run(models_dir / "split0", seed=0, val_fraction=0.5)
    make_run(models_dir / "split1", seed=1, val_fraction=0.5)
    ids = combine_sets(demo_sets(FIXTURES), "demo").ids
    both = is_validation(ids, 0, 0.5) & is_validation(ids, 1, 0.5)
    assert 0 < both.sum() < len(ids)
    at = AppTest.from_file(PAGE, default_timeout=120).run()
    assert not at.exception, [e.value for e in at.exception]
    board = at.dataframe[0].value.set_index("run")
    assert set(board["n"]) == {int(both.sum())}
    n = int(both.sum())
    assert board.loc["demo", "scored on"] == f"trained on {n}/{n}"  # short, explained in a caption
    assert board.loc["split0", "scored on"] == board.loc["split1", "scored on"] == "held out"
    assert any("*trained on k/n*" in c.value for c in at.caption)
    # Ranked by honest scores only: the self-scored run is set apart below, unranked, whatever its accuracy.
    assert board["self-scored"].to_dict() == {"split0": False, "split1": False, "demo": True}
    assert board.index.tolist()[-1] == "demo" and board["rank"].isna().tolist() == [False, False, True]
    assert board["rank"].iloc[:2].tolist() == [1, 2] and board["accuracy"].iloc[0] >= board["accuracy"].iloc[1]
    assert any("not ranked" in w.value and "demo" in w.value for w in at.warning)
    assert {"baseline accuracy", "below baseline", "n top answer", "n spin"} <= set(board.columns)
    text = " ".join(m.value for m in at.markdown)
    assert f"{int(both.sum())} of 12 galaxies" in text and "demo trained on every galaxy" in text
    assert any("Only" in w.value and "galaxies with a top answer" in w.value for w in at.warning)  # n < 50

    # Side by side: the intersection of the two runs picked.
    at.selectbox(key="compare_a").set_value(str(models_dir / "split0")).run()
    at.selectbox(key="compare_b").set_value(str(models_dir / "split1")).run()
    assert not at.exception
    assert sorted(at.dataframe[1].value["ID"]) == sorted(i for i, k in zip(ids, both, strict=True) if k)

    # Switched off: every galaxy, and every run's figure may include training galaxies.
    at.toggle(key="compare_held_out").set_value(False).run()
    assert set(at.dataframe[0].value["n"]) == {12}
    assert at.dataframe[0].value["self-scored"].all()  # each run's training side is in the set
    assert len(at.dataframe[1].value) == 12


@pytest.mark.parametrize("page", ["predict", "compare", "train"])
def test_an_odd_run_folder_is_named_and_the_good_runs_stay_usable(models_dir: Path, page: str):
    make_run(models_dir / "demo")
    make_run(models_dir / "broken")
    (models_dir / "broken" / "config.json").write_bytes(b'["[x](http://evil.example/p.png)"]')
    make_run(models_dir / "latin1")
    (models_dir / "latin1" / "state.json").write_bytes(b'{"status": "\xe9"}')
    at = AppTest.from_file(page_file(page), default_timeout=120).run()
    assert not at.exception, [e.value for e in at.exception]
    notes = [w.value for w in at.warning if "Skipped 2 run folders" in w.value]
    assert len(notes) == 1
    assert "broken" in notes[0] and "latin1" in notes[0] and "evil.example" not in notes[0]
    demo = str(models_dir / "demo")
    if page == "predict":
        assert at.selectbox(key="predict_run").value == demo and len(at.selectbox(key="predict_run").options) == 1
    elif page == "compare":
        assert at.multiselect(key="compare_runs").value == [demo]
        assert len(at.dataframe[0].value) == 1  # the leaderboard of the good run


@pytest.mark.parametrize("page", ["predict", "compare"])
def test_a_damaged_model_file_is_named_and_does_not_take_the_page_down(models_dir: Path, page: str):
    make_run(models_dir / "demo")
    make_run(models_dir / "cut")
    data = (models_dir / "cut" / "model.pt").read_bytes()
    (models_dir / "cut" / "model.pt").write_bytes(data[: len(data) // 2])
    at = AppTest.from_file(page_file(page), default_timeout=120)
    if page == "predict":
        at.session_state["predict_run"] = str(models_dir / "cut")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert any(w.value.startswith("Run cut cannot be used: cut/model\\.pt") for w in at.warning)
    if page == "compare":
        assert at.dataframe[0].value["run"].tolist() == ["demo"]


def _calibrate_synthetically(run: Path, human_top=None) -> None:
    """A calibration.json fitted on made-up spreads (the page only draws what TOP_P says); ``human_top``: the
    volunteers' answers it records as its answer mix."""
    import numpy as np

    from core.inference.calibration import PLAIN, TTA, RunCalibration, fit_calibrator, save_calibration
    from core.inference.uncertainty import MC_SAMPLES, Spread

    rng = np.random.default_rng(0)
    n = 400
    p_top = rng.uniform(0.2, 1, n)
    s = Spread(sd=rng.uniform(0, 0.1, (n, 9)), top=np.zeros(n, int), p_top=p_top, margin=p_top / 2,
               agreement=p_top)
    cal = fit_calibrator(s, 1 + MC_SAMPLES, rng.uniform(0, 1, n) < p_top, human_top=human_top)
    save_calibration(run, RunCalibration({PLAIN: cal, TTA: cal}, {"run": run.name}))


def test_reliability_and_coverage_for_calibrated_runs(models_dir: Path):
    _calibrate_synthetically(make_run(models_dir / "demo", seed=0, image_size=32, dropout=0.2))
    make_run(models_dir / "plain", seed=1, image_size=32)
    at = AppTest.from_file(PAGE, default_timeout=120).run()
    assert not at.exception, [e.value for e in at.exception]
    table = next(d.value for d in at.dataframe if "ECE" in d.value.columns)
    assert table["run"].tolist() == ["demo"] and table["galaxies"].tolist() == [8]  # all six answers known
    charts = {el.proto.id.split("-")[-1]: json.loads(el.proto.spec) for el in at.get("plotly_chart")}
    reliability = next(v for k, v in charts.items() if "compare_reliability" in k)
    coverage = next(v for k, v in charts.items() if "compare_coverage" in k)
    assert [t["name"][:11] for t in reliability["data"]] == ["demo (ECE 0"]
    assert [t["name"] for t in coverage["data"]] == ["demo"]
    assert any("No TOP_P for plain" in c.value and "python -m core calibrate" in c.value for c in at.caption)


def test_how_sure_sets_self_scored_runs_apart_and_keeps_run_colours(models_dir: Path):
    """As on the leaderboard: a run scored on its own training galaxies is flagged and listed last."""
    _calibrate_synthetically(make_run(models_dir / "demo", seed=0, dropout=0.2))  # trained on everything
    _calibrate_synthetically(make_run(models_dir / "split", seed=1, dropout=0.2, val_fraction=0.5))
    at = AppTest.from_file(PAGE, default_timeout=120).run()  # scored on the galaxies split held out
    assert not at.exception, [e.value for e in at.exception]
    assert at.multiselect(key="compare_runs").value[0].endswith("demo")  # chosen first, yet listed last
    table = next(d.value for d in at.dataframe if "ECE" in d.value.columns)
    assert table["run"].tolist() == ["split", "demo"] and table["self-scored"].tolist() == [False, True]
    assert any("**self-scored** (listed last): demo" in c.value for c in at.caption)
    charts = {el.proto.id.split("-")[-1]: json.loads(el.proto.spec) for el in at.get("plotly_chart")}
    rmse = next(v for k, v in charts.items() if "compare_rmse" in k)
    reliability = next(v for k, v in charts.items() if "compare_reliability" in k)
    coverage = next(v for k, v in charts.items() if "compare_coverage" in k)
    colour = {t["name"]: t["marker"]["color"] for t in rmse["data"]}
    assert [t["line"]["color"] for t in coverage["data"]] == [colour["split"], colour["demo"]]
    assert [t["marker"]["color"] for t in reliability["data"]] == [colour["split"], colour["demo"]]


def test_a_calibration_fitted_on_another_answer_mix_is_pointed_out(models_dir: Path):
    import numpy as np

    _calibrate_synthetically(make_run(models_dir / "mergers", seed=0, dropout=0.2), human_top=np.full(400, 5))
    _calibrate_synthetically(make_run(models_dir / "unrecorded", seed=1, dropout=0.2))  # a file from before
    at = AppTest.from_file(PAGE, default_timeout=120).run()
    assert not at.exception, [e.value for e in at.exception]
    notes = [i.value for i in at.info if "answer mix" in i.value]
    assert len(notes) == 1 and notes[0].startswith("**mergers**: TOP_P was fitted on galaxies whose volunteers' "
                                                   "top answers were 100% merger")
    assert "unrecorded" not in notes[0] and "the 8 scored here are" in notes[0]


def test_alike_answer_mixes_need_no_note():
    import numpy as np

    from core.inference.calibration import answer_mix
    from ui.confidence_view import mix_shift_note

    human = np.array([0] * 70 + [3] * 20 + [1] * 10)
    assert mix_shift_note(answer_mix(human), human[::3]) is None
    assert mix_shift_note(None, human) is None and mix_shift_note(answer_mix(human), human[:0]) is None
    note = mix_shift_note(answer_mix(human), np.repeat(np.arange(6), 5))
    assert note.startswith("TOP_P was fitted on galaxies whose volunteers' top answers were 70% elliptical, "
                           "20% edge-on, 10% clockwise spiral; the 30 scored here are 17% elliptical")

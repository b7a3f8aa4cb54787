"""AppTest of the Train page: data check, settings, refusal while busy, and the run panel from disk."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from core.config import get_settings
from core.jobs import JobLock, write_json_atomic, write_state
from core.training.checkpoint import write_metrics
from core.training.train import ACTIVE_RUN_FILE, TRAINING_LOCK
from tests.support.paths import page_file

PAGE = page_file("train")


def _run() -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=60)
    return at.run()


def test_page_shows_demo_data_check_and_start_button():
    at = _run()
    assert not at.exception
    assert "No training run yet" in at.info[0].value
    assert at.radio(key="train_data_choice").value == "Built-in demo set"
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Matched images"] in ("341", "240")
    captions = " ".join(c.value for c in at.caption)
    assert "class-derived, not vote fractions" in captions
    assert "Lintott et al. 2008" in captions  # data credit
    start = [b for b in at.button if b.label == "Start training"][0]
    assert not start.disabled


def test_missing_images_are_counted_with_a_download(tmp_path):
    labels = tmp_path / "labels.csv"
    labels.write_text("OBJID,CLASS_NAME\n587722952767439450,ELLIPTICAL\n587722952767439451,MERGER\n")
    (tmp_path / "imgs").mkdir()
    at = _run()
    at.radio(key="train_data_choice").set_value("Labels CSV on this computer").run()
    at.text_input(key="train_catalog_path").set_value(str(labels)).run()
    at.text_input(key="train_images_dir").set_value(str(tmp_path / "imgs")).run()
    assert not at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Labels without image"] == "2" and metrics["Matched images"] == "0"
    start = [b for b in at.button if b.label == "Start training"][0]
    assert start.disabled
    assert any("No image matches" in c.value for c in at.caption)


def test_running_run_is_shown_and_second_start_refused():
    settings = get_settings()
    run_dir = settings.models_dir / "run-x"
    write_json_atomic(settings.models_dir / ACTIVE_RUN_FILE, {"run_dir": str(run_dir)})
    write_metrics(run_dir, [
        {"epoch": 1, "train_loss": 1.5, "val_loss": 1.2, "val_accuracy": 0.7, "val_macro_recall": 0.3,
         "val_spin_accuracy": 0.5},
        {"epoch": 2, "train_loss": 1.1, "val_loss": 0.9, "val_accuracy": 0.8, "val_macro_recall": 0.5,
         "val_spin_accuracy": 0.8},
    ])
    with JobLock(run_dir), JobLock(settings.models_dir, TRAINING_LOCK):
        write_state(run_dir, {"status": "running", "epoch": 3, "epochs": 5, "batch": 2, "n_batches": 10,
                              "message": "epoch 3/5"})
        at = _run()
        assert not at.exception
        assert "run-x" in at.markdown[0].value and "running" in at.markdown[0].value
        assert any(b.label == "Cancel" for b in at.button)
        start = [b for b in at.button if b.label == "Start training"][0]
        assert start.disabled
        assert any("Only one runs at a time" in i.value for i in at.info)
        assert {m.label: m.value for m in at.metric}["Top-answer accuracy"] == "80.0%"
        at.button(key="cancel_training").click().run()
        assert (run_dir / "CANCEL").exists()
    at = _run()  # lock released without a final state: the worker died
    assert "interrupted" in at.markdown[0].value

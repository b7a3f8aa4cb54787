"""AppTest of the Train page's journey: a fresh run name after a start, a failed start shown to its starter
without replacing the current run, the status right after a resume, and the current-catalogue box."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

import core.jobs
from core.atomic import write_json_atomic
from core.config import get_settings
from core.jobs import LOG_NAME, JobLock, JobState, JobStatus, write_state
from core.training.checkpoint import read_metrics, write_metrics
from core.training.train import ACTIVE_RUN_FILE, TRAINING_LOCK
from tests.pages.test_train import PAGE, _labelled_folder, _run, _start_button, _texts, _use_path
from tests.support.tiny_runs import make_run


def _progress_texts(at: AppTest) -> list[str]:
    return [e.proto.text for e in at.get("progress")]


def test_after_a_start_the_run_name_is_fresh_and_a_failed_start_keeps_the_current_run(monkeypatch):
    settings = get_settings()
    earlier = make_run(settings.models_dir / "earlier")
    write_state(earlier, JobState(kind="training", status=JobStatus.FINISHED, total=2, done=2).to_dict())
    write_json_atomic(settings.models_dir / ACTIVE_RUN_FILE, {"run_dir": str(earlier)})
    started = []

    def fake_start(argv, folder, log_name=LOG_NAME, env=None):  # the worker exits on a usage error at once
        started.append(argv)
        Path(folder).mkdir(parents=True, exist_ok=True)
        (Path(folder) / log_name).write_text("error: --images /gone: no such folder\n")

    monkeypatch.setattr(core.jobs, "start_detached", fake_start)
    labels, folder = _labelled_folder(12)
    at = _use_path(_run(), labels, folder)
    at.checkbox(key="train_confirm_tiny").check().run()
    at.text_input(key="train_run_name").set_value("first").run()
    _start_button(at).click().run()
    assert not at.exception and started
    name = at.text_input(key="train_run_name").value
    assert name != "first" and name.startswith("run-") and not (settings.models_dir / name).exists()
    assert not _start_button(at).disabled and "already exists" not in _texts(at)
    # The starter sees why it failed; the machine's current run is still the earlier one.
    assert "first" in at.markdown[0].value and "failed" in at.markdown[0].value
    assert any("no such folder" in e.value for e in at.error)
    other = _run()
    assert "earlier" in other.markdown[0].value and "failed" not in other.markdown[0].value


def test_right_after_resume_the_status_counts_the_finished_epochs():
    settings = get_settings()
    run_dir = make_run(settings.models_dir / "resumed")
    rows = read_metrics(run_dir)
    write_metrics(run_dir, [{**rows[0], "epoch": e} for e in (1, 2, 3)])
    write_json_atomic(settings.models_dir / ACTIVE_RUN_FILE, {"run_dir": str(run_dir)})
    with JobLock(run_dir), JobLock(settings.models_dir, TRAINING_LOCK):
        write_state(run_dir, JobState(kind="training", status=JobStatus.RUNNING, phase="preparing", total=6,
                                      message="preparing images").to_dict())
        at = _run()
    assert not at.exception
    assert _progress_texts(at) == ["3/6 epochs done · preparing images"]


def test_current_catalogue_box_names_the_catalogue_counts_its_columns_and_offers_no_0_image_training():
    images = get_settings().home / "no-match"
    images.mkdir(parents=True)
    at = _run()
    at.radio(key="train_data_choice").set_value("Current catalogue").run()
    at.text_input(key="train_images_dir").set_value(str(images)).run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    box = [m.value for m in at.markdown if "↔" in m.value][0]
    assert "train_labels_" not in box and "16 columns" in box, box
    assert {m.label: m.value for m in at.metric}["Matched images"] == "0"
    assert "Labels: ." not in _texts(at) and "Label kinds" not in _texts(at)
    assert not [c for c in at.checkbox if c.key == "train_confirm_tiny"]
    assert _start_button(at).disabled


def _mapped_session(at: AppTest, selection: list[str]) -> AppTest:
    """The Catalog page's state after *Use the built-in galaxies with images* and a sky-map selection."""
    from core.catalog.reader import load_catalog
    from core.images.matching import mapped_catalog
    from ui import state_keys
    from ui.catalog_state import MAPPED_NAME, mapped_digest

    at.session_state[state_keys.CATALOG] = load_catalog(mapped_catalog(), name=MAPPED_NAME)
    at.session_state[state_keys.CATALOG_SOURCE] = MAPPED_NAME
    at.session_state[state_keys.CATALOG_DIGEST] = mapped_digest()
    at.session_state[state_keys.CATALOG_IS_SAMPLE] = False
    at.session_state[state_keys.SKY_SELECTION] = selection
    return at


def test_current_catalogue_of_the_built_in_galaxies_with_images_finds_their_images_and_labels():
    import shutil

    from core.images.matching import mapped_dir

    images = get_settings().home / "mapped-images"
    images.mkdir(parents=True)
    for jpg in mapped_dir().glob("*.jpg"):
        shutil.copy(jpg, images / jpg.name)
    ids = sorted(p.stem for p in images.glob("*.jpg"))
    at = _mapped_session(AppTest.from_file(PAGE, default_timeout=60), []).run()
    at.radio(key="train_data_choice").set_value("Current catalogue").run()
    at.text_input(key="train_images_dir").set_value(str(images)).run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    metrics = {m.label: m.value for m in at.metric}
    assert (metrics["Matched images"], metrics["Labels without image"]) == (str(len(ids)), "0") == ("30", "0")
    assert "labels.csv" in _texts(at) and "class-derived" in _texts(at)
    labels_line = [c.value for c in at.caption if c.value.startswith("Labels: ")][0]
    assert "class-derived (one-hot from" in labels_line and "not vote fractions)" in labels_line, labels_line
    assert labels_line.count("class-derived") == 1 and "((" not in _texts(at), labels_line
    # A sky-map selection narrows the set (the toggle says so), and turning it off gives all 30 again.
    at = _mapped_session(at, ids[:12]).run()
    assert at.toggle(key="train_only_selection").value
    assert {m.label: m.value for m in at.metric}["Matched images"] == "12"
    at.toggle(key="train_only_selection").set_value(False).run()
    assert {m.label: m.value for m in at.metric}["Matched images"] == "30"

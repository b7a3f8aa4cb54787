"""AppTest of the Train page: data check, settings, refusal while busy, the run panel from disk, resume,
the n and warnings on a tiny set, confined paths and the public mode."""

from __future__ import annotations

import shutil
import time

import pandas as pd
from streamlit.testing.v1 import AppTest

from core.atomic import write_json_atomic
from core.config import get_settings
from core.jobs import JobLock, JobState, JobStatus, read_state, write_state
from core.training.checkpoint import read_metrics, write_config, write_metrics
from core.training.train import ACTIVE_RUN_FILE, TRAINING_LOCK, Source, TrainConfig, run_training
from core.training.train_config import config_json
from tests.support.paths import REPO_ROOT, page_file
from tests.support.tiny_runs import make_run

PAGE = page_file("train")
DEMO = REPO_ROOT / "data" / "demo"


def _run() -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=60)
    return at.run()


def _texts(at: AppTest) -> str:
    parts = [e.value for kind in (at.caption, at.markdown, at.warning, at.error, at.info) for e in kind]
    return "\n".join(str(p) for p in parts)


def _start_button(at: AppTest):
    return [b for b in at.button if b.label == "Start training"][0]


def _labelled_folder(n: int) -> tuple:
    """``n`` demo GZ1 images and their class labels in a folder under GZ_HOME (an allowed root)."""
    home = get_settings().home
    folder = home / "imgs"
    folder.mkdir(parents=True, exist_ok=True)
    labels = pd.read_csv(DEMO / "gz1" / "labels.csv", dtype=str).groupby("CLASS_NAME", sort=True).head(2).head(n)
    for objid in labels.OBJID:
        shutil.copy(DEMO / "gz1" / f"{objid}.jpg", folder / f"{objid}.jpg")
    labels.to_csv(home / "labels.csv", index=False)
    return home / "labels.csv", folder


def _use_path(at: AppTest, labels, folder) -> AppTest:
    at.radio(key="train_data_choice").set_value("Labels CSV on this computer").run()
    at.text_input(key="train_catalog_path").set_value(str(labels)).run()
    return at.text_input(key="train_images_dir").set_value(str(folder)).run()


def test_page_shows_demo_data_check_and_start_button():
    measured = make_run(get_settings().models_dir / "measured")
    write_metrics(measured, [{**row, "images_per_s": 600.0} for row in read_metrics(measured)])
    at = _run()
    assert not at.exception
    assert "No training run yet" in at.info[0].value
    assert at.radio(key="train_data_choice").value == "Built-in demo set"
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Matched images"] in ("341", "240")
    captions = " ".join(c.value for c in at.caption)
    assert "Labels: 341 class-derived (one-hot from `CLASS_NAME`, not vote fractions)." in captions, captions
    assert "Label kinds" not in captions and "((" not in _texts(at) and "))" not in _texts(at)
    assert "Lintott et al. 2008" in captions  # data credit
    assert not _start_button(at).disabled
    # every setting explains itself, and the defaults are TrainConfig's
    assert at.number_input(key="train_epochs").value == TrainConfig().epochs
    for key in ("train_epochs", "train_lr", "train_batch", "train_val_fraction", "train_patience", "train_seed"):
        assert at.number_input(key=key).help, key
    assert at.select_slider(key="train_size").help and at.selectbox(key="train_arch").help
    assert "Estimated time: about" in captions and "600 images/s measured by run measured" in captions


def test_missing_images_are_counted_with_a_download():
    home = get_settings().home
    home.mkdir(parents=True, exist_ok=True)
    labels = home / "labels.csv"
    labels.write_text("OBJID,CLASS_NAME\n587722952767439450,ELLIPTICAL\n587722952767439451,MERGER\n")
    (home / "imgs").mkdir()
    at = _use_path(_run(), labels, home / "imgs")
    assert not at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Labels without image"] == "2" and metrics["Matched images"] == "0"
    assert _start_button(at).disabled
    assert any("No image matches" in c.value for c in at.caption)


def test_paths_outside_the_roots_are_refused_and_contents_never_echoed(tmp_path):
    secret = tmp_path / "outside.csv"
    secret.write_text("TOPSECRET_HEADER,x\n1,2\n")
    at = _use_path(_run(), secret, get_settings().home)
    assert not at.exception
    assert "outside the folders" in at.error[0].value and "TOPSECRET" not in _texts(at)
    inside = get_settings().home / "not_labels.csv"
    inside.parent.mkdir(parents=True, exist_ok=True)
    inside.write_text("TOPSECRET_HEADER,x\n1,2\n")  # inside the roots but not a labels table
    at.text_input(key="train_catalog_path").set_value(str(inside)).run()
    assert "no identifier column" in at.error[0].value and "TOPSECRET" not in _texts(at)
    assert _start_button(at).disabled


def test_tiny_set_shows_its_n_warns_and_asks_for_confirmation():
    labels, folder = _labelled_folder(3)
    at = _use_path(_run(), labels, folder)
    assert not at.exception
    assert {m.label: m.value for m in at.metric}["Matched images"] == "3"
    assert any("Only 3 matched images" in w.value for w in at.warning)
    # The warning's held-out count is the training's own split of these IDs, not a rounded share.
    from core.training.prepare import is_validation
    ids = pd.read_csv(labels, dtype=str).OBJID.tolist()
    n_val = int(is_validation(ids, TrainConfig().split_seed_used, TrainConfig().val_fraction).sum())
    assert any(f"({n_val} of them held out for validation)" in w.value for w in at.warning), [w.value for w in at.warning]
    assert _start_button(at).disabled
    at.checkbox(key="train_confirm_tiny").check().run()
    assert not _start_button(at).disabled

    # A run validated on 3 images shows that n, a warning, and its accuracy below the baseline flagged.
    run_dir = get_settings().models_dir / "tiny"
    config = TrainConfig(sources=[Source(str(labels), str(folder))], epochs=2)
    write_config(run_dir, {**config_json(config), "run_id": "tiny", "data": {"n_train": 3, "n_val": 3},
                           "baseline": {"n": 3, "n_top_answer": 3, "majority_accuracy": 2 / 3}})
    write_metrics(run_dir, [{"epoch": 1, "train_loss": 1.0, "val_loss": 1.1, "val_n": 3, "val_accuracy": 1 / 3,
                             "val_n_top_answer": 3, "val_baseline_accuracy": 2 / 3, "val_chance_accuracy": 1 / 6,
                             "val_macro_recall": 0.3, "val_spin_accuracy": None, "val_n_spin": 0}])
    write_state(run_dir, JobState(kind="training", status=JobStatus.FINISHED, total=2, done=1).to_dict())
    write_json_atomic(get_settings().models_dir / ACTIVE_RUN_FILE, {"run_dir": str(run_dir)})
    at = _run()
    text = _texts(at)
    assert "n = 3 validation images" in text and "majority-class baseline 66.7%" in text
    assert {m.label: m.delta for m in at.metric}["Top-answer accuracy"] == "-33.3 pts vs baseline"
    assert "on 0 spirals" in text
    # Finished: the status word once, then the figures (not "finished finished 1 epoch", "1 epoch finished of 2").
    head = at.markdown[0].value
    assert head.count("finished") == 1 and "1 of 2 epochs" in head, head
    assert "epochs finished" not in text and "epoch finished" not in text
    assert "measured on only 3 validation images" in text.lower() and "below the majority-class baseline" in text


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
        write_state(run_dir, JobState(kind="training", status=JobStatus.RUNNING, total=5, done=2, message="epoch 3/5",
                                      progress={"epoch": 3, "batch": 2, "n_batches": 10}).to_dict())
        at = _run()
        assert not at.exception
        assert "run-x" in at.markdown[0].value and "running" in at.markdown[0].value
        assert "epoch 3/5" not in at.markdown[0].value  # the progress bar says it, once
        assert [e.proto.text.count("epoch 3/5") for e in at.get("progress")] == [1]
        assert "epochs finished" not in _texts(at)
        assert any(b.label == "Cancel" for b in at.button)
        assert _start_button(at).disabled
        assert any("Only one runs at a time" in i.value for i in at.info)
        assert {m.label: m.value for m in at.metric}["Top-answer accuracy"] == "80.0%"
        at.button(key="cancel_training").click().run()
        assert (run_dir / "CANCEL").exists()
    at = _run()  # lock released without a final state: the worker died
    assert "interrupted" in at.markdown[0].value


def test_cancelled_run_resumes_from_the_page_with_more_epochs():
    labels, folder = _labelled_folder(12)
    run_dir = get_settings().models_dir / "stopped"
    config = TrainConfig(sources=[Source(str(labels), str(folder), 1.0)], arch="small", width=8, image_size=24, epochs=3,
                         batch_size=4, val_fraction=0.25, threads=1)

    def cancel_in_epoch_two(epoch, b, n, loss):
        if epoch == 2:
            (run_dir / "CANCEL").write_text("t")

    assert run_training(config, run_dir, command="t", on_batch=cancel_in_epoch_two)["status"] == "cancelled"
    at = _run()
    assert not at.exception
    assert any("stopped after epoch 1 of 3" in w.value for w in at.warning)
    # Starting with the same name no longer dead-ends; the resume is drawn once, in the run panel.
    at.text_input(key="train_run_name").set_value("stopped").run()
    assert any("holds a stopped run" in c.value for c in at.caption)
    assert not any(b.key == "resume_named_button" for b in at.button)
    assert [n.label for n in at.number_input].count("Epochs in all") == 1
    at.number_input(key="resume_current_epochs").set_value(4).run()
    at.button(key="resume_current_button").click().run()
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and (read_state(run_dir) or {}).get("status") != "finished":
        time.sleep(1)
    state = read_state(run_dir)
    assert state["status"] == "finished", (run_dir / "job.log").read_text()[-2000:]
    assert [r["epoch"] for r in read_metrics(run_dir)] == [1, 2, 3, 4]
    assert state["total"] == 4


def test_public_mode_starts_nothing(monkeypatch):
    monkeypatch.setenv("GZ_MODE", "public")
    at = _run()
    assert not at.exception
    assert any("public mode" in i.value and "cannot be started" in i.value for i in at.info)
    assert not [b for b in at.button if b.label == "Start training"]
    assert not [t for t in at.text_input if t.key in ("train_catalog_path", "train_images_dir")]
    settings = get_settings()
    run_dir = settings.models_dir / "operators-run"
    write_json_atomic(settings.models_dir / ACTIVE_RUN_FILE, {"run_dir": str(run_dir)})
    with JobLock(run_dir), JobLock(settings.models_dir, TRAINING_LOCK):
        write_state(run_dir, JobState(kind="training", status=JobStatus.RUNNING, total=5).to_dict())
        at = _run()
        assert "running" in at.markdown[0].value and not [b for b in at.button if b.label == "Cancel"]


def test_labels_by_upload_join_the_typed_image_folder():
    labels, folder = _labelled_folder(6)
    at = _run()
    at.radio(key="train_data_choice").set_value("Upload a labels CSV").run()
    at.file_uploader(key="train_labels_upload").upload("my labels.csv", labels.read_bytes(), "text/csv").run()
    at.text_input(key="train_images_dir").set_value(str(folder)).run()
    assert not at.exception
    assert {m.label: m.value for m in at.metric}["Matched images"] == "6"
    assert list(get_settings().catalogs_dir.glob("uploaded_labels_*.csv"))  # kept where the trainer can read it


def test_runs_table_catches_up_when_the_watched_run_finishes():
    settings = get_settings()
    run_dir = make_run(settings.models_dir / "watched")
    write_json_atomic(settings.models_dir / ACTIVE_RUN_FILE, {"run_dir": str(run_dir)})
    with JobLock(run_dir), JobLock(settings.models_dir, TRAINING_LOCK):
        write_state(run_dir, JobState(kind="training", status=JobStatus.RUNNING, total=2, done=1).to_dict())
        at = _run()
        assert at.session_state["train_seen_active"] is True
        assert "running" in at.dataframe[0].value.set_index("run").loc["watched", "status"]
    write_state(run_dir, JobState(kind="training", status=JobStatus.FINISHED, total=2, done=2,
                                  message="finished 2 epochs").to_dict())
    at.run()
    assert not at.exception and at.session_state["train_seen_active"] is False
    table = at.dataframe[0].value.set_index("run")
    assert table.loc["watched", "status"] == "finished" and "None" not in table.to_string()
    assert table.loc["watched", "epochs"] == "2 of 2"


def test_shipped_runs_are_listed_beside_yours_and_marked_read_only(tmp_path, monkeypatch):
    monkeypatch.setenv("GZ_SHIPPED_MODELS_DIR", str(tmp_path / "shipped"))
    shipped = make_run(tmp_path / "shipped" / "demo")
    make_run(get_settings().models_dir / "mine")
    at = _run()
    assert not at.exception
    assert at.dataframe[0].value["run"].tolist() == ["demo (shipped)", "mine"]
    assert at.selectbox(key="train_details_run").value == str(shipped)  # runs are told apart by folder
    assert any("**Shipped**" in m.value and "read-only" in m.value for m in at.markdown)


def test_run_details_default_to_the_run_just_finished(tmp_path, monkeypatch):
    monkeypatch.setenv("GZ_SHIPPED_MODELS_DIR", str(tmp_path / "shipped"))
    shipped = make_run(tmp_path / "shipped" / "demo")
    mine = make_run(get_settings().models_dir / "mine")
    write_metrics(mine, [{**row, "val_n": 1362, "val_n_top_answer": 1060} for row in read_metrics(mine)])
    write_state(mine, JobState(kind="training", status=JobStatus.FINISHED, total=2, done=2,
                               message="finished 2 epochs").to_dict())
    write_json_atomic(get_settings().models_dir / ACTIVE_RUN_FILE, {"run_dir": str(mine)})
    at = _run()
    assert not at.exception
    assert at.dataframe[0].value["run"].tolist()[0] == "demo (shipped)"
    assert at.selectbox(key="train_details_run").value == str(mine)
    at.selectbox(key="train_details_run").set_value(str(shipped)).run()  # a pick of the visitor's own stays
    assert at.selectbox(key="train_details_run").value == str(shipped)
    # An accuracy's n says what it counts: the scored galaxies of all held out.
    cell = at.dataframe[0].value.set_index("run").loc["mine", "accuracy (n)"]
    assert cell.endswith("(n=1,060 of 1,362 held out)"), cell

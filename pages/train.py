"""Train: pick labelled images and settings, start or resume a background training run, watch it live.

The run itself is a detached ``python -m core train`` process (core.jobs.start_detached) whose
arguments derive from TrainConfig; this page only reads the run folder (state.json,
metrics.csv) from a fragment that reruns every few seconds, so a refresh or a second tab
sees the same run. In the public mode nothing can be started from here.
"""

from __future__ import annotations

import time
from pathlib import Path

import streamlit as st

from core.config import get_settings
from core.images.preprocess import prepare_file
from core.images.reading import read_upright
from core.inference.runs import run_name as run_title
from core.inference.runs import scan_runs, skipped_note
from core.jobs import LOG_NAME, JobKind, JobStatus, read_job, read_launched_job, request_cancel, start_detached
from core.paths import display_path
from core.training.checkpoint import read_config, read_metrics
from core.training.model import ARCHITECTURES
from core.training.resume import ResumePoint, resume_argv, resume_point
from core.training.run_figures import estimate_seconds, run_figures
from core.training.train import active_run, training_busy
from core.training.train_config import TrainConfig, config_argv, default_of, help_of
from core.wording import count
from ui import state_keys
from ui.credits import show_credit
from ui.framing_view import show_framing
from ui.job_polling import rerun_when_job_changes
from ui.navigation import ensure_app_navigation
from ui.plain_text import md_escape
from ui.train_inputs import (
    check_data,
    choose_sources,
    class_column_text,
    file_stamp,
    tiny_set_warning,
    validation_count,
)
from ui.train_run_view import (
    LEGEND,
    code_span,
    curves,
    run_summary,
    runs_frame,
    show_figures,
    show_progress,
    status_line,
)

POLL_SECONDS = 2
SIZES = [48, 64, 80, 96, 128]

settings = get_settings()
ensure_app_navigation()
st.title("Train a model")
st.caption(
    "Train a CNN on this computer's CPU to emulate the Galaxy Zoo vote: it predicts the nine GZ1 vote "
    "fractions (six raw answers that sum to 1, P_CS = CW + ACW + EDGE, and the two debiased columns). "
    "Training runs in a separate process; you can leave this page and come back."
)
if settings.public:
    st.info("This dashboard runs in the public mode: training cannot be started or resumed from the browser. "
            "The trained models below can be used on the **Predict** and **Compare models** pages.",
            icon=":material/lock:")


@st.cache_resource(max_entries=16)
def _preview(files: tuple[str, ...], size: int, crop_fraction: float | None, stamp: tuple):
    return [prepare_file(Path(f), size, crop_fraction) for f in files]


RUN_NAME = "train_run_name"  # the Run name input's key
NEXT_NAME = "train_next_name"  # a fresh name the input takes on the next rerun (set once a run starts)
DETAILS_RUN = "train_details_run"  # the Run details box's key
DETAILS_FOR = "train_details_for"  # the current run the Run details box last switched to


def fresh_run_name(models_dir: Path, now: float | None = None) -> str:
    """``run-<local time>``, with ``-2``, ``-3``... when a folder of that name already exists."""
    base = time.strftime("run-%Y%m%d-%H%M%S", time.localtime(time.time() if now is None else now))
    name, n = base, 1
    while (models_dir / name).exists():
        n += 1
        name = f"{base}-{n}"
    return name


def _start(argv: list[str], run_dir: Path, note: str) -> None:
    start_detached(argv, run_dir)
    st.session_state[state_keys.TRAIN_RUN] = str(run_dir)
    st.session_state[NEXT_NAME] = True  # the started run's name is taken: propose another
    st.toast(note)
    time.sleep(0.5)
    st.rerun()


def resume_controls(point: ResumePoint, key: str) -> None:
    """Resume a stopped run (the CLI's resume), optionally to more epochs."""
    c1, c2 = st.columns([2, 3], vertical_alignment="bottom")
    epochs = c1.number_input("Epochs in all", point.epochs_done + 1, 1000, max(point.epochs_planned,
                             point.epochs_done + 1), key=f"{key}_epochs",
                             help="The run continues from its last finished epoch. Raise this to train for longer "
                                  "than first planned; the learning-rate schedule is stretched to the new length.")
    disabled = settings.public or training_busy()
    if c2.button(f"Resume {point.run_dir.name}", key=f"{key}_button", icon=":material/play_arrow:",
                 disabled=disabled, help="Training runs one at a time." if disabled else None):
        _start(resume_argv(point, int(epochs)), point.run_dir,
               f"Resuming {point.run_dir.name} after epoch {point.epochs_done}")


def current_run() -> Path | None:
    """The run the panel shows: the machine's current run, or the one this visitor started while it has not
    announced itself yet or failed to start (a failed start is not the machine's current run)."""
    run_dir = active_run()
    mine = st.session_state.get(state_keys.TRAIN_RUN)
    if mine and (run_dir is None or Path(mine) != run_dir):
        job = read_job(Path(mine))
        if job is None or job.status == JobStatus.FAILED:
            return Path(mine)
    return run_dir


@st.fragment(run_every=POLL_SECONDS)
def run_panel() -> None:
    run_dir = current_run()
    if run_dir is None:
        st.info("No training run yet. Choose data and settings below and press **Start training**.")
        return
    state = read_launched_job(run_dir, JobKind.TRAINING)
    running = state.running
    # The run just ended: redraw the whole page (the runs table, the Start button).
    rerun_when_job_changes(state_keys.TRAIN_SEEN_ACTIVE, running or state.status.active, on_start=False)
    rows = read_metrics(run_dir)
    st.markdown(f"**Run {code_span(run_dir.name)}** {status_line(state, len(rows))}")
    if running:
        show_progress(state, len(rows))
        # On its own line, as wide as its label: in a narrow column the label broke mid-word at 1024 px.
        if not settings.public and st.button("Cancel", key="cancel_training", type="secondary",
                                             icon=":material/stop:"):
            request_cancel(run_dir)
            st.toast("Cancelling: the run stops after the current batch and keeps its last finished epoch.")
    elif (point := resume_point(run_dir)) is not None:
        st.warning(f"This run stopped after epoch {point.epochs_done} of {point.epochs_planned} "
                   f"({point.status}). Resume it here, or with the same command from a terminal.")
        resume_controls(point, "resume_current")
        command = (read_config(run_dir) or {}).get("command")
        if isinstance(command, str) and command:
            with st.expander("The same resume from a terminal"):
                st.code(command, language="bash")
    if rows:
        _draw_rows(run_dir, rows)
    elif state.status.active:
        st.caption("The curves appear when the first epoch has finished.")
    if state.status == JobStatus.FAILED:
        st.error(md_escape(state.message or "training failed"))
        log_path = run_dir / LOG_NAME
        if log_path.exists():
            st.code("\n".join(log_path.read_text(errors="replace").splitlines()[-15:]))


def _draw_rows(run_dir: Path, rows: list[dict]) -> None:
    loss, met = curves(rows)
    last, cfg = rows[-1], read_config(run_dir) or {}
    if last.get("val_loss") is not None:
        c1, c2 = st.columns(2)
        c1.plotly_chart(loss, key="loss_curve", width="stretch")
        c2.plotly_chart(met, key="metric_curve", width="stretch")
        show_figures(run_figures(cfg, last), last)
    else:
        st.plotly_chart(loss, key="loss_curve", width="stretch")
        st.caption("This run held nothing out (validation fraction 0): it learned from every image, so it has "
                   "no validation curves. Score it on another labelled set with `python -m core evaluate` or "
                   "on the **Compare models** page.")
    data = cfg.get("data") if isinstance(cfg.get("data"), dict) else {}
    if data.get("n_class_derived"):
        columns = sorted({s["class_column"] for s in data.get("sources") or [] if s.get("class_column")})
        st.caption(f"{data['n_class_derived']} training/validation labels are **class-derived** (one-hot from "
                   f"{' and '.join(map(class_column_text, columns)) or class_column_text(None)}), not vote fractions: "
                   "accuracy compares the model's top answer with that class.")
    if data.get("n_unreadable"):
        names = [n for s in data.get("sources") or [] for n in (s.get("unreadable_files") or [])]
        st.caption(f"{data['n_unreadable']} unreadable images were skipped: " + ", ".join(md_escape(n) for n in names[:20]))


st.subheader("Current run")
run_panel()
with st.expander("What the numbers mean"):
    st.markdown(LEGEND)

if not settings.public:
    st.subheader("1. Labelled images")
    sources = choose_sources(settings)
    joins = check_data(sources)
    n_matched = sum(len(j) for _, j in joins)

    st.subheader("2. Model and settings")
    c = st.columns([1.5, 1.3, 1, 1.2, 1])  # room for the longest model name at 1024 px
    arch = c[0].selectbox("Model", ARCHITECTURES, index=ARCHITECTURES.index(default_of("arch")), key="train_arch",
                          help=help_of("arch"))
    size = c[1].select_slider("Image size (px)", SIZES, value=default_of("image_size"), key="train_size",
                              help=help_of("image_size"))
    epochs = c[2].number_input("Epochs", 1, 1000, default_of("epochs"), key="train_epochs", help=help_of("epochs"))
    lr = c[3].number_input("Learning rate (peak)", 1e-5, 1.0, default_of("lr"), format="%.4f", key="train_lr",
                           help=help_of("lr"))
    batch = c[4].number_input("Batch size", 4, 512, default_of("batch_size"), key="train_batch",
                              help=help_of("batch_size"))
    with st.expander("More settings"):
        m = st.columns(3)
        val_fraction = m[0].number_input("Validation fraction", 0.0, 0.95, default_of("val_fraction"), 0.05,
                                         key="train_val_fraction", help=help_of("val_fraction"))
        patience = m[1].number_input("Early-stop patience (epochs)", 0, 1000, default_of("patience"),
                                     key="train_patience", help=help_of("patience"))
        seed = m[2].number_input("Seed", 0, 2 ** 31 - 1, default_of("seed"), key="train_seed", help=help_of("seed"))
    config = TrainConfig(sources=sources, arch=arch, image_size=int(size), epochs=int(epochs), lr=float(lr),
                         batch_size=int(batch), val_fraction=float(val_fraction), patience=int(patience),
                         seed=int(seed))
    n_val = validation_count(joins, config)  # the training's own split of these IDs
    if n_matched:
        estimate = estimate_seconds(n_matched - n_val, n_val, config.epochs, arch, config.image_size, scan_runs().runs)
        st.caption("Estimated time: no run on this computer has measured its speed yet." if estimate is None else
                   f"Estimated time: about {max(1, round(estimate.seconds / 60))} min for "
                   f"{count(config.epochs, 'epoch')} of {count(n_matched - n_val, 'training image')} (from "
                   f"{md_escape(estimate.basis)}; plus preparing the images the first time).")
    if st.session_state.pop(NEXT_NAME, False) or RUN_NAME not in st.session_state:
        st.session_state[RUN_NAME] = fresh_run_name(settings.models_dir)
    runs_folder = display_path(settings.models_dir)
    run_name = st.text_input("Run name (a new folder in your runs folder)", key=RUN_NAME,
        help=f"A new folder in {md_escape(runs_folder)} (GZ_MODELS_DIR) that will hold the run's settings, curves "
             "and weights. The shipped models in models/ are read-only: they are never trained into.")

    if joins and all(len(j) for _, j in joins):
        with st.expander("What the model sees after framing (first images, resized to the model input)"):
            s, join = joins[0]
            files = tuple(str(f) for f in join.files[:8])
            thumbs = _preview(files, int(size), s.crop_fraction, file_stamp(s.catalog, s.images))
            st.image(thumbs, width=96, caption=[Path(f).stem[:18] for f in files])
            with read_upright(files[0]) as first:
                show_framing(first, s.crop_fraction, int(size), Path(files[0]).name)

    busy = training_busy()
    name = run_name.strip()
    existing = resume_point(settings.models_dir / name) if name and "/" not in name else None
    problem = None
    if not joins or not sources:
        problem = "Choose labels and an image folder with matching images first."
    elif any(len(j) == 0 for _, j in joins):
        problem = "No image matches a label yet: check the image folder (files must be named <ID>.jpg)."
    elif not name or "/" in name or name.startswith("."):
        problem = "Give the run a simple folder name (no slashes)."
    elif existing is not None:
        problem = f"{runs_folder}/{name} holds a stopped run: resume it below, or choose another run name."
    elif (settings.models_dir / name / "config.json").exists():
        problem = f"{runs_folder}/{name} already exists: choose another run name."
    tiny = bool(joins) and tiny_set_warning(n_matched, n_val)  # never offered for 0 images
    confirmed = not tiny or st.checkbox(f"Train on {count(n_matched, 'matched image')} anyway", key="train_confirm_tiny")
    if busy:
        st.info("A training run is in progress on this computer (see above). Only one runs at a time: cancel it "
                "or wait for it to finish before starting another.")
    elif problem:
        st.caption(md_escape(problem))
    shown = current_run()
    if existing is not None and not busy and (shown is None or existing.run_dir.resolve() != shown.resolve()):
        resume_controls(existing, "resume_named")  # the panel above already offers the current run's resume
    if st.button("Start training", type="primary", disabled=busy or problem is not None or not confirmed,
                 icon=":material/play_arrow:"):
        run_dir = settings.models_dir / name
        _start(config_argv(config.check(), run_dir), run_dir, f"Started training run {name}")

# ---------------------------------------------------------------- existing runs
run_scan = scan_runs()
if run_scan.skipped:
    st.warning(md_escape(skipped_note(run_scan.skipped)), icon=":material/folder_off:")
if run_scan.runs:
    st.subheader("Trained models")
    frame = runs_frame(run_scan.runs)  # the notes are sentences: listed below, not cut off in a cell
    st.dataframe(frame.drop(columns="note"), hide_index=True, width="stretch")
    notes = [f"- **{md_escape(run)}**: {md_escape(note)}" for run, note in zip(frame["run"], frame["note"])
             if note != "—"]
    if notes:
        st.markdown("\n".join(notes))
    st.caption("Validation figures of each run's last epoch, on its held-out galaxies, with the n behind each. "
               "An accuracy's n counts only the held-out galaxies with all six answers known, which it is scored "
               "on, followed by all the run held out; the majority baseline is always answering the most common class of "
               "those galaxies, and chance is 16.7% (one of six answers).")
    by_path = {r["path"]: r for r in run_scan.runs}
    latest = current_run()  # the details follow the run just started or finished, until another is picked
    latest_path = next((p for p in by_path if latest is not None and Path(p).resolve() == latest.resolve()), None)
    if latest_path is not None and st.session_state.get(DETAILS_FOR) != latest_path:
        st.session_state[DETAILS_FOR] = st.session_state[DETAILS_RUN] = latest_path
    picked = st.selectbox("Run details", list(by_path), key=DETAILS_RUN,
                          format_func=lambda p: run_title(by_path[p]),
                          help="A summary of how the run was trained and what it scored.")
    if picked:
        st.markdown(run_summary(by_path[picked]))

show_credit()

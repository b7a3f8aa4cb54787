"""Train: pick labelled images and settings, start a background training run, watch its curves live.

The run itself is a detached ``python -m core train`` process (core.jobs.start_detached);
this page only reads the run folder (state.json, metrics.csv) from a fragment that
reruns every few seconds, so a refresh or a second tab sees the same run.
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from core.atomic import write_bytes_atomic
from core.config import get_settings
from core.images.preprocess import prepare_file
from core.inference.runs import scan_runs, skipped_note
from core.jobs import LOG_NAME, read_state, request_cancel, start_detached
from core.schema import VOTE_COLUMNS, LabelKind
from core.training.checkpoint import read_config, read_metrics
from core.training.dataset import load_labelled_set
from core.training.model import ARCHITECTURES
from core.training.targets import LabelError
from core.training.train import active_run, training_busy
from core.training.train_config import (
    GZ1_IMAGES_CROP,
    Source,
    TrainConfig,
    config_argv,
    default_of,
    demo_sources,
    help_of,
)
from ui import state_keys
from ui.credits import show_credit
from ui.navigation import ensure_app_navigation
from ui.plain_text import md_escape

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


@st.cache_resource(show_spinner="Matching labels to images…", max_entries=8)
def _join(catalog: str, images: str, stamp: tuple):
    """Labels joined to images, held across reruns (``stamp`` changes when the files change)."""
    return load_labelled_set(catalog, images)


@st.cache_resource(max_entries=16)
def _preview(files: tuple[str, ...], size: int, crop: float, stamp: tuple):
    return [prepare_file(Path(f), size, crop) for f in files]


def _stamp(catalog: str, images: str) -> tuple:
    out = []
    for p in (Path(catalog), Path(images)):
        try:
            st_ = p.stat()
            out.append((st_.st_mtime_ns, st_.st_size))
        except OSError:
            out.append(None)
    return tuple(out)


def _current_catalog_csv() -> str | None:
    """Write the Catalog page's clean table (OBJID, NVOTE, vote columns) to a CSV the trainer can read."""
    result = st.session_state.get(state_keys.CATALOG)
    if result is None:
        return None
    table = result.table
    cols = [c for c in ("OBJID", "NVOTE", *VOTE_COLUMNS) if c in table.columns]
    data = table[cols].to_csv(index=False).encode()
    path = settings.catalogs_dir / f"train_labels_{hashlib.sha256(data).hexdigest()[:12]}.csv"
    if not path.exists():
        write_bytes_atomic(path, data)
    return str(path)


# ---------------------------------------------------------------- the run (live)
def _percent(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f}%"


def _curves(rows: list[dict]) -> tuple[go.Figure, go.Figure]:
    df = pd.DataFrame(rows)
    loss = go.Figure()
    for col, name in (("train_loss", "training loss"), ("val_loss", "validation loss")):
        if col in df and df[col].notna().any():
            loss.add_trace(go.Scatter(x=df["epoch"], y=df[col], mode="lines+markers", name=name))
    loss.update_layout(title="Loss", xaxis_title="epoch", yaxis_title="loss", height=330,
                       margin=dict(l=10, r=10, t=40, b=10), legend=dict(orientation="h", y=-0.25))
    met = go.Figure()
    for col, name in (("val_accuracy", "top-answer accuracy"), ("val_macro_recall", "macro recall"),
                      ("val_spin_accuracy", "spin accuracy (CW vs ACW)")):
        if col in df and df[col].notna().any():
            met.add_trace(go.Scatter(x=df["epoch"], y=df[col], mode="lines+markers", name=name))
    met.update_layout(title="Validation metrics", xaxis_title="epoch", yaxis=dict(range=[0, 1.02]),
                      height=330, margin=dict(l=10, r=10, t=40, b=10), legend=dict(orientation="h", y=-0.25))
    return loss, met


@st.fragment(run_every=POLL_SECONDS)
def run_panel() -> None:
    run_dir = active_run()
    mine = st.session_state.get(state_keys.TRAIN_RUN)
    if mine and (run_dir is None or Path(mine) != run_dir) and not read_state(Path(mine)):
        run_dir = Path(mine)  # just started: the worker has not announced itself yet
    if run_dir is None:
        st.info("No training run yet. Choose data and settings below and press **Start training**.")
        return
    state = read_state(run_dir)
    log_path = run_dir / LOG_NAME
    if state is None and log_path.exists() and "error" in log_path.read_text(errors="replace").lower():
        # The worker exited before writing any state (bad arguments, another run holds the lock).
        state = {"status": "failed", "message": "the training process stopped before it started"}
    state = state or {"status": "starting", "message": "starting the training process…"}
    rows = read_metrics(run_dir)
    status = state.get("status", "starting")
    badge = {"running": ":blue-badge[:material/sync: running]", "finished": ":green-badge[:material/check: finished]",
             "cancelled": ":gray-badge[:material/stop: cancelled]", "failed": ":red-badge[:material/error: failed]",
             "interrupted": ":orange-badge[:material/warning: interrupted]"}.get(status, f":gray-badge[{status}]")
    head, btn = st.columns([5, 1])
    head.markdown(f"**Run `{run_dir.name}`** {badge} {state.get('message', '')}")
    if state.get("running"):
        if btn.button("Cancel", key="cancel_training", type="secondary", icon=":material/stop:"):
            request_cancel(run_dir)
            st.toast("Cancelling: the run stops after the current batch and keeps its last finished epoch.")
        epochs = max(1, int(state.get("epochs") or 1))
        done = max(0, int(state.get("epoch") or 1) - 1)
        frac = (done + (state.get("batch") or 0) / max(1, state.get("n_batches") or 1)) / epochs
        st.progress(min(1.0, frac), text=f"epoch {state.get('epoch', 1)}/{epochs}"
                    + (f", batch {state['batch']}/{state['n_batches']}" if state.get("batch") else "")
                    + (f", running loss {state['train_loss_running']:.3f}" if state.get("train_loss_running") else ""))
    elif status == "interrupted":
        st.warning("The training process stopped without finishing (killed or crashed). Start the same run "
                   "again from the command line to resume from its last finished epoch:")
        cfg = read_config(run_dir) or {}
        if cfg.get("command"):
            st.code(cfg["command"], language="bash")
    st.caption(f"{len(rows)} epoch(s) finished" + (f" of {state.get('epochs')}" if state.get("epochs") else ""))
    if rows:
        loss, met = _curves(rows)
        last = rows[-1]
        has_validation = last.get("val_loss") is not None
        if has_validation:
            c1, c2 = st.columns(2)
            c1.plotly_chart(loss, key="loss_curve", width="stretch")
            c2.plotly_chart(met, key="metric_curve", width="stretch")
            m = st.columns(4)
            m[0].metric("Validation loss", f"{last['val_loss']:.3f}")
            m[1].metric("Top-answer accuracy", _percent(last.get("val_accuracy")))
            m[2].metric("Macro recall", f"{last['val_macro_recall']:.3f}" if last.get("val_macro_recall") is not None else "—")
            m[3].metric("Spin accuracy", _percent(last.get("val_spin_accuracy")))
        else:
            st.plotly_chart(loss, key="loss_curve", width="stretch")
            st.caption("This run held nothing out (validation fraction 0): it learned from every image, so it has "
                       "no validation curves. Score it on another labelled set with `python -m core evaluate` or "
                       "on the **Compare models** page (the shipped `gz1-heldout` run is the same recipe with a "
                       "held-out fifth).")
        cfg = read_config(run_dir) or {}
        n_cd = (cfg.get("data") or {}).get("n_class_derived")
        if n_cd:
            st.caption(f"{n_cd} training/validation labels are **class-derived** (one-hot from CLASS_NAME), "
                       f"not vote fractions: accuracy compares the model's top answer with that class.")
    elif status not in ("failed", "interrupted"):
        st.caption("The curves appear when the first epoch has finished.")
    if status == "failed" or (status == "interrupted" and log_path.exists()):
        log = log_path.read_text(errors="replace").splitlines()[-15:] if log_path.exists() else []
        st.error(state.get("message", "training failed"))
        if log:
            st.code("\n".join(log))


st.subheader("Current run")
run_panel()

# ---------------------------------------------------------------- data
st.subheader("1. Labelled images")
have_catalog = st.session_state.get(state_keys.CATALOG) is not None
choices = ["Built-in demo set", "Current catalogue (Catalog page)", "Labels CSV on this computer"]
choice = st.radio("Labels", choices, horizontal=True, key="train_data_choice",
                  help="The demo set is a class-balanced subset of GZ1 images plus spin-labelled SDSS cutouts, "
                       "shipped with the app. Labels may be vote fractions, partial fractions (e.g. only P_CW, "
                       "P_ACW) or a CLASS_NAME column (used as a one-hot, class-derived target).")
sources: list[Source] = []
default_images = str(st.session_state.get(state_keys.IMAGES_DIR) or settings.images_dir)
if choice == choices[0]:
    sources = demo_sources()
    st.caption(f"Demo set in `{settings.demo_dir}`: GZ1 subject images (class labels, centre crop "
               f"{sources[0].crop}) + spin-labelled 0.2″/px cutouts (P_CW, P_ACW, NVOTE; crop {sources[1].crop}).")
else:
    if choice == choices[1]:
        if not have_catalog:
            st.warning("No catalogue loaded yet: open the **Catalog** page first, or pick another option.")
        catalog_path = _current_catalog_csv() if have_catalog else None
    else:
        catalog_path = st.text_input("Labels CSV path", key="train_catalog_path",
                                     placeholder="/path/to/labels.csv")
    c1, c2 = st.columns([3, 1])
    images_dir = c1.text_input("Image folder (files named <ID>.jpg)", value=default_images, key="train_images_dir")
    crop = c2.number_input("Centre crop (fraction of side)", 0.1, 1.0, GZ1_IMAGES_CROP, 0.05, key="train_crop",
                           help="Share of the image side kept around the centre before resizing. "
                                "0.45 suits SDSS cutouts at 0.396″/px where the galaxy is small; 1.0 keeps all.")
    if catalog_path and images_dir:
        sources = [Source(str(catalog_path), str(images_dir), float(crop))]

joins = []
for s in sources:
    try:
        join = _join(s.catalog, s.images, _stamp(s.catalog, s.images))
    except (LabelError, FileNotFoundError, ValueError) as exc:
        st.error(str(exc))
        joins = []
        break
    joins.append((s, join))

if joins:
    for s, join in joins:
        summ = join.summary()
        kinds = summ["label_kinds"]
        with st.container(border=True):
            st.markdown(f"**{Path(s.catalog).parent.name}/{Path(s.catalog).name}** ({summ['labels_form']}) ↔ `{s.images}`")
            cols = st.columns(4)
            cols[0].metric("Matched images", summ["matched"])
            cols[1].metric("Labels without image", summ["labels_without_image"])
            cols[2].metric("Images without label", summ["images_without_label"])
            cols[3].metric("Unusable label rows", summ["label_rows_dropped"])
            st.caption("Label kinds: " + ", ".join(
                f"{k}: {v}" + (" ⚠️ class-derived, not vote fractions" if k == LabelKind.CLASS else "")
                for k, v in kinds.items()) + f". Key: {summ['id_kind']}.")
            if summ["labels_without_image"] or summ["images_without_label"] or summ["label_rows_dropped"]:
                st.download_button("Download the list of gaps (CSV)", join.missing_csv(),
                                   file_name=f"missing_{Path(s.catalog).stem}.csv", mime="text/csv",
                                   key=f"missing_{s.catalog}")

# ---------------------------------------------------------------- settings
st.subheader("2. Model and settings")
c = st.columns(5)
arch = c[0].selectbox("Model", ARCHITECTURES, key="train_arch",
                      help="small: a compact CNN for 2 CPU cores (default). resnet18: torchvision ResNet-18, "
                           "from scratch unless ImageNet weights are already on this computer (nothing is downloaded).")
size = c[1].select_slider("Image size (px)", SIZES, value=default_of("image_size"), key="train_size",
                          help=help_of("image_size"))
epochs = c[2].number_input("Epochs", 1, 1000, default_of("epochs"), key="train_epochs", help=help_of("epochs"))
lr = c[3].number_input("Learning rate (peak)", 1e-5, 1.0, default_of("lr"), format="%.4f", key="train_lr",
                       help=help_of("lr"))
batch = c[4].number_input("Batch size", 4, 512, default_of("batch_size"), key="train_batch",
                          help=help_of("batch_size"))
run_name = st.text_input("Run name (folder under models/)", value=st.session_state.get(
    "train_default_name", time.strftime("run-%Y%m%d-%H%M%S")), key="train_run_name")

if joins and all(len(j) for _, j in joins):
    with st.expander("What the model sees (first images after crop and resize)"):
        s, join = joins[0]
        files = tuple(str(f) for f in join.files[:8])
        thumbs = _preview(files, int(size), float(s.crop), _stamp(s.catalog, s.images))
        st.image(thumbs, width=96, caption=[Path(f).stem[:18] for f in files])

busy = training_busy()
problem = None
if not joins or not sources:
    problem = "Choose labels and an image folder with matching images first."
elif any(len(j) == 0 for _, j in joins):
    problem = "No image matches a label yet: check the image folder (files must be named <ID>.jpg)."
elif not run_name.strip() or "/" in run_name or run_name.startswith("."):
    problem = "Give the run a simple folder name (no slashes)."
elif (settings.models_dir / run_name.strip() / "config.json").exists():
    problem = f"models/{run_name.strip()} already exists: choose another run name."
if busy:
    st.info("A training run is in progress on this computer (see above). Only one runs at a time: cancel it "
            "or wait for it to finish before starting another.")
elif problem:
    st.caption(problem)
if st.button("Start training", type="primary", disabled=busy or problem is not None, icon=":material/play_arrow:"):
    run_dir = settings.models_dir / run_name.strip()
    config = TrainConfig(sources=sources, arch=arch, image_size=int(size), epochs=int(epochs), lr=float(lr),
                         batch_size=int(batch))
    start_detached(config_argv(config, run_dir), run_dir)
    st.session_state[state_keys.TRAIN_RUN] = str(run_dir)
    st.session_state["train_default_name"] = time.strftime("run-%Y%m%d-%H%M%S", time.localtime(time.time() + 1))
    st.toast(f"Started training run {run_dir.name}")
    time.sleep(0.5)
    st.rerun()

# ---------------------------------------------------------------- existing runs
run_scan = scan_runs()
runs = run_scan.runs
if run_scan.skipped:
    st.warning(md_escape(skipped_note(run_scan.skipped)), icon=":material/folder_off:")
if runs:
    st.subheader("Trained models")
    table = pd.DataFrame([{
        "run": r["run_id"],
        "model": r["config"].get("model", {}).get("arch"),
        "size px": r["config"].get("image_size"),
        "epochs": r["n_epochs"],
        "accuracy": r["final_metrics"].get("val_accuracy"),
        "macro recall": r["final_metrics"].get("val_macro_recall"),
        "spin accuracy": r["final_metrics"].get("val_spin_accuracy"),
        "status": r["status"],
    } for r in runs])
    st.dataframe(table, hide_index=True, width="stretch", column_config={
        "accuracy": st.column_config.NumberColumn(format="percent"),
        "spin accuracy": st.column_config.NumberColumn(format="percent"),
        "macro recall": st.column_config.NumberColumn(format="%.3f"),
    })
    st.caption("Validation metrics of each run's last epoch, on its held-out IDs.")

show_credit()

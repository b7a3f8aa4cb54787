"""Drawing a training run on the Train page: progress, curves, figures with their n, the runs table.

Everything here reads a run folder (state.json, config.json, metrics.csv) and draws; the
figures and flags come from :mod:`core.training.run_figures`, so a number is never shown
without its n, the majority-class baseline and chance.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from core.config import get_settings
from core.inference.runs import run_name
from core.jobs import JobState, JobStatus
from core.training.run_config import RunConfig
from core.training.run_figures import SMALL_N, RunFigures, run_figures
from core.wording import count
from ui.plain_text import md_escape

BADGES = {
    JobStatus.STARTING: ":gray-badge[:material/hourglass_top: starting]",
    JobStatus.RUNNING: ":blue-badge[:material/sync: running]",
    JobStatus.FINISHED: ":green-badge[:material/check: finished]",
    JobStatus.CANCELLED: ":gray-badge[:material/stop: cancelled]",
    JobStatus.FAILED: ":red-badge[:material/error: failed]",
    JobStatus.INTERRUPTED: ":orange-badge[:material/warning: interrupted]",
}

LEGEND = f"""
* **Top-answer accuracy**: share of validation galaxies where the model's largest fraction is the answer most
  people gave (only galaxies with all six answers known count; their number is the *n*).
* **Majority-class baseline**: the accuracy of always answering the most common class of the same validation
  galaxies. A model below it has learned nothing useful about the classes. **Chance** is 1 in 6 (16.7%).
* **Macro recall**: for each of the six answers, the share of galaxies with that top answer the model finds,
  averaged over the answers. Unlike accuracy, it drops when rare answers (mergers, edge-on) are missed.
* **Spin accuracy**: on spirals with a spin vote, how often the model tells clockwise from anticlockwise.
* **Class-derived**: a label that is one class name (e.g. `ELLIPTICAL`) turned into a 1-or-0 target, not the
  share of people's votes; accuracy then compares the model's top answer with that class.
* **Validation loss**: how far the predicted fractions are from the held-out labels; lower is better. When it
  rises while the training loss falls, the model is memorising its training images.
* With fewer than {SMALL_N} validation images, a figure can swing by many points on one image.
"""


def status_line(state: JobState, epochs_done: int) -> str:
    """The status badge once, then the figures: ``[finished] · 1 of 1 epoch``; a running run's badge only (its
    progress bar gives the epoch), and the run's message only where it adds something (an early stop, a limit)."""
    badge = BADGES.get(state.status, md_escape(state.status))
    if state.running:
        return badge
    figures = f"{epochs_done} of {count(state.total, 'epoch')}" if state.total else count(epochs_done, "epoch")
    message = (state.message or "").strip()
    if message.lower().startswith(str(state.status)):  # "finished 2 epochs", "cancelled after…": said already
        message = message[len(str(state.status)):].strip(" :;,·")
    if state.status in (JobStatus.FAILED, JobStatus.FINISHED) and not message.lower().startswith(("early", "stopped")):
        message = ""  # a failure's message is shown as an error below; "finished N epochs" repeats the figures
    return f"{badge} · {figures}" + (f" · {md_escape(message)}" if message else "")


def code_span(value: object) -> str:
    """``value`` as an inline code span: Markdown renders nothing inside, so only backticks must go."""
    return "`" + str(value).replace("`", "'").replace("\n", " ") + "`"


def percent(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f}%"


def curves(rows: list[dict]) -> tuple[go.Figure, go.Figure]:
    """(loss curve, validation-metric curve) over epochs."""
    df = pd.DataFrame(rows)
    loss = go.Figure()
    for col, name in (("train_loss", "training loss"), ("val_loss", "validation loss")):
        if col in df and df[col].notna().any():
            loss.add_trace(go.Scatter(x=df["epoch"], y=df[col], mode="lines+markers", name=name))
    loss.update_layout(title="Loss", xaxis_title="epoch", yaxis_title="loss", height=330,
                       margin=dict(l=10, r=10, t=40, b=10), legend=dict(orientation="h", y=-0.25))
    met = go.Figure()
    for col, name in (("val_accuracy", "top-answer accuracy"), ("val_baseline_accuracy", "majority baseline"),
                      ("val_macro_recall", "macro recall"), ("val_spin_accuracy", "spin accuracy (CW vs ACW)")):
        if col in df and df[col].notna().any():
            dash = "dot" if col == "val_baseline_accuracy" else None
            met.add_trace(go.Scatter(x=df["epoch"], y=df[col], mode="lines+markers", name=name,
                                     line=dict(dash=dash)))
    met.update_layout(title="Validation metrics", xaxis_title="epoch", yaxis=dict(range=[0, 1.02]),
                      height=330, margin=dict(l=10, r=10, t=40, b=10), legend=dict(orientation="h", y=-0.25))
    for fig in (loss, met):  # epochs are whole numbers: never a tick at 1.5
        fig.update_xaxes(tick0=1, dtick=max(1, -(-len(df) // 8)), tickformat="d",
                         range=[df["epoch"].min() - 0.5, df["epoch"].max() + 0.5])  # no epoch 0 or 2 after one
    return loss, met


def show_progress(state: JobState, epochs_done: int = 0) -> None:
    """Progress bar of a running run: epoch, batch and running loss.

    ``epochs_done``: epochs already in the run's metrics.csv (a resumed run has some before its first batch);
    until the run trains again (phase ``preparing``) the bar shows those and the run's message.
    """
    p = state.progress
    epochs = max(1, state.total or 1)
    done = max(state.done, epochs_done)
    if state.phase != "training":
        st.progress(min(1.0, done / epochs), text=f"{done}/{epochs} epochs done · {state.message or state.phase}")
        return
    epoch = int(p.get("epoch") or done + 1)
    frac = (epoch - 1 + (p.get("batch") or 0) / max(1, p.get("n_batches") or 1)) / epochs
    text = f"epoch {epoch}/{epochs}"
    if p.get("batch"):
        text += f", batch {p['batch']}/{p.get('n_batches')}"
    if p.get("train_loss_running"):
        text += f", running loss {p['train_loss_running']:.3f}"
    st.progress(min(1.0, max(0.0, frac)), text=text)


def show_figures(figures: RunFigures, row: dict) -> None:
    """The headline metrics with their n, the baseline and chance, and a warning where they mean little."""
    m = st.columns(4)
    m[0].metric("Validation loss", f"{row['val_loss']:.3f}", help=f"on {figures.n_val} held-out images")
    delta = None if figures.accuracy is None or figures.baseline is None else \
        f"{100 * (figures.accuracy - figures.baseline):+.1f} pts vs baseline"  # short: a 1024 px column cuts more
    m[1].metric("Top-answer accuracy", percent(figures.accuracy), delta=delta,
                help="Share of held-out galaxies whose top answer the model gets right; the delta is in "
                     "percentage points above (or below) the majority-class baseline given below.")
    m[2].metric("Macro recall", "—" if figures.macro_recall is None else f"{figures.macro_recall:.3f}",
                help="Recall of each of the six answers, averaged: rare answers count as much as common ones.")
    m[3].metric("Spin accuracy", percent(figures.spin_accuracy),
                help="Clockwise vs anticlockwise, on spirals with a spin vote.")
    st.caption(f"n = {_n(figures.n_val, 'validation image')} · accuracy on {_n(figures.n_accuracy)} with all six "
               f"answers · majority-class baseline {percent(figures.baseline)} · chance {percent(figures.chance)} "
               f"· spin accuracy on {_n(figures.n_spin, 'spiral')}")
    for text in figures.warnings():
        st.warning(text[0].upper() + text[1:] + ".", icon=":material/warning:")


def _n(value: int | None, noun: str = "") -> str:
    """``value`` with thousands separators ("?" when unknown), followed by ``noun`` in the right number."""
    if not noun:
        return "?" if value is None else f"{value:,}"
    return f"? {noun}s" if value is None else count(value, noun)


def _count(fig: RunFigures) -> str:
    """The n of an accuracy; older runs only recorded how many images they held out."""
    if fig.n_accuracy is not None:  # galaxies with all six answers known: fewer than all held out
        return f"n={fig.n_accuracy:,}" + (f" of {fig.n_val:,} held out" if fig.n_val and fig.n_val != fig.n_accuracy
                                           else "")
    return "n unknown" if fig.n_val is None else f"of {fig.n_val:,} held out"


def runs_frame(runs: list[dict]) -> pd.DataFrame:
    """One row per run, as text (no "None" cells): figures with their n, baseline, and a plain note."""
    records = []
    for r in runs:
        cfg, row = r["config"], r["final_metrics"] or {}
        fig = run_figures(cfg, row)
        note = "; ".join(fig.warnings()) or ("no held-out split: trained on every image"
                                             if row and row.get("val_loss") is None else "")
        records.append({
            "run": run_name(r),
            "model": RunConfig.from_dict(cfg).arch,
            "size px": str(RunConfig.from_dict(cfg).image_size),
            "epochs": f"{r['n_epochs']} of {cfg.get('epochs', '?')}",
            "accuracy (n)": "—" if fig.accuracy is None else f"{percent(fig.accuracy)} ({_count(fig)})",
            "majority baseline": percent(fig.baseline),
            "macro recall": "—" if fig.macro_recall is None else f"{fig.macro_recall:.3f}",
            "spin accuracy (n)": "—" if fig.spin_accuracy is None
            else f"{percent(fig.spin_accuracy)} (n={_n(fig.n_spin)})",
            "status": str(r.get("status") or "—"),
            "note": note or "—",
        })
    return pd.DataFrame(records)


def run_summary(run: dict) -> str:
    """A readable Markdown summary of one run's config.json (user-supplied strings escaped)."""
    cfg, row = run["config"], run["final_metrics"] or {}
    data = cfg.get("data") if isinstance(cfg.get("data"), dict) else {}
    recorded = RunConfig.from_dict(cfg)
    fig = run_figures(cfg, row)
    lines = [
        f"**{md_escape(run_name(run))}**: {md_escape(recorded.arch)} model"
        + (f", {int(cfg['n_params']):,} parameters" if isinstance(cfg.get("n_params"), int) else "")
        + f", {recorded.image_size} px input, {run['n_epochs']} of "
          f"{md_escape(cfg.get('epochs', '?'))} epochs, status {md_escape(run.get('status', '?'))}.",
        f"- **Data**: {md_escape(data.get('n_train', '?'))} training and {md_escape(data.get('n_val', '?'))} "
        f"validation images; {md_escape(data.get('n_class_derived', 0))} labels class-derived"
        + (f"; {data['n_unreadable']} unreadable images skipped" if data.get("n_unreadable") else "") + ".",
    ]
    if run.get("shipped"):
        lines.insert(1, "- **Shipped** with the app (the repository's `models/`, model card `models/README.md`): "
                        "read-only, never trained into, resumed or changed.")
    for src in data.get("sources") or []:
        if isinstance(src, dict):
            kinds = ", ".join(f"{md_escape(k)}: {v}" for k, v in (src.get("label_kinds") or {}).items())
            source = str(src.get('labels_source', '?'))
            source = Path(source).name if get_settings().public else source  # no server paths in public
            lines.append(f"  - {md_escape(source)}: {src.get('matched', '?')} matched "
                         f"images ({kinds})")
            if src.get("unreadable_files"):
                lines.append("    - skipped as unreadable: " + ", ".join(md_escape(f) for f in src["unreadable_files"]))
    if recorded.learned_columns:
        lines.append("- **Learned columns**: " + ", ".join(md_escape(c) for c in recorded.learned_columns))
    if row.get("val_loss") is None:
        lines.append("- **Validation**: none. The run held nothing out (validation fraction 0) and learned from "
                     "every image; score it on another set on the **Compare models** page.")
    else:
        lines.append(f"- **Validation**: accuracy {percent(fig.accuracy)} ({_count(fig)}; majority baseline "
                     f"{percent(fig.baseline)}, chance {percent(fig.chance)}); macro recall "
                     f"{'—' if fig.macro_recall is None else f'{fig.macro_recall:.3f}'}; spin accuracy "
                     f"{percent(fig.spin_accuracy)} on {_n(fig.n_spin, 'spiral')}.")
    lines += [f"- ⚠️ {md_escape(w)}" for w in fig.warnings()]
    lines.append(f"- **Settings**: batch {md_escape(cfg.get('batch_size', '?'))}, peak learning rate "
                 f"{md_escape(cfg.get('lr', '?'))}, validation fraction {md_escape(cfg.get('val_fraction', '?'))}, "
                 f"seed {md_escape(cfg.get('seed', '?'))}; trained with torch "
                 f"{md_escape((cfg.get('libraries') or {}).get('torch', '?'))}, created "
                 f"{md_escape(cfg.get('created_at', '?'))}.")
    if row.get("images_per_s"):
        lines.append(f"- **Speed**: {row['images_per_s']:.0f} training images/s, {row.get('seconds', 0):.1f} s "
                     f"per epoch.")
    return "\n".join(lines)

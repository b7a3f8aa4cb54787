"""Scores drawn with their n, the majority-class baseline and chance, and cautions beside them.

Shared by the Predict and Compare pages. Metrics sit three to a row so their labels and
values are never truncated at 1024 px; the numbers come from :mod:`core.scoring`.
"""

from __future__ import annotations

import streamlit as st

from core.scoring import CHANCE_ACCURACY, score_warnings
from core.training.run_config import RunConfig
from core.training.run_figures import run_figures
from ui.prediction_inputs import fmt

ACCURACY_HELP = ("Share of galaxies whose model top answer equals the people's top answer (the recorded class "
                 "for class-derived labels).")
SPIN_HELP = "Clockwise vs anticlockwise, on spirals with a spin vote."
MACRO_HELP = ("Recall averaged over the six answers, so rare answers (merger, don't know) count as much as "
              "common ones; 1 is perfect.")


def baseline_caption(scores: dict) -> str:
    """"n = ... · majority-class baseline ... · chance ..." for a core.scoring.score result."""
    parts = [f"n = {scores['n_top_answer']:,} galaxies with a top answer"]
    if scores.get("spin_accuracy") is not None:
        parts.append(f"spin: n = {scores['n_spin']:,} spirals")
    if scores.get("baseline_accuracy") is not None:
        parts.append(f"majority-class baseline {scores['baseline_accuracy']:.1%} (always \u201c"
                     f"{scores['baseline_answer']}\u201d)")
    parts.append(f"chance {CHANCE_ACCURACY:.1%}")
    return " · ".join(parts)


def show_scores(scores: dict, note: str = "") -> None:
    """Accuracy, macro recall and spin accuracy with their n, baseline, chance and any caution.

    ``note``: a sentence shown first in the caption (e.g. which galaxies were scored).
    """
    c = st.columns(3)
    c[0].metric("Top-answer accuracy", fmt(scores["accuracy"]), help=ACCURACY_HELP)
    c[1].metric("Macro recall", fmt(scores["macro_recall"], "{:.2f}"), help=MACRO_HELP)
    c[2].metric("Spin accuracy", fmt(scores["spin_accuracy"]), help=SPIN_HELP)
    st.caption((note + " " if note else "") + baseline_caption(scores) + ".")
    for warning in score_warnings(scores):
        st.warning(warning, icon=":material/warning:")


def show_run_summary(run: dict) -> None:
    """A run's own validation figures (core.training.run_figures) with their n, baseline, chance and cautions."""
    cfg = run["config"]
    fig = run_figures(cfg, run["final_metrics"])
    if fig.accuracy is not None or fig.spin_accuracy is not None:  # else nothing held out: no empty "n/a" row
        c = st.columns(3)
        c[0].metric("Validation accuracy", fmt(fig.accuracy),
                    help="Top answer of the model vs the people's top answer, on the run's held-out galaxies.")
        c[1].metric("Validation macro recall", fmt(fig.macro_recall, "{:.2f}"), help=MACRO_HELP)
        c[2].metric("Validation spin accuracy", fmt(fig.spin_accuracy), help=SPIN_HELP)
    facts = []
    n_val = fig.n_accuracy if fig.n_accuracy is not None else fig.n_val
    if fig.accuracy is not None and n_val is not None:
        facts.append(f"validation n = {n_val:,} galaxies")
    if fig.spin_accuracy is not None and fig.n_spin is not None:
        facts.append(f"spin: n = {fig.n_spin:,} spirals")
    facts += [f"{run['n_epochs']} epochs", f"{int(cfg.get('n_params') or 0):,} parameters",
              f"{RunConfig.from_dict(cfg).image_size} px input"]
    if fig.baseline is not None:
        facts.append(f"majority-class baseline {fig.baseline:.1%}")
    facts.append(f"chance {fig.chance:.1%}")
    st.caption(" · ".join(facts) + ".")
    for warning in fig.warnings():
        st.warning(f"Validation figures: {warning}.", icon=":material/warning:")

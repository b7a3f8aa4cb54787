"""Scores drawn with their n, the majority-class baseline and chance, and cautions beside them.

Shared by the Predict and Compare pages. Metrics sit three to a row so their labels and
values are never truncated at 1024 px; the numbers come from :mod:`core.inference.metrics`.
"""

from __future__ import annotations

import streamlit as st

from core.inference.metrics import CHANCE_ACCURACY, MIN_RELIABLE_N, score_warnings
from ui.prediction_inputs import fmt

ACCURACY_HELP = ("Share of galaxies whose model top answer equals the people's top answer (the recorded class "
                 "for class-derived labels).")
SPIN_HELP = "Clockwise vs anticlockwise, on spirals with a spin vote."
MACRO_HELP = ("Recall averaged over the six answers, so rare answers (merger, don't know) count as much as "
              "common ones; 1 is perfect.")


def baseline_caption(scores: dict) -> str:
    """"n = ... · majority-class baseline ... · chance ..." for a core.inference.metrics.score result."""
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
    """A run's own validation figures (last metrics.csv row) with the n of its held-out side."""
    fm, cfg = run["final_metrics"], run["config"]
    data = cfg.get("data") if isinstance(cfg.get("data"), dict) else {}
    n_val = data.get("n_val")
    has_validation = any(isinstance(fm.get(k), float) for k in ("val_accuracy", "val_spin_accuracy"))
    c = st.columns(3) if has_validation else None
    if c is not None:  # nothing held out: the page says so; three "n/a" figures would only take room
        _validation_metrics(c, fm)
    facts = [f"{run['n_epochs']} epochs", f"{int(cfg.get('n_params') or 0):,} parameters",
             f"{cfg.get('image_size', '?')} px input"]
    if isinstance(n_val, int) and n_val:
        facts.insert(0, f"validation n = {n_val:,} galaxies")
    baseline = fm.get("val_baseline_accuracy")
    if isinstance(baseline, float):
        facts.append(f"majority-class baseline {baseline:.1%}")
    facts.append(f"chance {CHANCE_ACCURACY:.1%}")
    st.caption(" · ".join(facts) + ".")
    acc = fm.get("val_accuracy")
    if isinstance(acc, float) and isinstance(n_val, int) and n_val < MIN_RELIABLE_N:
        st.warning(f"Validated on only {n_val} galaxies: a figure from fewer than {MIN_RELIABLE_N} means little.",
                   icon=":material/warning:")
    if isinstance(acc, float) and (acc < CHANCE_ACCURACY or (isinstance(baseline, float) and acc < baseline)):
        st.warning(f"Validation accuracy {acc:.1%} is below "
                   + ("chance." if acc < CHANCE_ACCURACY else "the majority-class baseline."),
                   icon=":material/warning:")


def _validation_metrics(c, fm: dict) -> None:
    c[0].metric("Validation accuracy", fmt(fm.get("val_accuracy")),
                help="Top answer of the model vs the people's top answer, on the run's held-out galaxies.")
    c[1].metric("Validation macro recall", fmt(fm.get("val_macro_recall"), "{:.2f}"), help=MACRO_HELP)
    c[2].metric("Validation spin accuracy", fmt(fm.get("val_spin_accuracy")), help=SPIN_HELP)

"""Compare's "How sure, and how often right": reliability diagram and accuracy vs coverage per run.

Drawing only: TOP_P comes with each run's predictions (ui.model_cache.uncertainty_for), the
scores from :mod:`core.inference.confidence_scores`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from core.inference.calibration import largest_answers, mix_shift
from core.inference.confidence_scores import (
    QUOTED_COVERAGE,
    confidence_report,
    coverage_curve,
    top_answer_outcomes,
)
from core.inference.galaxy_sets import GalaxySet
from core.schema import RAW_INDEX, SHORT_LABELS
from core.scoring import MIN_RELIABLE_N
from ui.model_cache import model_for, uncertainty_for
from ui.plain_text import md_escape
from ui.prediction_charts import coverage_figure, reliability_figure


def mix_words(mix: dict[str, float], codes: list[str]) -> str:
    """ "69% elliptical, 16% edge-on, 8% anticlockwise spiral" for ``codes`` (EL, EDGE, ...) of ``mix``."""
    return ", ".join(f"{mix.get(c, 0.0):.0%} {SHORT_LABELS['P_' + c]}" for c in codes)


def mix_shift_note(fitted: dict[str, float] | None, scored_top) -> str | None:
    """Why TOP_P may not hold on this set: it was fitted on another answer mix (:func:`mix_shift`). None when
    the mixes are alike, or when the calibration does not record its mix. ``scored_top``: the volunteers'
    top answers scored."""
    shift = mix_shift(fitted, scored_top)
    if shift is None:
        return None
    codes = largest_answers(shift["fitted"])
    return (f"TOP_P was fitted on galaxies whose volunteers' top answers were {mix_words(shift['fitted'], codes)}; "
            f"the {len(scored_top):,} scored here are {mix_words(shift['scored'], codes)}. A calibration holds for "
            "the answer mix it was fitted on, so on this set the ECE and the reliability curve measure the change of "
            "mix as well as the model.")


def show_confidence(runs: list[tuple[str, str]], gset: GalaxySet, scored_mask, fractions: dict, tta: bool,
                    colours: dict[str, str] | None = None, self_scored: frozenset[str] = frozenset()) -> None:
    """``runs`` [(run path, name)]; ``fractions[path]`` (N, 9) over ``gset``; scored on ``scored_mask`` (N,) bool.

    ``colours``: run name -> colour shared with the page's other charts. ``self_scored``: names of the runs
    scored on their own training galaxies: flagged and listed after the honest ones, as on the leaderboard.
    """
    colours = colours or {}
    runs = sorted(runs, key=lambda r: r[1] in self_scored)  # stable: honest runs first, in the page's order
    st.subheader("How sure, and how often right")
    st.caption("TOP_P is the model's calibrated probability that the volunteers' top answer is its own top answer "
               "(fitted on each run's validation galaxies). On a well-calibrated run the points lie on the dotted diagonal; "
               "the coverage curve shows the accuracy when only the most certain galaxies are answered.")
    reports, curves, rows, missing = [], [], [], []
    notes: dict[str, list[str]] = {}  # the same note for runs sharing a calibration (demo and its twin)
    targets = gset.targets[scored_mask]
    for path, name in runs:
        top_p, _sd = uncertainty_for(path, gset, tta)
        answered, conf, correct = top_answer_outcomes(top_p[scored_mask], fractions[path][scored_mask], targets)
        if len(conf) == 0:
            missing.append(name)
            continue
        rep = confidence_report(conf, correct)
        calibration = model_for(path).calibration
        note = mix_shift_note(calibration.answer_mix() if calibration is not None else None,
                              np.argmax(targets[answered][:, list(RAW_INDEX)], axis=1))
        if note:
            notes.setdefault(note, []).append(name)
        reports.append((name, rep))
        curves.append((name, *coverage_curve(conf, correct)))
        rows.append({"run": name, "self-scored": name in self_scored, "galaxies": rep["n"], "accuracy": rep["accuracy"], "ECE": rep["ece"],
                     f"accuracy on the {QUOTED_COVERAGE:.0%} most certain": rep["accuracy_at_80"],
                     "AUROC right vs wrong": rep["auroc"]})
    if reports:
        st.dataframe(pd.DataFrame(rows), hide_index=True, key="compare_confidence", placeholder="–",
                     column_config={"self-scored": st.column_config.CheckboxColumn(
                                        "self-scored", help="Scored on its own training galaxies: not evidence "
                                                            "of how well it generalises"),
                                    "accuracy": st.column_config.NumberColumn(format="percent"),
                                    "ECE": st.column_config.NumberColumn(format="%.3f",
                                                                         help="Expected calibration error, 10 bins"),
                                    f"accuracy on the {QUOTED_COVERAGE:.0%} most certain":
                                        st.column_config.NumberColumn(
                                            f"acc. @ {QUOTED_COVERAGE:.0%}", format="percent",
                                            help=f"Accuracy on the {QUOTED_COVERAGE:.0%} of galaxies with the "
                                                 "highest TOP_P (the dotted line of the coverage curve)"),
                                    "AUROC right vs wrong": st.column_config.NumberColumn(
                                        "AUROC", format="%.3f",
                                        help="How well TOP_P tells right answers from wrong ones: 0.5 is a "
                                             "coin, 1 a perfect ranking")})
        flagged = [n for n, _ in reports if n in self_scored]
        if flagged:
            st.caption(f"**self-scored** (listed last): {', '.join(map(md_escape, flagged))}, scored on galaxies "
                       "they trained on, so their calibration figures flatter them.")
        small = [n for n, r in reports if r["n"] < MIN_RELIABLE_N]
        if small:
            st.warning(f"Fewer than {MIN_RELIABLE_N} galaxies with a top answer for {', '.join(map(md_escape, small))}: "
                       "calibration figures from so few mean little.", icon=":material/warning:")
        if notes:
            st.info("\n\n".join(f"{', '.join(f'**{md_escape(n)}**' for n in names)}: {note}"
                                  for note, names in notes.items()), icon=":material/balance:")
        left, right = st.columns(2)
        left.plotly_chart(reliability_figure(reports, colours), key="compare_reliability")
        right.plotly_chart(coverage_figure(curves, colours), key="compare_coverage")
    if missing:
        st.caption(f"No TOP_P for {', '.join(map(md_escape, missing))}: no calibration (a run calibrates itself at the "
                   "end of training when it holds galaxies out; else `python -m core calibrate --model RUN --from TWIN`), or no "
                   "scored galaxy with all six answers known.")

"""The Predict page's per-galaxy views: the sortable galaxy table with the picked galaxy, and an upload's bars.

Drawing only; the table comes from :func:`core.inference.compare.galaxy_table`. User-supplied
strings (IDs, file names, problems) are shown through :func:`ui.plain_text.md_escape`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from core.images.reading import display_source
from core.inference.galaxy_sets import GalaxySet
from core.inference.learned import NOT_LEARNED, blank_unlearned
from core.schema import ANSWER_WORDS, SHORT_LABELS, LabelKind
from ui.plain_text import md_escape
from ui.prediction_charts import HUMAN_COLOUR, MODEL_COLOUR, fraction_bars, human_trace_name
from ui.prediction_inputs import fmt


def _galaxy_table(table: pd.DataFrame, key: str, labelled: bool):
    """The sortable table (largest disagreement first on a labelled set); returns (event, row order)."""
    shown = table.sort_values("DISAGREEMENT", ascending=False, na_position="last", kind="stable")
    number = {c: st.column_config.NumberColumn(c, format="%.3f") for c in table.columns if " P_" in c}
    event = st.dataframe(
        shown.reset_index(drop=True), key=key, on_select="rerun", selection_mode="single-row", hide_index=True,
        height=300, placeholder="–",
        column_config={
            "ID": st.column_config.TextColumn("ID", pinned=True),
            "DISAGREEMENT": st.column_config.ProgressColumn("disagreement", min_value=0.0, max_value=1.0,
                                                            format="%.2f"),
            "LABEL_KIND": "human label", "MOST_DIFFERENT": "most different", "MODEL_TOP": "model top",
            "TOP_P": st.column_config.NumberColumn("sure", format="%.2f",
                                                   help="TOP_P: calibrated probability that the volunteers' top "
                                                        "answer is the model's top answer"),
            "HUMAN_TOP": "people top", "IMAGE": None, **number,
        },
    )
    return event, shown.index.to_numpy()


def show_galaxy(gset: GalaxySet, table: pd.DataFrame, fractions: np.ndarray, failed: list[tuple[str, str]],
                learned: np.ndarray, key: str, focus_id: str | None = None, sd: np.ndarray | None = None,
                calibrated_on: str = "held-out galaxies") -> int:
    """Counts, unusable images, the galaxy table and the selected (or first) galaxy with its bars.

    ``focus_id``: a galaxy to show while no table row is selected ("More like this"); ``sd`` (N, 9):
    one standard deviation per fraction, drawn as intervals; ``calibrated_on``: where the run's TOP_P was
    fitted, for the caption. Returns its row in ``table``.
    """
    kinds = pd.Series(gset.label_kind()).value_counts()
    st.write(f"**{len(gset):,} galaxies** ({md_escape(gset.name)}) · human labels: "
             + ", ".join(f"{k} {v:,}" for k, v in kinds.items()))
    if failed:
        with st.expander(f"{len(failed)} image{'s' if len(failed) != 1 else ''} could not be used",
                         icon=":material/warning:"):
            st.dataframe(pd.DataFrame(failed, columns=["ID", "problem"]), hide_index=True)
    labelled = gset.has_labels
    st.caption("Select a row to see that galaxy. Click a column header to sort"
               + ("; **disagreement** is the largest difference between model and people over the columns the "
                  "label has." if labelled else ". This set has no human labels, so there is no disagreement."))
    event, order = _galaxy_table(table, key, labelled)
    rows = [r for r in (event.selection.rows if event is not None else []) if r < len(order)]
    pick = int(order[rows[0]]) if rows else int(order[0])
    focused = not rows and focus_id is not None and focus_id in list(table["ID"])
    if focused:
        pick = int(np.flatnonzero(table["ID"].to_numpy() == focus_id)[0])
    g = table.iloc[pick]
    headline = "" if rows else (" (opened from More like this)" if focused
                                else " (largest disagreement; select a row for another)" if labelled
                                else " (first in the table; select a row for another)")
    st.subheader(f"Galaxy {md_escape(g['ID'])}{headline}")
    c_img, c_bars = st.columns([1, 2.4])
    problem = dict(failed).get(gset.ids[pick])
    if problem:
        c_img.warning(f"Not predicted: {md_escape(problem)}")
    else:
        c_img.image(display_source(gset.files[pick]), caption=md_escape(gset.files[pick].name), width="stretch")
    cd = bool(gset.class_derived[pick])
    series = [("model", blank_unlearned(fractions[pick], learned), MODEL_COLOUR)]
    if not np.isnan(gset.targets[pick]).all():
        series.append((human_trace_name(cd), gset.targets[pick], HUMAN_COLOUR))
    errors = {"model": blank_unlearned(sd[pick], learned)} if sd is not None else None
    c_bars.plotly_chart(fraction_bars(series, hatched=[human_trace_name(True)], blank_text={"model": NOT_LEARNED},
                                      errors=errors), key="predict_galaxy_bars")
    if errors is not None and np.isfinite(errors["model"]).any():
        c_bars.caption(INTERVAL_NOTE)
    _galaxy_facts(c_img, c_bars, g, cd, gset.label_kind()[pick], calibrated_on)
    return pick


#: Under bars with intervals.
INTERVAL_NOTE = ("Black whiskers: ±1 standard deviation over the model's samples (ensemble members or dropout "
                 "masks, and the 8 views with test-time augmentation): how much the model itself wavers.")


def sure_words(top_p: float, calibrated_on: str = "held-out galaxies") -> str:
    """TOP_P in words for a caption ("" when unknown); ``calibrated_on``: where it was fitted
    (:meth:`core.inference.calibration.RunCalibration.origin`)."""
    if not np.isfinite(top_p):
        return ""
    return (f"Probability that the volunteers' top answer is the model's: **{top_p:.0%}** "
            f"(calibrated on {md_escape(calibrated_on)}: Compare models shows how well).")


def _galaxy_facts(c_img, c_bars, g: pd.Series, class_derived: bool, label_kind: str, calibrated_on: str) -> None:
    if np.isfinite(g.get("TOP_P", np.nan)):
        c_img.caption(sure_words(float(g["TOP_P"]), calibrated_on))
    d = g["DISAGREEMENT"]
    if np.isnan(d):
        c_img.caption(f"Model's top answer: {ANSWER_WORDS.get(g['MODEL_TOP'], 'not known')}. No human label to "
                      "compare with.")
        return
    c_img.metric("Disagreement", fmt(d, "{:.2f}"),
                 help="Largest |model - people| over the columns the human label has (fraction of the vote).")
    c_img.caption(f"Most different: {SHORT_LABELS.get(g['MOST_DIFFERENT'], g['MOST_DIFFERENT'])}. "
                  f"Model's top answer: {ANSWER_WORDS.get(g['MODEL_TOP'], 'not known')}; people's: "
                  f"{ANSWER_WORDS.get(g['HUMAN_TOP'], 'not known')}.")
    if class_derived:
        c_bars.caption("The human side of this galaxy is **class-derived**: a one-hot of its recorded GZ1 "
                       "class, not the share of votes (the vote fractions are not in this data set).")
    elif label_kind == LabelKind.PARTIAL:
        c_bars.caption("Only some vote fractions are known for this galaxy (n/a = not in the label).")


def show_upload_bars(image: bytes, name: str, values: np.ndarray, top_words: str, top_share: float,
                     sd: np.ndarray | None = None, top_p: float = float("nan"),
                     calibrated_on: str = "held-out galaxies"):
    """An uploaded picture, its most likely answer and the model's nine bars (``sd``: +-1 SD intervals,
    ``top_p``: TOP_P, fitted on ``calibrated_on``); returns the bars' column."""
    c_img, c_bars = st.columns([1, 2.4])
    c_img.image(image, caption=md_escape(name), width="stretch")
    c_img.metric("Most people would say", top_words)  # the share as plain text: a metric delta draws an arrow
    c_img.caption(f"{top_share:.0%} of the vote, as the model predicts it")
    if np.isfinite(top_p):
        c_img.caption(sure_words(top_p, calibrated_on))
    errors = {"model": sd} if sd is not None else None
    c_bars.plotly_chart(fraction_bars([("model", values, MODEL_COLOUR)], blank_text={"model": NOT_LEARNED},
                                      errors=errors), key="predict_upload_bars")
    if sd is not None and np.isfinite(sd).any():
        c_bars.caption(INTERVAL_NOTE)
    return c_bars

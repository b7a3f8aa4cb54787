"""Compare models: a leaderboard of runs on galaxies they did not train on, and two runs side by side."""

from __future__ import annotations

import numpy as np
import streamlit as st

from core.images.reading import display_source
from core.inference.batch import SetPrediction
from core.inference.compare import (
    LEADERBOARD_COLUMNS,
    agreement_summary,
    leaderboard,
    score_prediction,
    short_scored_on,
    side_by_side,
)
from core.inference.held_out import ScoringSplit, all_galaxies, common_held_out
from core.inference.learned import NOT_LEARNED, blank_unlearned
from core.inference.runs import run_name
from core.schema import VOTE_COLUMNS
from core.scoring import score_warnings
from ui import state_keys
from ui.confidence_view import show_confidence
from ui.credits import show_credit
from ui.model_cache import loadable_runs, model_for, predictions_with_progress
from ui.navigation import ensure_app_navigation
from ui.plain_text import md_escape
from ui.prediction_charts import (
    HUMAN_COLOUR,
    fraction_bars,
    human_trace_name,
    rmse_bars,
    run_colours,
)
from ui.prediction_inputs import fmt, pick_galaxy_set, run_label, runs_or_stop

#: The leaderboard's columns as shown: the scores first, so accuracy and spin accuracy fit at 1024 px.
BOARD_ORDER = ("rank", "run", "accuracy", "spin accuracy", "macro recall", "baseline accuracy", "below baseline",
               "self-scored", "scored on",
               *(c for c in LEADERBOARD_COLUMNS if c not in {"rank", "run", "accuracy", "spin accuracy",
                                                             "macro recall", "baseline accuracy", "below baseline",
                                                             "self-scored", "scored on"}))


ensure_app_navigation()

st.title("Compare models")
st.caption("Every run scored on the same galaxies with the same code as `python -m core evaluate`, "
           "then two runs side by side: where do they disagree?")

runs = runs_or_stop()
by_path = {r["path"]: r for r in runs}
paths = list(by_path)

gset = pick_galaxy_set(state_keys.COMPARE_SET_SOURCE, include_folder=False)
# Chips show the run name only (a full label was cut at 1024 px); the leaderboard gives the rest.
chosen = st.multiselect("Runs on the leaderboard", paths, default=paths[:8], key=state_keys.COMPARE_RUNS,
                        persist_state="session", format_func=lambda p: run_name(by_path[p]),
                        help="Architecture, input size and parameters of each run are in the leaderboard.")
c1, c2 = st.columns(2)
tta = c1.toggle("Test-time augmentation", key=state_keys.COMPARE_TTA, persist_state="session",
                help="Average each model over the 8 rotations/mirror images (CW/ACW swapped back on mirrors).")
held_only = c2.toggle("Only held-out galaxies", value=True, key=state_keys.COMPARE_HELD_OUT, persist_state="session",
                      help="Score on the galaxies every chosen run held out from its training (the intersection of "
                           "their validation sides, from each run's recorded seed and validation fraction).")

chosen = loadable_runs([(p, run_name(by_path[p])) for p in chosen])
colours = run_colours([run_name(by_path[p]) for p in chosen])  # one colour per run on every chart below
if gset is None:
    show_credit()
    st.stop()


def scoring_split(run_paths: list[str]) -> ScoringSplit:
    """The galaxies ``run_paths`` are scored on (held-out intersection, or all), runs named by run id."""
    configs = {run_name(by_path[p]): by_path[p]["config"] for p in run_paths}
    return common_held_out(configs, gset.ids) if held_only else all_galaxies(configs, gset.ids)


def split_caption(split: ScoringSplit, what: str) -> str:
    saw = ", ".join(md_escape(r) for r in split.saw_everything)
    text = (f"{what} on **{split.n:,} of {len(gset):,} galaxies** ({md_escape(gset.name)})"
            + (", those held out from the training of every run that holds some out." if held_only else "."))
    if saw and held_only:
        text += f" {saw} trained on every galaxy (nothing held out): its figures are on its own training galaxies."
    elif saw:
        text += " Some of them may be galaxies a run trained on."
    return text


st.subheader("Leaderboard")
progress_slot = st.empty()  # at the top of the section whose numbers it is computing
predictions = {p: f for p, (f, _) in predictions_with_progress(
    [(p, run_name(by_path[p])) for p in chosen], gset, tta, progress_slot).items()}
board_split = scoring_split(chosen)
if not chosen:
    st.info("Pick at least one run.")
elif not gset.has_labels:
    st.info("This set has no human labels: the leaderboard needs labelled galaxies.")
elif board_split.n == 0:
    st.info("No galaxy of this set was held out by every chosen run. Choose fewer runs, another set, or switch "
            "off **Only held-out galaxies** (scores then include training galaxies).")
else:
    scored = gset.subset(board_split.mask)
    models = [model_for(p) for p in chosen]
    evals = [score_prediction(run_name(by_path[p]), SetPrediction(predictions[p][board_split.mask], []), scored,
                              m.learned, by_path[p]["config"]) for p, m in zip(chosen, models, strict=True)]
    board = leaderboard(models, evals)
    st.markdown(split_caption(board_split, "Scored"))
    st.caption("Accuracy = model's top answer vs people's top answer, next to the majority-class baseline (always "
               "giving the most common answer) and chance (16.7 %); RMSE over vote-fraction labels only (empty where "
               "the set has none for that column, or the run never learned it).")
    self_scored = board.loc[board["self-scored"], "run"].tolist()
    if self_scored:
        st.warning(f"Scored on their own training galaxies, so not ranked and listed below the others: "
                   f"{', '.join(md_escape(r) for r in self_scored)}. A score on training galaxies says how well a "
                   "run remembers, not how well it generalises.", icon=":material/school:")
    rmse_cols = [f"RMSE {c}" for c in VOTE_COLUMNS]
    shown = board.assign(**{"scored on": board["scored on"].map(short_scored_on)})
    st.dataframe(
        shown, hide_index=True, key="compare_board", placeholder="–", column_order=BOARD_ORDER,
        column_config={
            "rank": st.column_config.NumberColumn("rank", pinned=True, format="%d",
                                                  help="Rank by accuracy among the honestly scored runs; "
                                                       "self-scored runs have none"),
            "run": st.column_config.TextColumn("run", pinned=True),
            "accuracy": st.column_config.NumberColumn("accuracy", format="percent"),
            "baseline accuracy": st.column_config.NumberColumn("baseline", format="percent",
                                                               help="Always giving the most common human answer"),
            "below baseline": st.column_config.CheckboxColumn("below baseline"),
            "scored on": st.column_config.TextColumn("scored on"),
            "self-scored": st.column_config.CheckboxColumn("self-scored",
                                                           help="Scored on galaxies it may have trained on"),
            "spin accuracy": st.column_config.NumberColumn("spin accuracy", format="percent"),
            "macro recall": st.column_config.NumberColumn("macro recall", format="%.3f"),
            "parameters": st.column_config.NumberColumn("parameters", format="localized"),
            "training time (s)": st.column_config.NumberColumn("training time (s)", format="%.0f"),
            **{c: st.column_config.NumberColumn(c, format="%.3f") for c in rmse_cols},
        },
    )
    st.caption("**scored on**: *held out* = only galaxies held out from the run's training; *unseen* = none of "
               "its training galaxies (it trained on another set); *trained on k/n* = k of the n scored galaxies "
               "were in its training (**self-scored**: not ranked).")
    for ev in evals:
        for warning in score_warnings(ev.scores):
            st.warning(f"**{md_escape(ev.run_id)}**: {warning}", icon=":material/warning:")
    if any(board[c].notna().any() for c in rmse_cols):
        st.plotly_chart(rmse_bars(board, colours), key="compare_rmse")
    show_confidence([(p, run_name(by_path[p])) for p in chosen], gset, board_split.mask, predictions, tta,
                    colours, frozenset(self_scored))

st.subheader("Two runs side by side")
if len(chosen) < 2:
    st.info("Pick two or more runs above (train another on the **Train** page) to compare them galaxy by galaxy.")
else:
    # Run A above Run B, each at full width: a run's whole label fits at 1024 px (side by side it was cut).
    run_a = st.selectbox("Run A", chosen, index=0, format_func=lambda p: run_label(by_path[p]),
                         key=state_keys.COMPARE_A, persist_state="session")
    rest = [p for p in chosen if p != run_a]
    run_b = st.selectbox("Run B", rest, index=0, format_func=lambda p: run_label(by_path[p]),
                         key=state_keys.COMPARE_B, persist_state="session")
    name_a, name_b = f"A: {run_name(by_path[run_a])}", f"B: {run_name(by_path[run_b])}"
    pair_split = scoring_split([run_a, run_b])
    pair_set = gset.subset(pair_split.mask)
    fa, fb = predictions[run_a][pair_split.mask], predictions[run_b][pair_split.mask]
    la, lb = model_for(run_a).learned, model_for(run_b).learned
    st.markdown(split_caption(pair_split, "Compared"))
    if pair_split.n == 0:
        st.info("No galaxy of this set was held out by both runs; switch off **Only held-out galaxies** to compare "
                "them on every galaxy.")
    summary = agreement_summary(fa, fb, la, lb)
    s = st.columns(3)
    s[0].metric("Same top answer", fmt(summary["same_top_answer"]), help=f"n = {summary['n']:,} galaxies")
    s[1].metric("Mean disagreement", fmt(summary["mean_disagreement"], "{:.3f}"),
                help="Largest |A - B| over the columns both runs learned, averaged over galaxies (fraction of the "
                     "vote).")
    s[2].metric("Largest disagreement", fmt(summary["max_disagreement"], "{:.3f}"))
    pair = side_by_side(pair_set, fa, fb, name_a, name_b, la, lb)
    st.caption("Galaxies where the two runs disagree most come first; select a row to see it.")
    number = {c: st.column_config.NumberColumn(c, format="%.3f") for c in pair.columns if " P_" in c}
    event = st.dataframe(
        pair, hide_index=True, height=280, on_select="rerun", selection_mode="single-row", placeholder="–",
        key=f"compare_pair|{run_a}|{run_b}|{gset.name}|{tta}|{held_only}",
        column_config={"ID": st.column_config.TextColumn("ID", pinned=True), "IMAGE": None,
                       "DISAGREEMENT": st.column_config.ProgressColumn("disagreement", min_value=0.0,
                                                                      max_value=1.0, format="%.2f"),
                       "LABEL_KIND": "human label", "MOST_DIFFERENT": "most different",
                       "HUMAN_TOP": "people top", **number},
    )
    if len(pair):
        rows = [r for r in event.selection.rows if r < len(pair)]
        row = pair.iloc[rows[0] if rows else 0]
        i = pair_set.ids.index(str(row["ID"]))
        st.markdown(f"**Galaxy {md_escape(row['ID'])}**" + ("" if rows else " (where A and B disagree most)"))
        c_img, c_bars = st.columns([1, 2.4])
        c_img.image(display_source(pair_set.files[i]), caption=md_escape(pair_set.files[i].name), width="stretch")
        c_img.metric("A vs B disagreement", fmt(float(row["DISAGREEMENT"]), "{:.2f}"))
        series = [(name_a, blank_unlearned(fa[i], la), colours[run_name(by_path[run_a])]),
                  (name_b, blank_unlearned(fb[i], lb), colours[run_name(by_path[run_b])])]
        cd = bool(pair_set.class_derived[i])
        if not np.isnan(pair_set.targets[i]).all():
            series.append((human_trace_name(cd), pair_set.targets[i], HUMAN_COLOUR))
        c_bars.plotly_chart(fraction_bars(series, hatched=[human_trace_name(True)],
                                          blank_text={name_a: NOT_LEARNED, name_b: NOT_LEARNED}),
                            key="compare_bars")
        if cd:
            c_bars.caption("People: **class-derived** (one-hot of the recorded GZ1 class, not vote fractions).")

show_credit()

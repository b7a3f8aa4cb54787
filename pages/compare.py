"""Compare models: a leaderboard of runs on one set of galaxies, and two runs side by side."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from core.inference.batch import SetPrediction
from core.inference.compare import RunEvaluation, agreement_summary, leaderboard, side_by_side
from core.inference.learned import NOT_LEARNED, blank_unlearned
from core.inference.metrics import score
from core.schema import VOTE_COLUMNS
from ui.credits import show_credit
from ui.model_cache import model_for, predictions_for
from ui.navigation import ensure_app_navigation
from ui.prediction_charts import HUMAN_COLOUR, MODEL_COLOUR, OTHER_COLOUR, fraction_bars, human_trace_name
from ui.prediction_inputs import fmt, pick_galaxy_set, run_label, runs_or_stop

ensure_app_navigation()

st.title("Compare models")
st.caption("Every run scored on the same galaxies with the same code as `python -m core evaluate`, "
           "then two runs side by side: where do they disagree?")

runs = runs_or_stop()
by_path = {r["path"]: r for r in runs}
paths = list(by_path)

gset = pick_galaxy_set("compare_set_source", include_folder=False)
c1, c2 = st.columns([3, 1])
chosen = c1.multiselect("Runs on the leaderboard", paths, default=paths[:8],
                        format_func=lambda p: run_label(by_path[p]), key="compare_runs")
tta = c2.toggle("Test-time augmentation", key="compare_tta",
                help="Average each model over the 8 rotations/mirror images (CW/ACW swapped back on mirrors).")

if gset is None:
    show_credit()
    st.stop()
if not gset.has_labels:
    st.info("This set has no human labels: the leaderboard needs labelled galaxies.")

predictions: dict[str, np.ndarray] = {}
with st.spinner(f"Scoring {len(chosen)} runs on {len(gset):,} galaxies..."):
    for p in chosen:
        predictions[p] = predictions_for(p, gset, tta)[0]

st.subheader("Leaderboard")
if chosen and gset.has_labels:
    models, evals = [], []
    for p in chosen:
        f = predictions[p]
        ok = ~np.isnan(f).any(axis=1)
        models.append(model_for(p))
        evals.append(RunEvaluation(by_path[p]["run_id"], SetPrediction(f, []),
                                   score(f[ok], gset.targets[ok], gset.class_derived[ok],
                                         learned=models[-1].learned)))
    board = leaderboard(models, evals)
    rmse_cols = [f"RMSE {c}" for c in VOTE_COLUMNS]
    kinds = {k: int(v) for k, v in zip(*np.unique(gset.label_kind(), return_counts=True), strict=False)}
    st.caption(f"{len(gset):,} galaxies ({gset.name}); labels: "
               + ", ".join(f"{k} {v:,}" for k, v in kinds.items())
               + ". Accuracy = model's top answer vs people's top answer; RMSE over vote-fraction labels only "
                 "(empty where the set has none for that column).")
    st.dataframe(
        board, hide_index=True, key="compare_board", placeholder="–",
        column_config={
            "run": st.column_config.TextColumn("run", pinned=True),
            "accuracy": st.column_config.NumberColumn("accuracy", format="percent"),
            "spin accuracy": st.column_config.NumberColumn("spin accuracy", format="percent"),
            "macro recall": st.column_config.NumberColumn("macro recall", format="%.3f"),
            "parameters": st.column_config.NumberColumn("parameters", format="localized"),
            "training time (s)": st.column_config.NumberColumn("training time (s)", format="%.0f"),
            **{c: st.column_config.NumberColumn(c, format="%.3f") for c in rmse_cols},
        },
    )
    have = [c for c in rmse_cols if board[c].notna().any()]
    if have:
        fig = go.Figure()
        for _, row in board.iterrows():
            fig.add_bar(x=[c.removeprefix("RMSE ") for c in have], y=[row[c] for c in have], name=row["run"])
        fig.update_layout(barmode="group", height=300, margin=dict(l=10, r=10, t=30, b=10),
                          yaxis_title="RMSE (fraction of the vote)", title="RMSE per column (lower is better)",
                          legend=dict(orientation="h", yanchor="bottom", y=1.02, xanchor="right", x=1))
        st.plotly_chart(fig, key="compare_rmse")
elif not chosen:
    st.info("Pick at least one run.")

st.subheader("Two runs side by side")
if len(chosen) < 2:
    st.info("Pick two or more runs above (train another on the **Train** page) to compare them galaxy by galaxy.")
else:
    a_col, b_col = st.columns(2)
    run_a = a_col.selectbox("Run A", chosen, index=0, format_func=lambda p: run_label(by_path[p]), key="compare_a")
    rest = [p for p in chosen if p != run_a]
    run_b = b_col.selectbox("Run B", rest, index=0, format_func=lambda p: run_label(by_path[p]), key="compare_b")
    name_a, name_b = f"A: {by_path[run_a]['run_id']}", f"B: {by_path[run_b]['run_id']}"
    fa, fb = predictions[run_a], predictions[run_b]
    la, lb = model_for(run_a).learned, model_for(run_b).learned
    summary = agreement_summary(fa, fb, la, lb)
    s = st.columns(3)
    s[0].metric("Same top answer", fmt(summary["same_top_answer"]))
    s[1].metric("Mean disagreement", fmt(summary["mean_disagreement"], "{:.3f}"),
                help="Largest |A - B| over the nine columns, averaged over galaxies (fraction of the vote).")
    s[2].metric("Largest disagreement", fmt(summary["max_disagreement"], "{:.3f}"))
    pair = side_by_side(gset, fa, fb, name_a, name_b, la, lb)
    st.caption("Galaxies where the two runs disagree most come first; select a row to see it.")
    number = {c: st.column_config.NumberColumn(c, format="%.3f") for c in pair.columns if " P_" in c}
    event = st.dataframe(
        pair, hide_index=True, height=280, on_select="rerun", selection_mode="single-row", placeholder="–",
        key=f"compare_pair|{run_a}|{run_b}|{gset.name}|{tta}",
        column_config={"ID": st.column_config.TextColumn("ID", pinned=True), "IMAGE": None,
                       "DISAGREEMENT": st.column_config.ProgressColumn("disagreement", min_value=0.0,
                                                                      max_value=1.0, format="%.2f"),
                       "LABEL_KIND": "human label", "MOST_DIFFERENT": "most different",
                       "HUMAN_TOP": "people top", **number},
    )
    if len(pair):
        rows = [r for r in event.selection.rows if r < len(pair)]
        row = pair.iloc[rows[0] if rows else 0]
        i = gset.ids.index(str(row["ID"]))
        st.markdown(f"**Galaxy {row['ID']}**" + ("" if rows else " (largest disagreement)"))
        c_img, c_bars = st.columns([1, 2.4])
        c_img.image(str(gset.files[i]), caption=gset.files[i].name, width="stretch")
        c_img.metric("A vs B disagreement", fmt(float(row["DISAGREEMENT"]), "{:.2f}"))
        series = [(name_a, blank_unlearned(fa[i], la), MODEL_COLOUR),
                  (name_b, blank_unlearned(fb[i], lb), OTHER_COLOUR)]
        cd = bool(gset.class_derived[i])
        if not np.isnan(gset.targets[i]).all():
            series.append((human_trace_name(cd), gset.targets[i], HUMAN_COLOUR))
        c_bars.plotly_chart(fraction_bars(series, hatched=[human_trace_name(True)],
                                          blank_text={name_a: NOT_LEARNED, name_b: NOT_LEARNED}),
                            key="compare_bars")
        if cd:
            c_bars.caption("People: **class-derived** (one-hot of the recorded GZ1 class, not vote fractions).")

show_credit()

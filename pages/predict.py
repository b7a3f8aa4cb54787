"""Predict: the model's vote fractions next to the human vote, per galaxy and over a set."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from core.images.reading import ImageInputError
from core.inference.batch import predict_one
from core.inference.compare import galaxy_table, top_answer
from core.inference.learned import NOT_LEARNED, blank_unlearned, not_learned_columns
from core.inference.metrics import score
from core.inference.predictions_csv import predictions_csv_bytes
from core.schema import CLASS_NAMES, SHORT_LABELS, VOTE_COLUMNS
from core.training.train import is_validation
from ui import state_keys
from ui.credits import show_credit
from ui.model_cache import model_for, predictions_for
from ui.navigation import ensure_app_navigation
from ui.prediction_charts import (
    HUMAN_COLOUR,
    MODEL_COLOUR,
    confusion_figure,
    fraction_bars,
    human_trace_name,
    scatter_grid,
)
from ui.prediction_inputs import fmt, pick_galaxy_set, run_label, runs_or_stop

# --------------------------------------------------------------------------- page

ensure_app_navigation()

st.title("Predict")
st.caption("What the model expects people to vote for each galaxy, next to what thousands of Galaxy Zoo "
           "volunteers actually voted. The model emulates the human vote; the vote is not a ground truth.")

runs = runs_or_stop()

run_paths = [r["path"] for r in runs]
by_path = {r["path"]: r for r in runs}
if st.session_state.get(state_keys.PREDICT_RUN) not in run_paths:
    st.session_state.pop(state_keys.PREDICT_RUN, None)
left, right = st.columns([2, 1])
run_path = left.selectbox("Model run", run_paths, format_func=lambda p: run_label(by_path[p]),
                          key=state_keys.PREDICT_RUN)
tta = right.toggle("Test-time augmentation", key="predict_tta",
                   help="Average the prediction over the 8 rotations and mirror images of the picture "
                        "(clockwise and anticlockwise swapped back for the mirrored copies). Slower, steadier.")
run = by_path[run_path]
fm = run["final_metrics"]
m = st.columns(5)
m[0].metric("Validation accuracy", fmt(fm.get("val_accuracy")),
            help="Top answer of the model vs the people's top answer, on the run's held-out galaxies.")
m[1].metric("Macro recall", fmt(fm.get("val_macro_recall"), "{:.2f}"))
m[2].metric("Spin accuracy", fmt(fm.get("val_spin_accuracy")),
            help="Clockwise vs anticlockwise, on held-out spirals with a spin vote.")
m[3].metric("Epochs", run["n_epochs"])
m[4].metric("Parameters", f"{run['config'].get('n_params', 0):,}")
if not run["config"].get("val_fraction"):
    st.caption("This run learned from every image (nothing held out), so it has no validation figures: score it "
               "on a labelled set on the **Compare models** page, or compare it with a run trained with a "
               "held-out fraction (the shipped `gz1-heldout` is the same recipe with a fifth held out).")
with st.expander("Run details"):
    st.json({k: run["config"].get(k) for k in ("command", "model", "model_note", "image_size", "crop_fraction",
                                                 "created_at", "data") if k in run["config"]}, expanded=False)

model = model_for(run_path)
unlearned = not_learned_columns(model.learned)
if unlearned:
    st.caption(f"This run never learned {', '.join(unlearned)} (no training galaxy had those labels): they are "
               f"shown as *{NOT_LEARNED}*, written blank in the CSV and left out of every score.")

gset = pick_galaxy_set("predict_set_source")
seed, val_fraction = run["config"].get("seed"), run["config"].get("val_fraction")
if gset is not None and seed is not None and val_fraction:
    held_out = is_validation(gset.ids, int(seed), float(val_fraction))
    if st.toggle(f"Only galaxies held out from this run's training ({int(held_out.sum()):,} of {len(gset):,})",
                 key="predict_held_out",
                 help="The run split its training sets by ID (seeded); galaxies on the validation side were never "
                      "trained on. The built-in demo galaxies come from the sets models/demo was trained on, so "
                      "without this switch most of its scores here are on training galaxies."):
        gset = gset.subset(held_out) if held_out.any() else None

tab_gal, tab_set, tab_own = st.tabs(["Galaxies", "Over the set", "Your own image"])

fractions = failed = table = None
if gset is not None and len(gset):
    with st.spinner(f"Predicting {len(gset):,} galaxies..."):
        fractions, failed = predictions_for(run_path, gset, tta)
    table = galaxy_table(gset, fractions, model.learned)

with tab_gal:
    if table is not None:
        kinds = pd.Series(gset.label_kind()).value_counts()
        st.write(f"**{len(gset):,} galaxies** ({gset.name}) · human labels: "
                 + ", ".join(f"{k} {v:,}" for k, v in kinds.items()))
        if failed:
            with st.expander(f"{len(failed)} images could not be used", icon=":material/warning:"):
                st.dataframe(pd.DataFrame(failed, columns=["ID", "problem"]), hide_index=True)
        st.caption("Select a row to see that galaxy. Click a column header to sort; **disagreement** is the "
                   "largest difference between model and people over the columns the label has.")
        shown = table.sort_values("DISAGREEMENT", ascending=False, na_position="last", kind="stable")
        order = shown.index.to_numpy()
        number = {c: st.column_config.NumberColumn(c, format="%.3f") for c in table.columns if " P_" in c}
        event = st.dataframe(
            shown.reset_index(drop=True), key=f"predict_table|{run_path}|{gset.name}|{len(gset)}|{tta}",
            on_select="rerun",
            selection_mode="single-row", hide_index=True, height=300, placeholder="–",
            column_config={
                "ID": st.column_config.TextColumn("ID", pinned=True),
                "DISAGREEMENT": st.column_config.ProgressColumn("disagreement", min_value=0.0, max_value=1.0,
                                                                format="%.2f"),
                "LABEL_KIND": "human label", "MOST_DIFFERENT": "most different", "MODEL_TOP": "model top",
                "HUMAN_TOP": "people top", "IMAGE": None, **number,
            },
        )
        rows = [r for r in (event.selection.rows if event is not None else []) if r < len(order)]
        pick = int(order[rows[0]]) if rows else int(order[0])
        g = table.iloc[pick]
        st.subheader(f"Galaxy {g['ID']}" + ("" if rows else " (largest disagreement; select a row for another)"))
        c_img, c_bars = st.columns([1, 2.4])
        problem = dict(failed).get(gset.ids[pick])
        if problem:
            c_img.warning(f"Not predicted: {problem}")
        else:
            c_img.image(str(gset.files[pick]), caption=gset.files[pick].name, width="stretch")
        cd = bool(gset.class_derived[pick])
        series = [("model", blank_unlearned(fractions[pick], model.learned), MODEL_COLOUR)]
        if not np.isnan(gset.targets[pick]).all():
            series.append((human_trace_name(cd), gset.targets[pick], HUMAN_COLOUR))
        c_bars.plotly_chart(fraction_bars(series, hatched=[human_trace_name(True)],
                                          blank_text={"model": NOT_LEARNED}), key="predict_galaxy_bars")
        d = g["DISAGREEMENT"]
        c_img.metric("Disagreement", fmt(d, "{:.2f}"),
                     help="Largest |model - people| over the columns the human label has (fraction of the vote).")
        if not np.isnan(d):
            c_img.caption(f"Most different: {SHORT_LABELS.get(g['MOST_DIFFERENT'], g['MOST_DIFFERENT'])}. "
                          f"Model's top answer: {g['MODEL_TOP'].lower().replace('_', ' ')}; people's: "
                          f"{g['HUMAN_TOP'].lower().replace('_', ' ') or 'not known'}.")
        if cd:
            c_bars.caption("The human side of this galaxy is **class-derived**: a one-hot of its recorded GZ1 "
                           "class, not the share of votes (the vote fractions are not in this data set).")
        elif gset.label_kind()[pick] == "partial vote fractions":
            c_bars.caption("Only some vote fractions are known for this galaxy (n/a = not in the label).")
        st.download_button(
            "Download predictions (CSV)",
            predictions_csv_bytes(gset.ids, [f.name for f in gset.files], fractions, model.learned),
            file_name=f"predictions_{run['run_id']}.csv", mime="text/csv", icon=":material/download:",
        )

with tab_set:
    if table is not None:
        ok = ~np.isnan(fractions).any(axis=1)
        if not gset.has_labels:
            st.info("This set has no human labels, so there is nothing to compare the model with.")
        else:
            s = score(fractions[ok], gset.targets[ok], gset.class_derived[ok], learned=model.learned)
            c = st.columns(4)
            c[0].metric("Accuracy vs human majority", fmt(s["accuracy"]),
                        help="Share of galaxies whose model top answer equals the people's top answer "
                             "(the recorded class for class-derived labels).")
            c[1].metric("Macro recall", fmt(s["macro_recall"], "{:.2f}"))
            c[2].metric("Spin accuracy", fmt(s["spin_accuracy"]),
                        help="Clockwise vs anticlockwise on spirals with a spin vote.")
            c[3].metric("Galaxies with a top answer", f"{s['n_top_answer']:,} / {s['n']:,}")
            st.subheader("Predicted vs human, per column")
            st.caption("Each point is a galaxy; the dashed line is perfect agreement. RMSE uses vote-fraction "
                       "labels only; class-derived labels (0 or 1) are shown in grey.")
            st.plotly_chart(scatter_grid(fractions[ok], gset.targets[ok], gset.class_derived[ok], s["rmse"],
                                         model.learned), key="predict_scatter")
            if s["n_top_answer"]:
                st.subheader("Top answers: people vs model")
                st.plotly_chart(confusion_figure(s["confusion"]),
                                key="predict_confusion")
                recall = pd.DataFrame({"answer": list(CLASS_NAMES),
                                       "galaxies": [s["support"][k] for k in CLASS_NAMES],
                                       "recall": [s["per_class_recall"][k] for k in CLASS_NAMES]})
                st.dataframe(recall, hide_index=True,
                             column_config={"recall": st.column_config.NumberColumn(format="%.2f")})

with tab_own:
    st.write("Try any galaxy picture (JPEG or PNG): the model's nine bars appear below.")
    upload = st.file_uploader("Your galaxy image", type=["jpg", "jpeg", "png"], key="predict_upload")
    if upload is not None:
        try:
            values = predict_one(model, upload, upload.name, tta=tta)
        except ImageInputError as exc:
            st.error(f"Cannot use this image: {exc}")
        else:
            c_img, c_bars = st.columns([1, 2.4])
            c_img.image(upload.getvalue(), caption=upload.name, width="stretch")
            top = int(top_answer(values[None, :])[0])
            c_img.metric("Most people would say", SHORT_LABELS[VOTE_COLUMNS[top]], f"{values[top]:.0%} of the vote",
                         delta_color="off")
            c_bars.plotly_chart(fraction_bars([("model", blank_unlearned(values, model.learned), MODEL_COLOUR)],
                                              blank_text={"model": NOT_LEARNED}), key="predict_upload_bars")
            c_bars.caption(f"Model {run['run_id']}; the picture is centre-cropped to "
                           f"{model.crop_fraction:.0%} of its shorter side and resized to {model.image_size} px, "
                           "as in training. Best results with a galaxy centred in the frame.")

show_credit()

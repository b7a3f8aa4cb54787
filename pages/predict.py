"""Predict: the model's vote fractions next to the human vote, per galaxy and over a set."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from core.config import get_settings
from core.images.reading import ImageInputError, open_image
from core.inference.batch import predict_one
from core.inference.compare import galaxy_table, top_answer
from core.inference.held_out import SAW_EVERYTHING, held_out_mask
from core.inference.learned import NOT_LEARNED, blank_unlearned, not_learned_columns
from core.inference.predictions_csv import predictions_csv_bytes
from core.schema import CLASS_NAMES, RAW_COLUMNS, SHORT_LABELS, VOTE_COLUMNS
from core.scoring import score
from core.training.run_config import run_details
from ui import state_keys
from ui.credits import show_credit
from ui.framing_view import framing_caption, show_framing
from ui.model_cache import loadable_runs, model_for, predictions_with_progress, uncertainty_for
from ui.navigation import ensure_app_navigation
from ui.plain_text import md_escape
from ui.prediction_charts import confusion_figure, scatter_grid
from ui.prediction_inputs import pick_galaxy_set, run_label, runs_or_stop
from ui.prediction_job import show_catalogue_job
from ui.prediction_scores import show_run_summary, show_scores
from ui.prediction_views import show_galaxy, show_upload_bars
from ui.saliency_view import show_saliency
from ui.similar_view import show_similar

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
left, right = st.columns([3, 2], vertical_alignment="bottom")
run_path = left.selectbox("Model run", run_paths, format_func=lambda p: run_label(by_path[p]),
                          key=state_keys.PREDICT_RUN, persist_state="session")
tta = right.toggle("Test-time augmentation", key=state_keys.PREDICT_TTA, persist_state="session",
                   help="Average the prediction over the 8 rotations and mirror images of the picture "
                        "(clockwise and anticlockwise swapped back for the mirrored copies). Slower, steadier.")
run = by_path[run_path]
show_run_summary(run)
if not run["config"].get("val_fraction"):
    st.caption("This run learned from every image (nothing held out), so it has no validation figures: score it "
               "on a labelled set on the **Compare models** page, or compare it with a run trained with a "
               "held-out fraction (the shipped `gz1-heldout` is the same recipe with a fifth held out).")
with st.expander("Run details"):
    st.json(run_details(run["config"], public=get_settings().public), expanded=False)

if not loadable_runs([(run_path, run["run_id"])]):
    show_credit()
    st.stop()
model = model_for(run_path)
calibrated_on = model.calibration.origin() if model.calibration is not None else "held-out galaxies"
learned = model.learned
unlearned = not_learned_columns(learned)
if unlearned:
    st.caption(f"This run never learned {', '.join(unlearned)} (no training galaxy had those labels): they are "
               f"shown as *{NOT_LEARNED}*, written blank in the CSV and left out of every score.")

gset = pick_galaxy_set(state_keys.PREDICT_SET_SOURCE)
held = held_out_mask(run["config"], gset.ids) if gset is not None else None
scored_note = ""
if gset is not None and held is not None:
    if st.toggle(f"Only galaxies held out from this run's training ({int(held.sum()):,} of {len(gset):,})",
                 value=True, key=state_keys.PREDICT_HELD_OUT, persist_state="session",
                 help="The run split its training sets by ID (seeded); galaxies on the validation side were never "
                      "trained on. The built-in demo galaxies come from the sets the shipped models were trained "
                      "on, so without this switch most scores here are on training galaxies."):
        gset = gset.subset(held) if held.any() else None
        scored_note = "Galaxies held out from this run's training."
    else:
        scored_note = "All galaxies of the set, including ones this run trained on."
elif gset is not None:
    scored_note = f"This run {SAW_EVERYTHING}."

progress_slot = st.empty()  # the progress bar sits at the top of the results it is computing
tab_gal, tab_set, tab_own, tab_job = st.tabs(["Galaxies", "Over the set", "Your own image", "Whole catalogue"])

fractions = failed = table = None
if gset is not None and len(gset):
    fractions, failed = predictions_with_progress([(run_path, run["run_id"])], gset, tta, progress_slot)[run_path]
    top_p, sd = uncertainty_for(run_path, gset, tta)
    table = galaxy_table(gset, fractions, learned, top_p)

with tab_gal:
    if table is not None:
        table_key = f"predict_table|{run_path}|{gset.name}|{len(gset)}|{tta}"
        pick = show_galaxy(gset, table, fractions, failed, learned, key=table_key,
                           focus_id=st.session_state.get(state_keys.PREDICT_FOCUS), sd=sd,
                           calibrated_on=calibrated_on)
        if not np.isnan(fractions[pick]).any():
            st.subheader("Where the model looks")
            show_saliency(run_path, model, gset.files[pick],
                          default=VOTE_COLUMNS[int(top_answer(fractions[pick][None, :])[0])])
            st.subheader("More like this")
            show_similar(run_path, model, gset.ids[pick], gset, gset.files[pick].parent, table_key=table_key)
        st.download_button(
            "Download predictions (CSV)",
            predictions_csv_bytes(gset.ids, [f.name for f in gset.files],
                                  np.column_stack([fractions, top_p, sd]), learned),
            file_name=f"predictions_{run['run_id']}.csv", mime="text/csv", icon=":material/download:",
        )

with tab_set:
    if table is not None:
        ok = ~np.isnan(fractions).any(axis=1)
        if not gset.has_labels:
            st.info("This set has no human labels, so there is nothing to compare the model with.")
        else:
            s = score(fractions[ok], gset.targets[ok], gset.class_derived[ok], learned=learned)
            show_scores(s, scored_note)
            st.subheader("Predicted vs human, per column")
            st.caption("Each point is a galaxy; the dashed line is perfect agreement. RMSE uses vote-fraction "
                       "labels only; class-derived labels (0 or 1) are shown in grey.")
            st.plotly_chart(scatter_grid(fractions[ok], gset.targets[ok], gset.class_derived[ok], s["rmse"],
                                         learned), key="predict_scatter")
            if s["n_top_answer"]:
                st.subheader("Top answers: people vs model")
                st.plotly_chart(confusion_figure(s["confusion"]), key="predict_confusion")
                recall = pd.DataFrame({"answer": [SHORT_LABELS[c] for c in RAW_COLUMNS],
                                       "galaxies": [s["support"][k] for k in CLASS_NAMES],
                                       "recall": [s["per_class_recall"][k] for k in CLASS_NAMES]})
                st.dataframe(recall, hide_index=True,
                             column_config={"recall": st.column_config.NumberColumn(format="%.2f")})

with tab_own:
    st.write("Try any galaxy picture (JPEG or PNG): the model's nine bars appear below.")
    upload = st.file_uploader("Your galaxy image", type=["jpg", "jpeg", "png"], key="predict_upload")
    if upload is not None:
        try:
            outputs = predict_one(model, upload, upload.name, tta=tta)
        except ImageInputError as exc:
            st.error(f"Cannot use this image: {md_escape(exc)}")
        else:
            n9 = len(VOTE_COLUMNS)
            values = outputs[:n9]
            top = int(top_answer(values[None, :])[0])
            c_bars = show_upload_bars(upload.getvalue(), upload.name, blank_unlearned(values, learned),
                                      SHORT_LABELS[VOTE_COLUMNS[top]], float(values[top]),
                                      sd=blank_unlearned(outputs[n9 + 1:], learned), top_p=float(outputs[n9]),
                                      calibrated_on=calibrated_on)
            c_bars.caption(f"Model {md_escape(run['run_id'])}. "
                           + framing_caption(model.crop_fraction, model.image_size))
            with st.expander("What the model sees after framing"):
                show_framing(open_image(upload, upload.name), model.crop_fraction, model.image_size,
                             md_escape(upload.name))
            st.subheader("Where the model looks")
            show_saliency(run_path, model, upload.getvalue(), default=VOTE_COLUMNS[top],
                          key="explain_answer_upload")
            st.subheader("More like this")
            show_similar(run_path, model, upload.getvalue(), gset, get_settings().images_dir,
                         key="similar_upload")

with tab_job:
    show_catalogue_job(run)

show_credit()

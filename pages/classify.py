"""Classify: visitors answer the Galaxy Zoo 1 question, then see how GZ1, the model and other visitors answered."""

from __future__ import annotations

import streamlit as st

from core.config import get_settings
from core.images.reading import display_source
from core.paths import PathNotAllowed, confine
from core.schema import LabelKind
from core.votes.aggregate import export_csv_bytes, summary, vote_counts
from core.votes.answers import ANSWERS, answer_for
from core.votes.crowd import crowd_comparison, disagreements, session_score
from core.votes.store import client_votes
from core.wording import count
from ui import state_keys
from ui.classify_charts import VISITOR_COLOUR, answer_bars, crowd_heatmap, votes_per_galaxy_figure
from ui.classify_state import (
    SOURCES,
    cast,
    choose_again,
    client_key,
    current_galaxy,
    database_or_stop,
    engine,
    pool_for,
    reference_pool,
    remember_folder,
    session_id,
    skip,
    undo,
)
from ui.credits import show_credit
from ui.navigation import ensure_app_navigation
from ui.plain_text import md_escape
from ui.prediction_charts import HUMAN_COLOUR, MODEL_COLOUR

#: Width of the galaxy on show, in CSS px: a full column (~540 px) pushed the six buttons below the fold at 1400 x 900.
IMAGE_PX = 300

HOW_TO = """
Look at the galaxy in the middle of the image and pick the answer that fits best, as more than
100,000 Galaxy Zoo volunteers did from 2007 (keys **1**–**6** work too):

* **Elliptical** – a smooth, rounded or egg-shaped glow with no disc, arms or dust lane.
* **Clockwise spiral** (GZ1's *Z-wise*) – spiral arms that trail behind as if the galaxy turned
  **clockwise** in the picture: the arms curve like the letter **Z**, so following an arm outward from
  the centre you turn anticlockwise.
* **Anticlockwise spiral** (*S-wise*) – the mirror image: arms shaped like an **S**, trailing as if the
  galaxy turned anticlockwise.
* **Spiral, edge-on or direction unclear** – a disc seen edge-on (a thin streak, often with a dark dust
  lane), or a spiral whose winding sense you cannot make out.
* **Star or don't know** – a star, an artefact, or too faint to tell.
* **Merger** – two or more galaxies colliding or tangled, often with tidal tails.

The winding sense is what the picture shows: a mirrored image would swap clockwise and anticlockwise.
"""

ensure_app_navigation()
settings = get_settings()
st.title("Classify")
st.caption("Answer the question Galaxy Zoo 1 asked about nearly 900,000 galaxies, then see how the 2007 volunteers, the model "
           "and this dashboard's other visitors answered. Votes are anonymous: each visitor counts once per galaxy, "
           "by a keyed hash of their network address (the address itself is never stored).")
with st.expander("How to classify", expanded=False):
    st.markdown(HOW_TO)

choices = [k for k in SOURCES if k != "folder" or not settings.public]
pick_col, order_col = st.columns([3, 1], vertical_alignment="bottom")
source = pick_col.radio("Galaxies from", choices, format_func=SOURCES.get, horizontal=True,
                        key=state_keys.VOTE_SOURCE)
order_col.toggle("Least certain first", key=state_keys.VOTE_LEAST_SURE, on_change=choose_again,
                 help="Show the galaxies the model is least sure of first (lowest TOP_P, its calibrated probability "
                      "that the volunteers agree with its top answer): your votes teach it most there.")
folder = None
if source == "folder":
    typed = st.text_input("Image folder on the server (<OBJID>.jpg files, joined to the current catalogue)")
    if not typed:
        st.stop()
    try:
        folder = confine(typed, "Image folder")
    except PathNotAllowed as exc:
        st.error(md_escape(str(exc)))
        st.stop()
database_or_stop()
pool = pool_for(source, folder)
if folder is not None and len(pool):
    remember_folder(folder)
if len(pool) == 0:
    st.info("No galaxy with an 18-digit SDSS OBJID and an image here. Download cutouts on the Images page, "
            "or pick the built-in demo images.")
    st.stop()

notice = st.session_state.pop(state_keys.VOTE_NOTICE, None)
if notice:
    st.warning(md_escape(notice))

my_votes = client_votes(engine(), client_key())  # this visitor's votes, from every tab and reload
everything = reference_pool(pool)  # every set voted on that this page can load: statistics never follow the choice
left, right = st.columns([3, 2], gap="medium")
with left:
    position = current_galaxy(pool)
    if position is None:
        st.success(f"You have classified every galaxy of this set ({len(pool)}). Thank you! Pick another set above.")
    else:
        galaxy_id = pool.ids[position]
        # At most IMAGE_PX wide: at 1400 x 900 the six answer buttons stay above the fold.
        st.image(display_source(pool.files[position]), width=IMAGE_PX,
                 caption=f"OBJID {galaxy_id} · {pool.sources[position]}")
        rows = [col for _ in range(3) for col in st.columns(2)]  # keys 1-2, 3-4, 5-6: labels never break mid-word
        for k, answer in enumerate(ANSWERS):
            rows[k].button(answer.wording, key=f"vote_{answer.code}", shortcut=answer.key, width="stretch",
                           wrap=True, on_click=cast, args=(galaxy_id, answer.code, pool.sources[position], pool))
        st.button("Skip this galaxy", on_click=skip, args=(galaxy_id,), type="tertiary")
    score = session_score(my_votes, everything)
    m = st.columns(3)
    m[0].metric("Your votes", len(my_votes))
    for col, key, label in ((m[1], "gz1", "Match GZ1"), (m[2], "model", "Match model")):
        s = score[key]
        col.metric(label, "–" if s["share"] is None else f"{s['share']:.0%}", help=f"{s['agree']} of {s['compared']} "
                   "votes match the top answer (GZ1: the largest vote fraction, or the class where only a class is known)")
    st.button("Undo my last vote", on_click=undo, disabled=not any(v.session_id == session_id() for v in my_votes),
              help="Undoes the last vote cast in this tab.")

with right:
    last = st.session_state.get(state_keys.VOTE_LAST)
    if last is not None:  # the feedback as computed when the vote was cast, from the set it was cast on
        reveal = last.reveal
        st.subheader(f"You said: {answer_for(last.vote.answer).wording}")
        if last.image is not None:
            st.image(display_source(last.image), width=110)
        st.caption(f"OBJID {last.vote.galaxy_id}" + (f" · {reveal['source']}" if reveal.get("source") else ""))
        series = [("model", reveal["model"], MODEL_COLOUR)]
        gz1_name = None
        if reveal["gz1_kind"] == LabelKind.VOTES:
            gz1_name = "GZ1 volunteers (vote fractions)"
        elif reveal["gz1_kind"] == LabelKind.CLASS:
            gz1_name = "GZ1 class (class-derived, not vote fractions)"
        if gz1_name:
            series.append((gz1_name, reveal["gz1"], HUMAN_COLOUR))
        series.append((f"visitors here ({count(reveal['nvote'], 'vote')})", reveal["visitors"], VISITOR_COLOUR))
        st.plotly_chart(answer_bars(series, hatched=[n for n in [gz1_name] if n and "class" in n]),
                        key="reveal_chart")
        if gz1_name is None:
            st.caption("The catalogue has no GZ1 answer for this galaxy.")

st.divider()
st.header("The crowd")
counts = vote_counts(engine())  # one query for the whole crowd section
stats = summary(engine(), counts)
crowd = crowd_comparison(engine(), everything, counts)
c = st.columns(4)
c[0].metric("Votes so far", stats["votes"])
c[1].metric("Galaxies covered", stats["galaxies"])
c[2].metric("Visitors", stats["clients"], help="Distinct visitors (network addresses, kept only as keyed hashes).")
c[3].metric("Visitors agree with the model", "–" if crowd["model"]["share"] is None
            else f"{crowd['model']['share']:.0%}", help=f"{crowd['model']['agree']} of {crowd['model']['compared']} votes")
if stats["votes"]:
    a, b = st.columns([2, 3])  # the heatmap needs the room for all six answer labels
    a.markdown("**Votes per galaxy**")
    a.plotly_chart(votes_per_galaxy_figure(stats["galaxies_by_votes"]), key="votes_per_galaxy")
    b.markdown("**Visitors vs GZ1** (rows: GZ1 top answer or class; columns: visitors' answers)")
    heatmap = crowd_heatmap(crowd["confusion"].to_numpy())
    b.plotly_chart(heatmap, key="visitors_vs_gz1")
    st.markdown("**Where visitors and the model disagree most** (total-variation distance of the six fractions)")
    st.dataframe(disagreements(engine(), everything, counts=counts), hide_index=True)
    if crowd["outside"]:
        st.caption(f"{count(crowd['outside'], 'vote')} on galaxies of image sets not open here (another "
                   "visitor's image folder) are counted in the totals but not compared.")
    k = st.number_input("Export galaxies with at least K votes", min_value=1, value=1, step=1)
    data, n = export_csv_bytes(engine(), int(k), counts)
    st.download_button(f"Download {count(n, 'galaxy', 'galaxies')} as GZ1 Table-2 vote fractions (CSV)", data, "visitor_votes.csv",
                       "text/csv", disabled=n == 0)
    st.caption("Train on them on the Train page (label source \u201cVisitor votes\u201d) or with "
               "`python -m core votes export OUT.csv` and `python -m core train --catalog OUT.csv`.")
show_credit()

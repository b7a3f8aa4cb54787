"""Galaxy Zoo morphology dashboard: entry point (``streamlit run app.py``)."""

import streamlit as st

st.set_page_config(page_title="Galaxy Zoo morphology", page_icon=":milky_way:", layout="wide")

PAGES = [
    st.Page("pages/home.py", title="Home", icon=":material/home:", default=True),
    st.Page("pages/catalog.py", title="Catalog", icon=":material/table:"),
    st.Page("pages/images.py", title="Images", icon=":material/image:"),
    st.Page("pages/train.py", title="Train", icon=":material/model_training:"),
    st.Page("pages/predict.py", title="Predict", icon=":material/insights:"),
    st.Page("pages/compare.py", title="Compare models", icon=":material/leaderboard:"),
    st.Page("pages/classify.py", title="Classify", icon=":material/how_to_vote:"),
]

st.navigation(PAGES).run()

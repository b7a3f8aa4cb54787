"""Galaxy Zoo morphology dashboard: entry point (``streamlit run app.py``)."""

import streamlit as st

from core.config import get_settings
from ui.page_errors import run_page

st.set_page_config(page_title="Galaxy Zoo morphology", page_icon=":milky_way:", layout="wide")

# Metric labels and values, button and toggle labels wrap instead of being cut off with "…" at
# 1024 px and on phones (tests/browser/test_layout.py checks the metrics on every page).
st.html(
    """<style>
    [data-testid="stMetricLabel"], [data-testid="stMetricLabel"] *,
    [data-testid="stMetricValue"], [data-testid="stMetricValue"] *,
    [data-testid^="stBaseButton"] *, [data-testid="stWidgetLabel"] * {
        white-space: normal !important; overflow: visible !important; text-overflow: clip !important;
        overflow-wrap: break-word; height: auto !important;
    }
    </style>"""
)

PAGES = [
    st.Page("pages/home.py", title="Home", icon=":material/home:", default=True),
    st.Page("pages/catalog.py", title="Catalog", icon=":material/table:"),
    st.Page("pages/images.py", title="Images", icon=":material/image:"),
    st.Page("pages/train.py", title="Train", icon=":material/model_training:"),
    st.Page("pages/predict.py", title="Predict", icon=":material/insights:"),
    st.Page("pages/explore.py", title="Explore", icon=":material/scatter_plot:"),
    st.Page("pages/compare.py", title="Compare models", icon=":material/leaderboard:"),
    st.Page("pages/classify.py", title="Classify", icon=":material/how_to_vote:"),
]

if get_settings().public:
    st.sidebar.info("**Public demo.** Uploads and the built-in data only: no server folders, no SDSS "
                    "downloads and no training from the browser.", icon=":material/public:")

# A page's uncaught error is logged and shown as a plain message, never as a traceback.
run_page(st.navigation(PAGES))

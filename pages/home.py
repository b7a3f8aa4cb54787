"""Home: what the dashboard does and where to start."""

import streamlit as st

from core.config import get_settings
from ui.credits import show_credit
from ui.navigation import ensure_app_navigation

ensure_app_navigation()

st.title("Galaxy Zoo morphology")
st.markdown(
    """
Turn the **Galaxy Zoo 1** catalogue into a galaxy-morphology model, in four steps:

1. **Catalog** – upload the GZ1 *Table 2* CSV (or use the built-in 695-row sample), check it,
   convert RA/DEC to degrees and see the galaxies on the sky.
2. **Images** – download one SDSS cutout per galaxy in the background, with live progress.
3. **Train** – train a CNN on the CPU to predict the nine vote fractions.
4. **Predict / Compare models** – see the model's fractions next to the human vote.

Galaxy Zoo fractions are *how people voted*: the model learns to emulate the human vote,
not a ground truth.
"""
)
settings = get_settings()
n_sample = max(0, sum(1 for _ in open(settings.sample_catalog, encoding="utf-8")) - 1)
n_demo = sum(1 for _ in settings.demo_dir.rglob("*.jpg"))
runs = sorted(p.parent.name for p in settings.models_dir.glob("*/model.pt"))
st.markdown("**Ready to use without any upload or download:**")
k1, k2, k3 = st.columns(3)
k1.metric("Galaxies in the built-in GZ1 sample", f"{n_sample:,}")
k2.metric("Demo images with labels", f"{n_demo:,}")
k3.metric("Trained models", len(runs), help=", ".join(runs) or "none yet")

c1, c2, c3, c4 = st.columns(4)
c1.page_link("pages/catalog.py", label="Open the catalog", icon=":material/table:")
c2.page_link("pages/images.py", label="Get images", icon=":material/image:")
c3.page_link("pages/train.py", label="Train a model", icon=":material/model_training:")
c4.page_link("pages/predict.py", label="Predict", icon=":material/insights:")
show_credit()

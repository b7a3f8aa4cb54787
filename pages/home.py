"""Home: what the dashboard does, where to start, three real GZ1 galaxies and the data credit."""

import streamlit as st

from core.config import get_settings
from core.images.preprocess import centre_crop
from core.images.reading import ImageInputError, open_image
from core.schema import SHORT_LABELS
from ui.credits import show_credit
from ui.navigation import ensure_app_navigation
from ui.plain_text import md_escape

#: Three demo-set galaxies shown on Home (GZ1 subject images; label = the class GZ1 voters chose).
SHOWCASE = (("587725470674649267", "P_EL"), ("587725816426594544", "P_CW"), ("587727179011522729", "P_EDGE"))
#: The GZ1 subject images frame the galaxy loosely; show the central half, 240 px a side.
SHOWCASE_CROP, SHOWCASE_PX = 0.5, 240


@st.cache_data(show_spinner=False)
def _showcase_picture(path: str):
    """uint8 RGB array of the central crop of a demo image, or None when the file is unusable."""
    try:
        return centre_crop(open_image(path), SHOWCASE_PX, SHOWCASE_CROP)
    except (ImageInputError, OSError):
        return None


def _show_galaxies(settings) -> None:
    """The showcase galaxies found in the demo set (nothing when the demo set lacks them)."""
    found = [(objid, answer, picture) for objid, answer in SHOWCASE
             if (picture := _showcase_picture(str(settings.demo_dir / "gz1" / f"{objid}.jpg"))) is not None]
    if not found:
        return
    for column, (_, answer, picture) in zip(st.columns(len(found)), found):
        column.image(picture, caption=SHORT_LABELS[answer], width="stretch")
    st.caption("Galaxy Zoo 1 subjects from the built-in demo set (SDSS imaging, central half); each is labelled "
               "with the answer most volunteers gave. SDSS objids: " + ", ".join(o for o, _, _ in found) + ".")


ensure_app_navigation()
settings = get_settings()
st.title("Galaxy Zoo morphology")
if settings.public:
    st.info("This is a public demo: it works on uploads and the built-in data only. Downloads from SDSS, "
            "training and server folders are turned off here; run it on your own computer for those.",
            icon=":material/public:")
intro, picture = st.columns([3, 2])
intro.markdown(
    """
Turn the **Galaxy Zoo 1** catalogue into a galaxy-morphology model, in six steps:

1. **Catalog** – upload the GZ1 *Table 2* CSV (or use the built-in 695-row sample), check it,
   convert RA/DEC to degrees and see the galaxies on the sky.
2. **Images** – download one SDSS cutout per galaxy in the background, with live progress.
3. **Train** – train a CNN on the CPU to predict the nine vote fractions.
4. **Predict / Compare models** – see the model's fractions next to the human vote, and rank models.
5. **Explore** – a map of the galaxies as the model sees them; a box on it becomes a set for the other
   pages. Predict also shows where the model looks, look-alikes and how sure it is.
6. **Classify** – vote on galaxies as the Galaxy Zoo volunteers did; the votes can train a model.

Galaxy Zoo fractions are *how people voted*: the model learns to emulate the human vote,
not a ground truth.
"""
)
with picture:
    _show_galaxies(settings)

n_sample = max(0, sum(1 for _ in open(settings.sample_catalog, encoding="utf-8")) - 1)
n_demo = sum(1 for _ in settings.demo_dir.rglob("*.jpg"))
shipped = sorted(p.parent.name for p in settings.shipped_models_dir.glob("*/model.pt"))
mine = [] if settings.is_shipped(settings.models_dir) else sorted(p.parent.name for p in settings.models_dir.glob("*/model.pt"))
names = ", ".join(mine) + ("; " if mine and shipped else "") + ("shipped: " + ", ".join(shipped) if shipped else "")
st.markdown("**Ready to use without any upload or download:**")
k1, k2, k3 = st.columns(3)
k1.metric("Galaxies in the built-in GZ1 sample", f"{n_sample:,}")
k2.metric("Demo images with labels", f"{n_demo:,}")
k3.metric("Trained models", len(mine) + len(shipped), help=md_escape(names) or "none yet")

links = [("pages/catalog.py", "Open the catalog", ":material/table:"),
         ("pages/images.py", "Get images", ":material/image:"),
         ("pages/train.py", "Train a model", ":material/model_training:"),
         ("pages/predict.py", "Predict", ":material/insights:"),
         ("pages/explore.py", "Explore the map", ":material/scatter_plot:"),
         ("pages/compare.py", "Compare models", ":material/leaderboard:"),
         ("pages/classify.py", "Classify galaxies", ":material/how_to_vote:")]
for row in (links[:3], links[3:6], links[6:]):  # rows of three: labels stay whole at 1024 px and on phones
    for column, (page, label, icon) in zip(st.columns(3), row):
        column.page_link(page, label=label, icon=icon)
show_credit()

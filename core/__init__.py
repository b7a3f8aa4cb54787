"""Galaxy Zoo 1 morphology toolkit: catalogue cleaning, SDSS cutouts, CNN training and inference.

The dashboard (``app.py``, ``pages/``) and the command line (``python -m core``)
both call this package; nothing in it imports Streamlit.
"""

__version__ = "0.1.0"

"""Streamlit helpers shared by the pages (drawing only; the work is in ``core``)."""

"""Test helpers: a real `streamlit run` server and a headless Debian Chromium."""

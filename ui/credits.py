"""The data credit shown on every page that displays Galaxy Zoo or SDSS data."""

import streamlit as st

from core.schema import DATA_CREDIT


def show_credit() -> None:
    st.caption(DATA_CREDIT)

"""Keep Streamlit in ``st.navigation`` mode whichever URL a fresh server is first asked for.

Streamlit decides once per server process whether an app is an old-style
multipage app: a folder named ``pages/`` beside ``app.py`` makes it run the
requested page file directly (bypassing ``app.py``) until some session has run
``st.navigation``. So if the very first request after a start is ``/images``,
that tab would get the auto-built sidebar and no page config. Every page calls
:func:`ensure_app_navigation` first: in that case it switches the legacy mode
off and reruns, so ``app.py`` runs and routes to the same page.
"""

import streamlit as st


def ensure_app_navigation() -> None:
    try:
        from streamlit.runtime.pages_manager import PagesManager
    except ImportError:  # a future Streamlit without the legacy mode
        return
    if getattr(PagesManager, "uses_pages_directory", False):
        PagesManager.uses_pages_directory = False
        st.rerun()

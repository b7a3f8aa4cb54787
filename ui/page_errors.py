"""The last-resort handler around every page: a visitor never sees a traceback or a server path.

An exception a page lets through is written to the server log (stderr, with its traceback and
a short reference) and the visitor gets a plain message with that reference only. Streamlit's
own control flow (``st.stop``, ``st.rerun``, ``st.switch_page``) raises ``BaseException``
subclasses and passes through untouched. Errors outside a page run (widget callbacks) are
covered by ``client.showErrorDetails = "none"`` in ``.streamlit/config.toml``.
"""

from __future__ import annotations

import logging
import uuid

import streamlit as st

LOG = logging.getLogger("galaxy_zoo.pages")

#: What a visitor reads when a page fails; ``{ref}`` matches the server log line.
PLAIN_MESSAGE = ("Something went wrong on this page, and it stopped. Nothing you saved is lost. "
                 "Reload the page to try again; if it happens again, tell whoever runs this server "
                 "(reference {ref}: the details are in its log).")


def run_page(page) -> None:
    """Run the page ``st.navigation`` chose; log and replace any exception it raises."""
    try:
        page.run()
    except Exception:  # noqa: BLE001 - the last resort: anything a page lets through
        ref = uuid.uuid4().hex[:8]
        LOG.exception("page %r failed (reference %s)", getattr(page, "title", page), ref)
        st.error(PLAIN_MESSAGE.format(ref=ref), icon=":material/error:")

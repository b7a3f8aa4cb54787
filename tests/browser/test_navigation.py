"""The dashboard's navigation, in a real browser, from a freshly started server."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.support.browser import open_app, wait_for_app_idle

pytestmark = pytest.mark.browser


def test_deep_link_as_first_request_still_uses_app_navigation(app_url, page):
    """A fresh server whose first request is a sub-page must still route through app.py.

    Without ui.navigation.ensure_app_navigation, Streamlit's legacy ``pages/``
    mode would show an auto-built sidebar (with an entry named "app"). This module's
    server is fresh: this is its only test, and its first request is ``/catalog``.
    """
    open_app(page, app_url, "catalog")
    nav = page.locator("[data-testid='stSidebarNav']")
    # The legacy first run may show briefly before ensure_app_navigation's rerun: wait for the app's
    # own navigation (without the fix it never comes and this times out).
    expect(nav).to_contain_text("Compare models", timeout=30_000)
    wait_for_app_idle(page)
    labels = nav.inner_text()
    assert "Compare models" in labels
    assert "Home" in labels
    assert "\napp\n" not in f"\n{labels}\n"
    # The home page links to every step and credits the data.
    open_app(page, app_url)
    body = page.locator("[data-testid='stMain']").inner_text()
    assert "Galaxy Zoo morphology" in body
    assert "Lintott et al. 2008" in body

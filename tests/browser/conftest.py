"""One dashboard server and one Chromium per test module (Streamlit's e2e conftest pattern).

Fixtures:

* ``browser_home`` – the module's writable ``GZ_HOME`` (models under ``browser_home/models``).
* ``server_env`` – extra environment for the server; a module overrides it with its own
  module-scoped fixture of the same name (e.g. to point ``GZ_CUTOUT_BASE_URL`` at a stand-in).
* ``app_url`` – base URL of ``streamlit run app.py`` on a free loopback port, started once per
  module after ``/_stcore/health`` says ``ok``.
* ``page`` – a fresh page (own session) in the module's Chromium, 1400×1000, not yet navigated;
  ``tests.support.browser.open_app(page, app_url)`` loads the root and waits for the script to finish.
* ``page_at`` – ``page_at(width, height)`` for other viewports.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.browser import launch_chromium, new_page
from tests.support.streamlit_server import streamlit_server


@pytest.fixture(scope="module")
def browser_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("browser-gzhome")
    (home / "models").mkdir()
    return home


@pytest.fixture(scope="module")
def server_env() -> dict[str, str]:
    """Extra server environment; override in a module for stand-ins or other folders."""
    return {}


@pytest.fixture(scope="module")
def app_url(browser_home: Path, server_env: dict[str, str]) -> Iterator[str]:
    env = {"GZ_HOME": str(browser_home), "GZ_MODELS_DIR": str(browser_home / "models"),
           "GZ_SHIPPED_MODELS_DIR": str(browser_home / "shipped-models"), "GZ_TORCH_THREADS": "2", **server_env}
    with streamlit_server(env) as url:
        yield url


@pytest.fixture(scope="module")
def chromium() -> Iterator[object]:
    with launch_chromium() as browser:
        yield browser


@pytest.fixture
def page_at(chromium) -> Iterator[Callable[[int, int], object]]:
    """``page_at(width, height)`` -> a fresh page at that viewport; closed after the test."""
    pages = []

    def make(width: int, height: int):
        pages.append(new_page(chromium, width, height))
        return pages[-1]

    yield make
    for opened in pages:
        opened.context.close()


@pytest.fixture
def page(page_at):
    return page_at(1400, 1000)


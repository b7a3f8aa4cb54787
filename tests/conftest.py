"""Shared fixtures: every test gets its own writable GZ_HOME, so nothing touches the repo.

Page fixtures: ``repo_root`` (the checkout), ``page_path("train")`` (a page script's path) and
``app_test("train")`` (an ``AppTest`` of that page; ``app_test(None)`` is the whole app through
``app.py``). Browser fixtures (one server per module) live in ``tests/browser/conftest.py``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.support.browser import chromium_available
from tests.support.paths import APP_FILE, FIXTURES, REPO_ROOT, SAMPLE_CATALOG, page_file

__all__ = ["FIXTURES", "REPO_ROOT", "SAMPLE_CATALOG"]  # re-exported for older imports


@pytest.fixture(autouse=True)
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point every writable folder at a temporary one (runs too), and the shipped models folder at an empty
    one (a test that wants the repository's shipped runs sets GZ_SHIPPED_MODELS_DIR itself)."""
    home = tmp_path / "gzhome"
    monkeypatch.setenv("GZ_HOME", str(home))
    monkeypatch.setenv("GZ_MODELS_DIR", str(home / "models"))
    monkeypatch.setenv("GZ_SHIPPED_MODELS_DIR", str(tmp_path / "shipped-models"))
    monkeypatch.setenv("GZ_TORCH_THREADS", "2")
    return home


@pytest.fixture(autouse=True)
def real_main_module() -> Iterator[None]:
    """Put back the ``__main__`` module after each test. AppTest runs a page script as ``__main__`` and leaves
    it there; every process started with "spawn" afterwards (the vote races, Dask's LocalCluster workers)
    would then re-run that Streamlit script on start-up (about 20 s of CPU for eight processes)."""
    main = sys.modules["__main__"]
    yield
    sys.modules["__main__"] = main


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def page_path() -> Callable[[str], str]:
    """``page_path("train")`` -> path of ``pages/train.py`` (raises if there is no such page)."""
    return page_file


@pytest.fixture
def app_test() -> Callable[..., AppTest]:
    """``app_test("catalog", timeout=60)`` -> an AppTest of that page, not yet run; ``None`` = app.py."""

    def make(name: str | None, timeout: float = 60) -> AppTest:
        script = str(APP_FILE) if name is None else page_file(name)
        return AppTest.from_file(script, default_timeout=timeout)

    return make


@pytest.fixture
def sample_catalog_path() -> Path:
    return SAMPLE_CATALOG


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if chromium_available() or os.environ.get("CI"):
        return  # in CI a missing browser must fail, not skip
    skip = pytest.mark.skip(reason="Debian chromium not installed (/usr/bin/chromium)")
    for item in items:
        if "browser" in item.keywords:
            item.add_marker(skip)

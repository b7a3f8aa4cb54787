"""Shared fixtures: every test gets its own writable GZ_HOME, so nothing touches the repo."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.support.browser import chromium_available
from tests.support.paths import REPO_ROOT

SAMPLE_CATALOG = REPO_ROOT / "data" / "sample" / "gz1_table2_sample695.csv"
FIXTURES = REPO_ROOT / "tests" / "fixtures"


@pytest.fixture(autouse=True)
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point every writable folder at a temporary one (models too)."""
    home = tmp_path / "gzhome"
    monkeypatch.setenv("GZ_HOME", str(home))
    monkeypatch.setenv("GZ_MODELS_DIR", str(home / "models"))
    monkeypatch.setenv("GZ_TORCH_THREADS", "2")
    return home


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

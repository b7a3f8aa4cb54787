"""Structural rules for the dashboard: thin pages over a streamlit-free core."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from tests.support.paths import REPO_ROOT

PAGE_FILES = sorted((REPO_ROOT / "pages").glob("*.py"))


def _imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_core_never_imports_streamlit():
    """Every file of core (the import-linter contract in tests/test_stage_order.py also covers ui and pages)."""
    offenders = [str(p.relative_to(REPO_ROOT)) for p in (REPO_ROOT / "core").rglob("*.py")
                 if "streamlit" in _imported_modules(p)]
    assert offenders == []


def test_every_navigation_page_exists_and_guards_legacy_mode():
    app = (REPO_ROOT / "app.py").read_text(encoding="utf-8")
    listed = re.findall(r'st\.Page\("([^"]+)"', app)
    assert sorted(REPO_ROOT / p for p in listed) == PAGE_FILES
    for page in PAGE_FILES:
        text = page.read_text(encoding="utf-8")
        assert "ensure_app_navigation()" in text, f"{page.name} must call ensure_app_navigation() first"

"""The stage order of ``core`` (pyproject ``[tool.importlinter]``) holds, and the contracts really catch a break.

catalog < images < labels < training < inference < cluster < explain < votes < cli, with the base modules (schema,
config, scoring, ...) below them all; ``core`` never imports streamlit, ``ui``, ``pages`` or plotly.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tests.support.paths import REPO_ROOT

LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _lint(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(LINT_IMPORTS), "--no-cache", "--no-logo"], cwd=root, capture_output=True,
                          text=True, timeout=120)


def _copy_of_core(tmp_path: Path) -> Path:
    """A throw-away checkout holding only ``core/`` and ``pyproject.toml``, free to be broken."""
    shutil.copytree(REPO_ROOT / "core", tmp_path / "core", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO_ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def _contract(kind: str) -> dict:
    contracts = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["importlinter"]
    return next(c for c in contracts["contracts"] if c["type"] == kind)


def test_every_core_package_has_a_layer():
    """The layers list names every stage of the README's order, top to bottom."""
    layers = [name.strip("()") for name in _contract("layers")["layers"]]
    stages = ["cli", "votes", "explain", "cluster", "inference", "training", "labels", "images", "catalog"]
    assert [name for name in layers if name in stages] == stages
    base = {part.strip() for part in layers[-1].split(":")}
    packages = {p.name for p in (REPO_ROOT / "core").iterdir() if (p / "__init__.py").is_file()}
    modules = {p.stem for p in (REPO_ROOT / "core").glob("*.py")} - {"__init__"}
    assert packages | modules <= set(layers) | base


@pytest.mark.skipif(not LINT_IMPORTS.is_file(), reason="import-linter is not installed (requirements-dev.txt)")
def test_core_keeps_its_contracts():
    result = _lint(REPO_ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.skipif(not LINT_IMPORTS.is_file(), reason="import-linter is not installed (requirements-dev.txt)")
@pytest.mark.parametrize(("module", "line", "contract"), [
    ("catalog/upward.py", "import core.labels.targets\n", "stage order"),
    ("scoring.py", "from core.inference import runs\n", "stage order"),
    ("unplaced.py", "LAYER = None\n", "stage order"),
    ("images/drawing.py", "import streamlit\n", "never imports streamlit"),
    ("training/page_link.py", "import ui.state_keys\n", "never imports streamlit"),
    ("catalog/figure.py", "import plotly.graph_objects\n", "never imports plotly"),
])
def test_a_break_is_reported(tmp_path, module, line, contract):
    """An upward import, a module in no layer or a page import in a copy of core fails naming that contract."""
    root = _copy_of_core(tmp_path)
    target = root / "core" / module
    target.write_text((target.read_text(encoding="utf-8") if target.exists() else "") + line, encoding="utf-8")
    result = _lint(root)
    assert result.returncode == 1, result.stdout + result.stderr
    broken = [ln for ln in result.stdout.splitlines() if ln.rstrip().endswith("BROKEN")]
    assert len(broken) == 1 and contract in broken[0], result.stdout
    assert f"core.{Path(module).with_suffix('').as_posix().replace('/', '.')}" in result.stdout

"""Where the repository, its pages and the test fixtures are (one definition for all tests)."""

from __future__ import annotations

from core.config import REPO_ROOT

FIXTURES = REPO_ROOT / "tests" / "fixtures"
CATALOG_FIXTURES = FIXTURES / "catalog"
CUTOUT_FIXTURES = FIXTURES / "cutouts"
PAGES_DIR = REPO_ROOT / "pages"
APP_FILE = REPO_ROOT / "app.py"
SAMPLE_CATALOG = REPO_ROOT / "data" / "sample" / "gz1_table2_sample695.csv"


def page_file(name: str) -> str:
    """Path of ``pages/<name>.py`` as a string, the form ``AppTest.from_file`` takes."""
    path = PAGES_DIR / f"{name}.py"
    if not path.is_file():
        raise FileNotFoundError(f"no page named {name!r} in {PAGES_DIR}")
    return str(path)


def page_names() -> list[str]:
    """Every page script's name (``pages/<name>.py``), sorted."""
    return sorted(p.stem for p in PAGES_DIR.glob("*.py"))


"""Where the repository, its pages and the test fixtures are (one definition for all tests)."""

from __future__ import annotations

from core.config import REPO_ROOT

FIXTURES = REPO_ROOT / "tests" / "fixtures"
CUTOUT_FIXTURES = FIXTURES / "cutouts"
PAGES_DIR = REPO_ROOT / "pages"
SAMPLE_CATALOG = REPO_ROOT / "data" / "sample" / "gz1_table2_sample695.csv"


def page_file(name: str) -> str:
    """Path of ``pages/<name>.py`` as a string, the form ``AppTest.from_file`` takes."""
    return str(PAGES_DIR / f"{name}.py")

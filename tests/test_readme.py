"""The README states what the code defines: the exit-code table and every setting."""

from __future__ import annotations

import re

from core.config import Settings
from core.exit_codes import MEANINGS
from tests.support.paths import REPO_ROOT

README = (REPO_ROOT / "README.md").read_text(encoding="utf-8")


def test_readme_exit_code_table_is_the_one_in_core() -> None:
    rows = dict(re.findall(r"^\| (\d) \| (.+?) \|$", README, flags=re.MULTILINE))
    assert rows == {str(int(code)): meaning for code, meaning in MEANINGS.items()}


def test_readme_settings_table_names_every_variable_of_the_settings_docstring() -> None:
    documented = set(re.findall(r"\[(GZ_[A-Z_]+)\]", Settings.__doc__ or ""))
    listed = set(re.findall(r"^\| `(GZ_[A-Z_]+)` \|", README, flags=re.MULTILINE))
    assert documented and documented <= listed

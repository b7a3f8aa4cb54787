"""core.paths.confine: a path typed into a page resolves under the allowed roots, or is refused."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from core.config import REPO_ROOT
from core.paths import PathNotAllowed, allowed_roots, confine


def test_workspace_data_and_models_are_allowed(isolated_home: Path) -> None:
    inside = isolated_home / "images" / "set1"
    assert confine(str(inside), "Image folder") == inside.resolve()
    assert confine("data/sample", "Labels") == (REPO_ROOT / "data" / "sample").resolve()  # relative to the repo
    assert (REPO_ROOT / "models").resolve() in allowed_roots()


@pytest.mark.parametrize("typed", ["/etc", "/etc/shadow", "/proc/self/environ", "~", "data/../..", "/"])
def test_outside_paths_are_refused_with_the_field_and_the_path_as_typed(typed: str) -> None:
    with pytest.raises(PathNotAllowed) as refused:
        confine(typed, "Labels CSV path")
    message = str(refused.value)
    assert message.startswith("Labels CSV path: ") and repr(typed) in message and "GZ_ALLOWED_ROOTS" in message


def test_a_symlink_out_of_the_workspace_is_refused(isolated_home: Path, tmp_path: Path) -> None:
    secret = tmp_path / "outside"
    secret.mkdir()
    (secret / "key.txt").write_text("TOPSECRET")
    isolated_home.mkdir(parents=True, exist_ok=True)
    (isolated_home / "link").symlink_to(secret)
    with pytest.raises(PathNotAllowed) as refused:
        confine(str(isolated_home / "link" / "key.txt"), "Labels CSV path")
    assert "TOPSECRET" not in str(refused.value)


def test_extra_roots_and_public_mode(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    extra = tmp_path / "shared"
    extra.mkdir()
    monkeypatch.setenv("GZ_ALLOWED_ROOTS", os.pathsep.join([str(extra), str(tmp_path / "more")]))
    assert confine(str(extra / "x.csv"), "Labels") == (extra / "x.csv").resolve()
    monkeypatch.setenv("GZ_MODE", "public")
    with pytest.raises(PathNotAllowed, match="turned off in the public mode"):
        confine(str(extra / "x.csv"), "Labels")


def test_empty_or_nul_paths_are_refused() -> None:
    for typed in ("", "   ", "data/\x00x"):
        with pytest.raises(PathNotAllowed, match="give a folder or file path"):
            confine(typed, "Image folder")

"""core.config: one place for paths and defaults, each overridable by an environment variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.config import REPO_ROOT, get_settings


def test_defaults_live_in_the_repo_and_home(monkeypatch, tmp_path):
    for name in ("GZ_HOME", "GZ_MODELS_DIR", "GZ_SHIPPED_MODELS_DIR", "GZ_IMAGES_DIR", "GZ_TORCH_THREADS"):
        monkeypatch.delenv(name, raising=False)
    s = get_settings()
    assert s.home == REPO_ROOT / "var"
    assert s.images_dir == s.home / "images" and s.cache_dir == s.home / "cache"
    # your runs live in the workspace; the repository's models/ holds only the shipped, read-only runs
    assert s.models_dir == s.home / "runs" and s.shipped_models_dir == REPO_ROOT / "models"
    assert s.run_folders == (s.models_dir, s.shipped_models_dir)
    assert s.is_shipped(REPO_ROOT / "models" / "demo") and not s.is_shipped(s.models_dir / "demo")
    assert s.sample_catalog.is_file() and s.demo_dir.is_dir()
    assert s.download_workers == 4 and 1 <= s.torch_threads <= 8


def test_every_path_follows_its_variable(monkeypatch, tmp_path):
    monkeypatch.setenv("GZ_HOME", str(tmp_path / "h"))
    monkeypatch.setenv("GZ_IMAGES_DIR", str(tmp_path / "img"))
    monkeypatch.setenv("GZ_MODELS_DIR", str(tmp_path / "m"))
    monkeypatch.setenv("GZ_SHIPPED_MODELS_DIR", str(tmp_path / "shipped"))
    monkeypatch.setenv("GZ_CUTOUT_BASE_URL", "http://127.0.0.1:1/x")
    monkeypatch.setenv("GZ_DOWNLOAD_WORKERS", "2")
    s = get_settings().ensure_dirs()
    assert s.home == tmp_path / "h" and s.cache_dir == tmp_path / "h" / "cache"
    assert s.images_dir == tmp_path / "img" and s.models_dir == tmp_path / "m"
    assert all(Path(p).is_dir() for p in (s.home, s.images_dir, s.models_dir, s.cache_dir, s.catalogs_dir))
    assert s.cutout_base_url == "http://127.0.0.1:1/x" and s.download_workers == 2
    assert s.as_dict()["models_dir"] == str(tmp_path / "m")
    assert s.shipped_models_dir == tmp_path / "shipped" and not s.shipped_models_dir.exists()  # never created


def test_a_bad_number_names_the_variable(monkeypatch):
    monkeypatch.setenv("GZ_TORCH_THREADS", "many")
    with pytest.raises(ValueError, match="GZ_TORCH_THREADS"):
        get_settings()


def test_mode_and_catalogue_cap(monkeypatch):
    assert get_settings().mode == "local" and not get_settings().public
    monkeypatch.setenv("GZ_MODE", " Public ")
    assert get_settings().public and get_settings().max_catalog_mb == 50
    monkeypatch.setenv("GZ_MAX_CATALOG_MB", "7")
    assert get_settings().max_catalog_bytes == 7 * 2**20
    monkeypatch.setenv("GZ_MODE", "open")
    with pytest.raises(ValueError, match="GZ_MODE must be one of local, public"):
        get_settings()

"""Votes fixtures: ``votes_url`` runs each database test on SQLite and on a real PostgreSQL server.

The PostgreSQL server is started once per test session (tests/support/postgres.py) and each
test gets its own new database on it; where no server can be started, the PostgreSQL
variants skip and say why.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.config import REPO_ROOT
from tests.support.postgres import PostgresServer, start_server

_db_numbers = itertools.count()


@pytest.fixture(autouse=True)
def shipped_demo_model(monkeypatch: pytest.MonkeyPatch) -> None:
    """Votes reveal the default model's answer: the repository's shipped demo model."""
    monkeypatch.setenv("GZ_SHIPPED_MODELS_DIR", str(REPO_ROOT / "models"))


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer | None]:
    server, why = start_server()
    if server is None:
        pytest.skip(f"PostgreSQL tests skipped: {why}")
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def votes_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty votes database URL on each backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'votes.sqlite'}"
    server = request.getfixturevalue("postgres_server")
    return server.create_database(f"votes_test_{next(_db_numbers)}")

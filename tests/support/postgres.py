"""A throw-away PostgreSQL server for the votes tests: initdb in a temporary folder, a free port.

Debian's ``postgresql`` package (installed by ``make test`` when missing) provides the
binaries under ``/usr/lib/postgresql/<version>/bin``. PostgreSQL refuses to run as root,
so as root the server runs as the ``postgres`` user (``runuser``) with the data folder
owned by it. :func:`start_server` returns None and a reason when any of this is impossible,
so callers can skip with that reason.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path


@dataclass
class PostgresServer:
    """A running server: ``port`` on 127.0.0.1, superuser ``postgres`` without a password."""

    bin_dir: Path
    data_dir: Path
    port: int
    run_as: str | None

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def _cmd(self, *args: str) -> list[str]:
        return (["runuser", "-u", self.run_as, "--"] if self.run_as else []) + list(args)

    def stop(self) -> None:
        subprocess.run(self._cmd(str(self.bin_dir / "pg_ctl"), "-D", str(self.data_dir), "-m", "immediate",
                                 "-w", "stop"), capture_output=True, timeout=60)
        shutil.rmtree(self.data_dir.parent, ignore_errors=True)

    def create_database(self, name: str) -> str:
        """Create database ``name`` (letters, digits, underscore) and return its SQLAlchemy URL."""
        import sqlalchemy as sa

        engine = sa.create_engine(self.url(), isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        engine.dispose()
        return self.url(name)


def find_bin_dir() -> Path | None:
    """Folder with initdb and pg_ctl: Debian's newest version, else whatever is on PATH."""
    for folder in sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name), reverse=True):
        if (Path(folder) / "initdb").exists() and (Path(folder) / "pg_ctl").exists():
            return Path(folder)
    initdb = shutil.which("initdb")
    return Path(initdb).resolve().parent if initdb and shutil.which("pg_ctl") else None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server() -> tuple[PostgresServer | None, str]:
    """Start a server; (server, "") on success, (None, why not) otherwise."""
    bin_dir = find_bin_dir()
    if bin_dir is None:
        return None, "PostgreSQL is not installed (no initdb/pg_ctl; `make test` installs Debian's postgresql)"
    run_as = None
    root = Path(tempfile.mkdtemp(prefix="gz-votes-pg-"))
    if os.geteuid() == 0:
        run_as = "postgres"
        try:
            shutil.chown(root, user=run_as, group=None)
        except (LookupError, PermissionError) as exc:
            return None, f"running as root and cannot hand the data folder to user 'postgres' ({exc})"
    server = PostgresServer(bin_dir, root / "data", free_port(), run_as)
    steps = [
        server._cmd(str(bin_dir / "initdb"), "-D", str(server.data_dir), "-U", "postgres", "-A", "trust",
                    "--no-sync", "-E", "UTF8"),
        server._cmd(str(bin_dir / "pg_ctl"), "-D", str(server.data_dir), "-l", str(root / "server.log"), "-w",
                    "-t", "60", "-o", f"-p {server.port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off",
                    "start"),
    ]
    for cmd in steps:
        program = Path(cmd[0] if run_as is None else cmd[3]).name
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        except (OSError, subprocess.TimeoutExpired) as exc:
            server.stop()
            return None, f"{program} could not run: {exc}"
        if done.returncode != 0:
            tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
            server.stop()
            return None, f"{program} failed: {tail[0][:200]}"
    return server, ""

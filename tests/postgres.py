"""Pytest fixtures ``postgres_server`` (a real, throwaway PostgreSQL for the test session) and ``postgres_url``
(a fresh database on it for one test), registered in tests/conftest.py.

Debian's ``postgresql`` package (installed by scripts/test.sh) puts ``initdb`` and ``pg_ctl`` in
``/usr/lib/postgresql/<version>/bin``. The server refuses to run as root, so as root (CI) they run as the
``postgres`` user. If PostgreSQL cannot be found or started the fixture fails with the reason: the SQL store's
PostgreSQL path must be proven, never skipped.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from itertools import count
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

SERVER_GLOB = "/usr/lib/postgresql/*/bin"


def server_bin() -> Path:
    """The newest installed PostgreSQL's bin folder (initdb, pg_ctl)."""
    found = sorted(glob.glob(SERVER_GLOB), key=lambda path: int(Path(path).parent.name.split(".")[0]))
    found = [path for path in found if os.access(Path(path) / "initdb", os.X_OK)]
    if not found:
        pytest.fail(f"PostgreSQL is not installed (no initdb in {SERVER_GLOB}): run scripts/test.sh, which "
                    "installs Debian's postgresql package", pytrace=False)
    return Path(found[-1])


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class PostgresServer:
    """One PostgreSQL cluster in a temporary folder, on a loopback port, trusting local connections."""

    def __init__(self, max_connections: int = 200) -> None:
        """``max_connections``: the server's limit (bench/scale.py's 60 actors each keep a connection pool)."""
        self.bin = server_bin()
        self.max_connections = max_connections
        self.folder = Path(tempfile.mkdtemp(prefix="pg-test-"))  # not under pytest's root-only tmp folders
        self.data, self.sockets = self.folder / "data", self.folder / "sockets"
        self.sockets.mkdir()
        self.port = free_port()
        self.as_root = os.geteuid() == 0
        if self.as_root:  # the server refuses to run as root
            shutil.chown(self.folder, "postgres")
            shutil.chown(self.sockets, "postgres")
        self._names = count()

    def _as_server_user(self, *command: str) -> subprocess.CompletedProcess[str]:
        prefix = ["runuser", "-u", "postgres", "--"] if self.as_root else []
        return subprocess.run([*prefix, *command], check=False, capture_output=True, text=True, timeout=120)

    def _run(self, *command: str) -> None:
        done = self._as_server_user(*command)
        if done.returncode != 0:
            log = self.folder / "server.log"
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            pytest.fail(f"PostgreSQL did not start: {' '.join(command)} exited with {done.returncode}:\n"
                        f"{done.stdout}{done.stderr}{tail}", pytrace=False)

    def start(self) -> None:
        self._run(str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust", "-E", "UTF8",
                  "--no-sync")
        options = (f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.sockets} -c fsync=off "
                   f"-c synchronous_commit=off -c full_page_writes=off -c max_connections={self.max_connections}")
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-o", options, "-l",
                  str(self.folder / "server.log"), "-w", "-t", "60", "start")

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self._as_server_user(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.folder, ignore_errors=True)

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def new_database(self, *, log_statements: bool = False) -> str:
        """A fresh, empty database; its SQLAlchemy URL. ``log_statements``: the server log records every statement
        run on it, with its parameters (see :meth:`parameters_logged`)."""
        name = f"test_{next(self._names)}"
        with psycopg.connect(host="127.0.0.1", port=self.port, user="postgres", dbname="postgres",
                             autocommit=True) as connection:
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            if log_statements:
                connection.execute(sql.SQL("ALTER DATABASE {} SET log_statement = 'all'").format(sql.Identifier(name)))
        return self.url(name)

    def parameters_logged(self, value: str) -> int:
        """How many logged statements were run with the text parameter ``value`` so far."""
        log = (self.folder / "server.log").read_text(errors="replace")
        return sum(line.endswith(f"= '{value}'") or f"= '{value}'," in line
                   for line in log.splitlines() if "parameters:" in line)


@pytest.fixture(scope="session", name="postgres_server")
def postgres_server_fixture() -> Iterator[PostgresServer]:
    server = PostgresServer()
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture(name="postgres_url")
def postgres_url_fixture(postgres_server: PostgresServer) -> str:
    """A ``postgresql+psycopg://`` URL of an empty database of its own for one test."""
    return postgres_server.new_database()

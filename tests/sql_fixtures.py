"""Pytest fixture ``sql_url``: a fresh database for the SQL store, once on SQLite (a file in the test's folder)
and once on the real PostgreSQL of ``tests/postgres.py``; registered in tests/conftest.py.

Open as many ``SqlStore(sql_url)`` on it as a test needs: each is one replica or worker process with its own
connections and its own snapshot cache."""

from __future__ import annotations

import pytest


@pytest.fixture(name="sql_url", params=["sqlite", "postgresql"])
def sql_url_fixture(request: pytest.FixtureRequest, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'live.sqlite3'}"
    return request.getfixturevalue("postgres_url")

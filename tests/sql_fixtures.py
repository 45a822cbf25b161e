"""Pytest fixtures, registered in tests/conftest.py: ``sql_url``, a fresh database for the SQL store, once on
SQLite (a file in the test's folder) and once on the real PostgreSQL of ``tests/postgres.py``; and
``sql_rows_parsed``, how many stored rows the SQL stores parse while the test runs.

Open as many ``SqlStore(sql_url)`` on it as a test needs: each is one replica or worker process with its own
connections and its own snapshot cache."""

from __future__ import annotations

from collections import Counter

import pytest

import store.sql as sql_module
from store.base import Record


@pytest.fixture(name="sql_url", params=["sqlite", "postgresql"])
def sql_url_fixture(request: pytest.FixtureRequest, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'live.sqlite3'}"
    return request.getfixturevalue("postgres_url")


@pytest.fixture(name="sql_rows_parsed")
def sql_rows_parsed_fixture(monkeypatch) -> Counter:
    """``["rows"]``: the stored bodies the SQL stores have parsed (every row a read hands on goes through the
    record contract's ``read_record`` there), counted as they run; ``clear()`` to start again."""
    count: Counter = Counter()
    read_record = sql_module.read_record

    def counting(collection: str, record_id: str, content: bytes) -> Record:
        count["rows"] += 1
        return read_record(collection, record_id, content)

    monkeypatch.setattr(sql_module, "read_record", counting)
    return count

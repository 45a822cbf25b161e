"""Look-ups that read one record's or one board's rows instead of a whole collection: a published row's re-checks
(through the requests that name it) and the arena's entries of a board, on SQLite and a real PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from arena.service import ArenaService
from leaderboard.details import rechecks_of
from store.base import LocalStore, Record
from store.routed import RoutedStore
from store.sql import SqlStore
from store.states import FINISHED, PENDING

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
ROW = "published-general_nlp-alpha"
STORED = 5_000


def finished_request(n: int, **extra) -> Record:
    return {"id": f"req-{n:05d}", "challenge": "general_nlp", "state": FINISHED, "result_id": f"result-{n:05d}",
            "submitted_at": (NOW - timedelta(minutes=n)).isoformat(), **extra}


def result(n: int, challenge: str = "general_nlp", **extra) -> Record:
    return {"id": f"result-{n:05d}", "challenge": challenge, "source": "evaluated", "team": f"team {n}",
            "average": 50.0 + n % 40, "scores": {}, "date": "2026-03-01", "model_repo": f"org/adapter-{n}",
            "model_commit": "a" * 40, "base_model": "org/base", "base_commit": "b" * 40, **extra}


def test_the_rechecks_of_a_row_are_found_through_the_requests_naming_it(sql_url, sql_rows_parsed, tmp_path):
    files = LocalStore(tmp_path)
    store = RoutedStore({"requests": SqlStore(sql_url)}, default=files)
    store.put_missing("requests", [finished_request(n) for n in range(STORED)] + [
        finished_request(STORED, rechecks=ROW),
        {**finished_request(STORED + 1, rechecks=ROW), "state": PENDING, "result_id": None}])
    files.put("results", result(STORED, rechecks=ROW))
    sql_rows_parsed.clear()
    found = rechecks_of(store, {"id": ROW, "challenge": "general_nlp"})
    assert [record["id"] for record in found] == [f"result-{STORED:05d}"]
    assert sql_rows_parsed["rows"] == 2  # the two requests naming the row, of 5,002


def test_the_arena_reads_only_the_board_it_shows(sql_url, sql_rows_parsed, tmp_path):
    results = SqlStore(sql_url, collections=("results",))
    store = RoutedStore({"results": results}, default=LocalStore(tmp_path))
    store.put_missing("results", [result(n, challenge="finance" if n % 100 else "general_nlp")
                                  for n in range(STORED)])
    sql_rows_parsed.clear()
    service = ArenaService(store, stream=lambda *args: iter(()))  # answers nothing: only the entries are read
    entries = service.entries("general_nlp")
    assert len(entries) == STORED // 100 and sql_rows_parsed["rows"] == STORED // 100

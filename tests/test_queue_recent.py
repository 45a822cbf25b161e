"""The Queue tab and ``read_queue`` list every pending and running request and the latest submitted, read with
indexed queries (``Store.newest`` / ``Store.select``): at 100k requests a Queue poll from each of a hundred tabs
must not read the whole requests table. Runs on SQLite and on a real PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from store.sql import SqlStore
from submissions import queue_view
from submissions.api import queue_api
from submissions.queue_view import queue_page

START = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


class NoWholeReads(SqlStore):
    def all(self, collection):
        raise AssertionError(f"read the whole {collection} collection")


def request(n: int, state: str, minutes: int) -> dict:
    return {"id": f"q{n:03d}", "state": state, "challenge": "finance", "team": f"Team {n}", "team_key": f"team {n}",
            "repo_id": f"team{n}/adapter", "commit": "c" * 40, "attempts": 0,
            "submitted_at": (START + timedelta(minutes=minutes)).isoformat()}


def test_newest_orders_by_the_field_latest_first_with_missing_values_last(sql_url) -> None:
    store = SqlStore(sql_url)
    store.put_missing("requests", [request(1, "FINISHED", 5), request(2, "FINISHED", 1), request(3, "FINISHED", 9),
                                   {**request(4, "FINISHED", 3), "heartbeat_at": (START + timedelta(hours=2)).isoformat()}])
    assert [r["id"] for r in store.newest("requests", "submitted_at", 3)] == ["q003", "q001", "q004"]
    assert [r["id"] for r in store.newest("requests", "heartbeat_at", 2)] == ["q004", "q003"]  # no beat: last


def test_the_queue_lists_every_live_request_and_the_latest_without_reading_them_all(sql_url, monkeypatch) -> None:
    monkeypatch.setattr(queue_view, "RECENT_SHOWN", 5)
    store = NoWholeReads(sql_url)
    old_pending, old_running = request(0, "PENDING", 0), {**request(1, "RUNNING", 1), "worker": "gpu-1"}
    finished = [request(n, "FINISHED", n) for n in range(2, 40)]
    store.put_missing("requests", [old_pending, old_running, *finished])
    page = queue_page(store)
    listed = [row.split('"')[0] for row in page.split('data-id="')[1:]]
    assert listed == ["q039", "q038", "q037", "q036", "q035", "q001", "q000"]  # newest first, live ones kept
    assert "position 1" in page and "the 5 latest submitted" in page
    answer = queue_api(store)(challenge="finance", page=1, page_size=50)
    assert [row["id"] for row in answer["rows"]] == listed and "older requests" in answer["notice"]
    monkeypatch.setattr(queue_view, "RECENT_SHOWN", 100)
    assert "latest submitted" not in queue_page(store)  # nothing left out: no note


def test_newest_walks_an_index_instead_of_sorting_the_table(postgres_url) -> None:
    """A Queue poll from each open tab runs ``newest``: on PostgreSQL a DESC NULLS LAST order cannot come from the
    ascending index, so every poll sorted the whole requests table (1,205 of 1,712 CPU seconds of the bench's busy
    hour). With sorting priced out, every statement ``newest`` runs must still plan without a Sort node."""
    from sqlalchemy import event, text

    store = SqlStore(postgres_url)
    store.put_missing("requests", [request(n, "FINISHED", n) for n in range(50)])
    statements: list[tuple[str, object]] = []

    def capture(conn, cursor, statement, parameters, context, executemany) -> None:  # noqa: ANN001
        if "ORDER BY" in statement:
            statements.append((statement, parameters))

    event.listen(store.engine, "before_cursor_execute", capture)
    try:
        assert [r["id"] for r in store.newest("requests", "submitted_at", 3)] == ["q049", "q048", "q047"]
    finally:
        event.remove(store.engine, "before_cursor_execute", capture)
    assert statements
    with store.engine.connect() as connection:
        connection.execute(text("SET enable_sort = off"))
        cursor = connection.connection.cursor()
        for statement, parameters in statements:
            cursor.execute("EXPLAIN " + statement, parameters)
            plan = "\n".join(row[0] for row in cursor.fetchall())
            assert "Sort" not in plan.replace("Sort Key", ""), plan

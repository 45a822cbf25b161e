"""The submission check at scale: ``queue_request`` (scoped to the team's, account's, repo's and PENDING
requests, ``Store.transact_where``) against the check over every stored request (``Store.transact``, the
decision ``queue_request`` made before it was scoped), on one SQL store holding ``--requests`` requests.

Both paths run in the same process on the same database, alternating, after one warm-up each (the full path's
first call reads the whole table into the store's snapshot cache; later calls read only new rows and walk the
cached ones in Python). Also times the upgrade of a table made before the scope columns (``--upgrade``):
the columns are dropped, then one open adds and fills them again.

    .venv/bin/python bench/submit_check.py                       # SQLite, 100k requests
    .venv/bin/python bench/submit_check.py --postgres --upgrade  # a throwaway PostgreSQL (tests/postgres.py)
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from challenges.definitions import Challenge, challenges
from store.base import Record
from store.sql import SqlStore
from store.sql_schema import SCOPE_FIELDS, records
from store.states import FINISHED, PENDING
from submissions.rules import check_rate_limit, find_duplicate
from submissions.service import Outcome, queue_position, queue_request, request_record

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
T = TypeVar("T")


def stored_requests(count: int) -> list[Record]:
    """``count`` requests of 5 per team over the last 30 days, every 500th PENDING."""
    return [{"id": f"seed-{i:06d}", "challenge": "general_nlp", "team": f"Team {i // 5}", "team_key": f"team {i // 5}",
             "account": f"account-{i // 5}", "repo_id": f"org/adapter-{i}", "commit": f"{i:040x}", "attempts": 0,
             "state": PENDING if i % 500 == 0 else FINISHED,
             "submitted_at": (NOW - timedelta(minutes=1 + i % 43200)).isoformat()} for i in range(count)]


def new_request(challenge: Challenge, n: int) -> Record:
    """Submitted ``n`` seconds after the seeded ones, so each is queued behind the one before."""
    return request_record(challenge, NOW + timedelta(seconds=n), team=f"Bench {n}", account=f"bench-{n}", description="", kind="adapter",
                          repo_id=f"bench/adapter-{n}", revision="main", commit=f"{n:040x}")


def full_snapshot_check(store: SqlStore, challenge: Challenge, request: Record) -> Outcome:
    """The decision over every stored request, as ``queue_request`` made it before it was scoped."""

    def decide(snapshot: dict[str, Record]) -> tuple[list[Record], Outcome]:
        existing = list(snapshot.values())
        duplicate = find_duplicate(existing, challenge.id, request["repo_id"], request["commit"])
        if duplicate:
            return [], Outcome("duplicate", request=duplicate, position=queue_position(existing, duplicate["id"]))
        limited = check_rate_limit(challenge, existing, request["team"], request["account"], NOW)
        if limited:
            return [], Outcome("refused", limited)
        return [request], Outcome("queued", request=request, position=queue_position([*existing, request], request["id"]))

    return store.transact("requests", decide)


def timed(call: Callable[[], T]) -> tuple[float, T]:
    started = time.perf_counter()
    outcome = call()
    return time.perf_counter() - started, outcome


def drop_scope_columns(store: SqlStore) -> None:
    """Make the table look as the version before the scope columns left it."""
    with store.engine.begin() as connection:
        for index in records.indexes:
            if set(index.columns.keys()) & set(SCOPE_FIELDS):
                connection.exec_driver_sql(f"DROP INDEX {index.name}")
        for name in SCOPE_FIELDS:
            connection.exec_driver_sql(f"ALTER TABLE records DROP COLUMN {name}")


def run(url: str, count: int, submissions: int, upgrade: bool) -> None:
    started = time.perf_counter()
    store = SqlStore(url)
    store.put_missing("requests", stored_requests(count))
    print(f"seeded {count} requests in {time.perf_counter() - started:.1f} s ({store.engine.dialect.name})")
    if upgrade:
        drop_scope_columns(store)
        seconds, _ = timed(lambda: SqlStore(url))
        print(f"upgrade: an open adding and filling {len(SCOPE_FIELDS)} columns over {count} rows took {seconds:.1f} s")
    challenge = challenges()["general_nlp"]
    full, scoped = SqlStore(url), SqlStore(url)  # two replicas, so neither path warms the other's cache
    timed(lambda: full_snapshot_check(full, challenge, new_request(challenge, -1)))  # warm-up: reads the table
    timed(lambda: queue_request(scoped, challenge, new_request(challenge, -2), "", NOW))
    times: dict[str, list[float]] = {"full": [], "scoped": []}
    for n in range(submissions):
        request = new_request(challenge, 2 * n)
        seconds, expected = timed(lambda request=request: full_snapshot_check(full, challenge, request))
        times["full"].append(seconds)
        request = new_request(challenge, 2 * n + 1)
        seconds, outcome = timed(lambda request=request: queue_request(scoped, challenge, request, "", NOW))
        times["scoped"].append(seconds)
        assert (outcome.status, outcome.position) == (expected.status, expected.position + 1), (outcome, expected)
    for path, values in times.items():
        ordered = sorted(values)
        print(f"{path:>6}: median {statistics.median(values) * 1000:8.2f} ms, "
              f"p95 {ordered[int(0.95 * (len(ordered) - 1))] * 1000:8.2f} ms per submission")
    print(f"ratio full / scoped (medians): {statistics.median(times['full']) / statistics.median(times['scoped']):.0f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--submissions", type=int, default=30)
    parser.add_argument("--postgres", action="store_true", help="a throwaway PostgreSQL instead of a SQLite file")
    parser.add_argument("--upgrade", action="store_true", help="also time the upgrade of a table without the columns")
    args = parser.parse_args()
    if not args.postgres:
        with tempfile.TemporaryDirectory() as folder:
            run(f"sqlite:///{folder}/live.sqlite3", args.requests, args.submissions, args.upgrade)
        return
    from tests.postgres import PostgresServer

    server = PostgresServer()
    server.start()
    try:
        run(server.new_database(), args.requests, args.submissions, args.upgrade)
    finally:
        server.stop()


if __name__ == "__main__":
    main()

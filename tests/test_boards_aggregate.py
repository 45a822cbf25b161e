"""The boards job (leaderboard/aggregate.py): reads at a pinned results head, carries a first build over several
runs within its fetch budget, and two replicas running it at once write each aggregate once."""

from __future__ import annotations

import threading
import time

import pytest

from challenges.definitions import challenges
from leaderboard.aggregate import refresh_boards, refresh_interval_s
from leaderboard.boards import Boards
from store.aggregates import BOARDS
from store.base import LocalStore
from store.hub import HubStore
from tests.board_records import finish, result
from tests.hub_server import Fault, HubServer

REPOS = {name: f"org/{name}" for name in ("requests", "results", "boards")}


@pytest.fixture
def hub(hub_server: HubServer) -> HubServer:
    for repo in REPOS.values():
        hub_server.add_dataset(repo)
    return hub_server


def hub_store(hub: HubServer) -> HubStore:
    return HubStore(REPOS, token=HubServer.token, endpoint=hub.url, backoff_s=0.005, max_backoff_s=0.05)


def rows(store, challenge: str = "general_nlp") -> list[str]:
    return [row["id"] for row in store.get(BOARDS, challenge)["rows"] if row.get("source") != "published"]


def test_a_first_build_stays_within_its_fetch_budget_and_carries_on(tmp_path):
    store = LocalStore(tmp_path)
    for n in range(5):
        finish(store, result(f"r{n}", f"Team {n}", 50.0 + n))
    done = refresh_boards(store, max_fetch=3)
    assert done.pending == 2 and rows(store) == ["r0", "r1", "r2"]
    assert refresh_boards(store, max_fetch=3).pending == 0 and rows(store) == ["r0", "r1", "r2", "r3", "r4"]
    assert refresh_boards(store).written == ()


class CountingWholeReads(LocalStore):
    """Counts the reads of every request (a SQL store answers ``newest`` from an index; a folder, which has
    none, sorts them all, which is not counted)."""

    def __init__(self, root):
        super().__init__(root)
        self.whole_reads, self._indexed = 0, False

    def all(self, collection):
        self.whole_reads += collection == "requests" and not self._indexed
        return super().all(collection)

    def newest(self, collection, field, limit):
        self._indexed = True
        try:
            return super().newest(collection, field, limit)
        finally:
            self._indexed = False


def test_only_a_first_build_or_its_backlog_reads_every_request(tmp_path, monkeypatch):
    """At 100k requests a run every five minutes in every replica must not read them all: once every challenge
    has an aggregate and nothing is left over, a run looks among the latest active requests only."""
    monkeypatch.setattr("leaderboard.aggregate.RECENT_REQUESTS", 2)
    store = CountingWholeReads(tmp_path)
    for n in range(5):
        finish(store, {**result(f"r{n}", f"Team {n}", 50.0 + n), "request_id": f"q{n}"})
    assert refresh_boards(store, max_fetch=3).pending == 2 and store.whole_reads == 1  # a first build
    assert store.get(BOARDS, "finance")["backlog"] == 2  # every aggregate says a backlog is left
    assert refresh_boards(store, max_fetch=3).pending == 0 and store.whole_reads == 2  # so it reads all again
    assert rows(store) == ["r0", "r1", "r2", "r3", "r4"] and store.get(BOARDS, "finance")["backlog"] == 0
    finish(store, {**result("r5", "Team 5", 60.0), "request_id": "q5"})
    store.put("requests", {**store.get("requests", "q5"), "heartbeat_at": "2026-01-14T10:00:00+00:00"})
    assert refresh_boards(store).written == ("general_nlp",) and store.whole_reads == 2  # the latest only
    assert rows(store)[-1] == "r5"


def test_results_are_read_at_the_pinned_head(hub):
    """A result committed after the run pinned the results head waits for the next run, so an aggregate holds
    exactly what its ``results_version`` holds."""
    store, worker = hub_store(hub), hub_store(hub)
    finish(store, result("early", "Early", 40.0))
    pinned = store.version("results")
    hub.inject(Fault(path="/api/datasets/org/requests/refs", status=None, delay_s=0.5))  # the job reads slowly
    job = threading.Thread(target=refresh_boards, args=(store,))
    job.start()
    time.sleep(0.2)  # the job has pinned the results head and is reading the requests
    finish(worker, result("late", "Late", 60.0))
    job.join()
    assert rows(store) == ["early"] and store.get(BOARDS, "general_nlp")["results_version"] == pinned
    refresh_boards(store)
    assert rows(store) == ["early", "late"]


def test_two_replicas_racing_write_each_aggregate_once(hub):
    """Both read the same aggregates; the slower one's commit loses (412), it reads again, sees the newer
    ``built_at`` and writes nothing."""
    first, second = hub_store(hub), hub_store(hub)
    finish(first, result("r1", "One", 50.0))
    before = hub.commit_count("org/boards", "dataset")
    hub.inject(Fault(path="/api/datasets/org/boards/preupload/", status=None, delay_s=0.6))  # the slow replica
    done = {}
    slow = threading.Thread(target=lambda: done.update(slow=refresh_boards(first)))
    slow.start()
    time.sleep(0.3)
    done["fast"] = refresh_boards(second)
    slow.join()
    assert set(done["fast"].written) == set(challenges()) and done["slow"].written == ()
    assert hub.commit_count("org/boards", "dataset") == before + 1 and hub.rejected_commits == 1
    assert rows(first) == ["r1"]


@pytest.mark.parametrize("value", ["0", "-5", "soon", "nan"])
def test_a_bad_refresh_interval_is_refused_naming_the_setting(value):
    with pytest.raises(ValueError, match="BOARDS_REFRESH_S must be a positive number of seconds"):
        refresh_interval_s({"BOARDS_REFRESH_S": value})
    assert refresh_interval_s({}) == 300 and refresh_interval_s({"BOARDS_REFRESH_S": "60"}) == 60


def test_an_aggregate_that_does_not_fit_is_set_aside_and_never_overwritten(tmp_path):
    store = LocalStore(tmp_path)
    finish(store, result("r1", "One", 50.0))
    (tmp_path / "boards" / "general_nlp.json").write_text('{"id": "general_nlp", "rows": 5}', encoding="utf-8")
    done = refresh_boards(store)
    assert "general_nlp" not in done.written and set(done.written) == set(challenges()) - {"general_nlp"}
    assert (tmp_path / "boards" / "general_nlp.json").read_text(encoding="utf-8") == \
        '{"id": "general_nlp", "rows": 5}'
    assert any(item.path == "boards/general_nlp.json" and "'rows' must be a list" in item.reason
               for item in store.quarantined())
    assert not Boards(store).frame("finance").empty  # the other boards still show


def test_one_replica_at_a_time_runs_the_job_on_a_shared_queue_database(sql_url, tmp_path, monkeypatch):
    from leaderboard import aggregate
    from store.routed import RoutedStore
    from store.sql import SqlStore

    replicas = [RoutedStore({"requests": SqlStore(sql_url)}, default=LocalStore(tmp_path)) for _ in range(2)]
    clock = [1000.0]
    monkeypatch.setattr(aggregate.time, "time", lambda: clock[0])
    assert aggregate.holds_the_job(replicas[0], "replica-a", 900.0)
    assert not aggregate.holds_the_job(replicas[1], "replica-b", 900.0)  # a's lease is live
    clock[0] += 600
    assert aggregate.holds_the_job(replicas[0], "replica-a", 900.0)  # renewed by its holder
    clock[0] += 901  # a died: its lease expired
    assert aggregate.holds_the_job(replicas[1], "replica-b", 900.0)
    assert not aggregate.holds_the_job(replicas[0], "replica-a", 900.0)
    assert aggregate.holds_the_job(LocalStore(tmp_path / "one-machine"), "anyone", 900.0)  # no SQL: always

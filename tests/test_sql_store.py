"""The Store contract on the SQL store, against SQLite and a real PostgreSQL: reads, writes, transactions,
removals, versions, set-aside rows, incremental snapshots across replicas, and the row-level queue paths."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from store.base import StoreError
from store.sql import SqlStore
from store.sql_schema import records

REQUEST = {"id": "r1", "submitted_at": "2026-03-10T10:00:00+00:00", "state": "PENDING", "team": "a"}


def corrupt(store: SqlStore, record_id: str, body: str, bump: bool = True) -> None:
    """Write a body straight into the table, as an operator's hand edit would (with or without a new seq)."""
    values = {"body": body, "seq": records.c.seq + 1000} if bump else {"body": body}
    with store.engine.begin() as connection:
        connection.execute(update(records).where(records.c.id == record_id).values(**values))


def test_round_trip_versions_and_removals(sql_url):
    store = SqlStore(sql_url)
    empty = store.version("requests")
    store.put("requests", REQUEST)
    assert store.get("requests", "r1") == REQUEST and store.all("requests") == [REQUEST]
    after_put = store.version("requests")
    assert after_put != empty and store.version("votes") == empty  # collections version apart
    store.put("requests", {**REQUEST, "team": "b"})
    assert store.get("requests", "r1")["team"] == "b" and store.version("requests") != after_put
    store.rewrite("requests", lambda snapshot: ([], ["r1", "not-stored"], None))
    assert store.get("requests", "r1") is None and store.all("requests") == []
    store.put("requests", REQUEST)  # a removed id can be written again
    assert store.all("requests") == [REQUEST]


def test_transact_hands_back_the_value_and_a_refused_write_changes_nothing(sql_url):
    store = SqlStore(sql_url)
    assert store.transact("requests", lambda snapshot: ([REQUEST], len(snapshot))) == 0
    before = store.version("requests")
    with pytest.raises(StoreError, match="record contract"):  # the second record is checked before any write
        store.transact("requests", lambda _: ([{**REQUEST, "id": "r2"}, {"id": "r3"}], None))
    with pytest.raises(StoreError, match="safe file name"):
        store.transact("requests", lambda _: ([{**REQUEST, "id": "../x"}], None))
    assert store.version("requests") == before and [r["id"] for r in store.all("requests")] == ["r1"]
    with pytest.raises(StoreError, match="unknown collection"):
        store.put("results", {"id": "x", "challenge": "c"})  # served elsewhere
    with pytest.raises(StoreError, match="unknown collection"):
        store.all("results")
    assert store.serves("votes") and not store.serves("results")


def test_put_missing_writes_only_new_ids(sql_url):
    store = SqlStore(sql_url)
    store.put("requests", REQUEST)
    assert store.put_missing("requests", [{**REQUEST, "team": "changed"}, {**REQUEST, "id": "r2"}]) == 1
    assert store.get("requests", "r1")["team"] == "a" and store.get("requests", "r2") is not None


def test_an_unreadable_row_is_set_aside_listed_and_never_overwritten(sql_url):
    store = SqlStore(sql_url)
    store.put_missing("requests", [REQUEST, {**REQUEST, "id": "r2"}])
    corrupt(store, "r2", '{"id": "r2", "state": 5')
    assert [r["id"] for r in store.all("requests")] == ["r1"] and store.get("requests", "r2") is None
    [aside] = store.quarantined()
    assert aside.record_id == "r2" and "not valid JSON" in aside.reason
    with pytest.raises(StoreError, match="set aside"):
        store.put("requests", {**REQUEST, "id": "r2"})
    with pytest.raises(StoreError, match="set aside"):
        store.update_one("requests", "r2", lambda current: (current, None))
    assert store.put_missing("requests", [{**REQUEST, "id": "r2"}]) == 0  # counts as stored
    assert store.select("requests", state="PENDING") == [REQUEST]


def test_snapshots_are_incremental_and_see_other_replicas(sql_url):
    mine, other = SqlStore(sql_url), SqlStore(sql_url)
    mine.put_missing("requests", [REQUEST, {**REQUEST, "id": "r2"}])
    assert len(mine.all("requests")) == len(other.all("requests")) == 2
    corrupt(mine, "r1", "not json", bump=False)  # no new seq: a replica that has read r1 does not read it again
    other.put("requests", {**REQUEST, "id": "r3"})
    other.rewrite("requests", lambda snapshot: ([], ["r2"], None))
    assert [r["id"] for r in other.all("requests")] == ["r1", "r3"]  # r1 from its cache, r2's removal seen
    assert [r["id"] for r in mine.all("requests")] == ["r1", "r3"]
    assert [r["id"] for r in SqlStore(sql_url).all("requests")] == ["r3"]  # a fresh replica reads every row


def test_update_one_writes_one_row_only_when_it_changed(sql_url):
    store = SqlStore(sql_url)
    store.put("requests", REQUEST)
    version = store.version("requests")
    assert store.update_one("requests", "r1", lambda current: (current, "same")) == "same"
    assert store.version("requests") == version  # nothing written
    assert store.update_one("requests", "nope", lambda current: (None, current)) is None
    assert store.update_one("requests", "r1", lambda current: ({**current, "team": "z"}, 1)) == 1
    assert store.get("requests", "r1")["team"] == "z" and store.version("requests") != version
    with pytest.raises(StoreError, match="returned the record"):
        store.update_one("requests", "r1", lambda current: ({**current, "id": "r9"}, None))


def test_claim_oldest_prefers_what_the_caller_holds_and_orders_by_the_fields(sql_url):
    store = SqlStore(sql_url)
    store.put_missing("requests", [{**REQUEST, "id": "late", "submitted_at": "2026-03-10T11:00:00+00:00"},
                                   {**REQUEST, "id": "early", "submitted_at": "2026-03-10T09:00:00+00:00"},
                                   {**REQUEST, "id": "mine", "state": "RUNNING", "worker": "w"}])

    def take(record: dict) -> dict:
        return {**record, "state": "RUNNING", "worker": "w", "taken": True}

    held = {"state": "RUNNING", "worker": "w"}
    assert store.claim_oldest("requests", "PENDING", ("submitted_at", "id"), take, held=held)["id"] == "mine"
    assert store.claim_oldest("requests", "PENDING", ("submitted_at", "id"), take)["id"] == "early"
    assert store.claim_oldest("requests", "PENDING", ("submitted_at", "id"), take)["id"] == "late"
    assert store.claim_oldest("requests", "PENDING", ("submitted_at", "id"), take) is None
    with pytest.raises(StoreError, match="orders and filters only"):
        store.claim_oldest("requests", "PENDING", ("team",), take)

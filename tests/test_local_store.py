import json
import multiprocessing
import os
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from store.base import LocalStore, StoreError

AT = "2026-01-01T00:00:00+00:00"


def test_round_trip_and_atomic_files(tmp_path):
    store = LocalStore(tmp_path)
    store.put("requests", {"id": "r1", "state": "PENDING", "submitted_at": AT})
    assert store.get("requests", "r1") == {"id": "r1", "state": "PENDING", "submitted_at": AT}
    assert store.get("requests", "missing") is None
    assert json.loads((tmp_path / "requests" / "r1.json").read_text())["state"] == "PENDING"
    assert not list((tmp_path / "requests").glob("*.tmp"))


def test_temporary_files_of_killed_writers_are_cleaned_up(tmp_path):
    LocalStore(tmp_path)
    old, fresh = tmp_path / "requests" / ".r1.abc.tmp", tmp_path / "requests" / ".r2.def.tmp"
    old.write_text("{")
    fresh.write_text("{")
    os.utime(old, (time.time() - 7200, time.time() - 7200))
    store = LocalStore(tmp_path)
    assert not old.exists() and fresh.exists()  # a fresh one may belong to a writer still running
    assert store.all("requests") == []


def test_opening_a_store_beside_live_writers_never_fails(tmp_path):
    """A writer's temporary file can vanish (renamed into place) between the stale-file scan's listing and its
    look at the file's age; opening the store must not fail on that."""
    store = LocalStore(tmp_path)
    stop = False

    def write() -> int:
        count = 0
        while not stop or count < 5:  # every id written at least once, however loaded the machine
            store.put("details", {"id": f"v{count % 5}", "n": count})
            count += 1
        return count

    with ThreadPoolExecutor(2) as pool:
        writers = [pool.submit(write) for _ in range(2)]
        try:
            opened = [LocalStore(tmp_path) for _ in range(300)]
        finally:
            stop = True
    assert len(opened) == 300 and all(w.result() > 0 for w in writers)
    assert sorted(r["id"] for r in store.all("details")) == [f"v{i}" for i in range(5)]


def test_version_changes_on_write(tmp_path):
    store = LocalStore(tmp_path)
    before = store.version("results")
    store.put("results", {"id": "a", "challenge": "finance"})
    assert store.version("results") != before


@pytest.mark.parametrize("bad", ["../escape", "", "a/b", ".hidden", None])
def test_unsafe_ids_are_refused(tmp_path, bad):
    with pytest.raises(StoreError):
        LocalStore(tmp_path).put("results", {"id": bad})
    assert not list((tmp_path / "results").glob("*.json"))


def test_failed_decision_writes_nothing(tmp_path):
    store = LocalStore(tmp_path)

    def decide(snapshot):
        raise RuntimeError("refused")

    with pytest.raises(RuntimeError):
        store.transact("requests", decide)
    assert store.all("requests") == []


def _limited_insert(store, team, index):
    """At most 2 records per team; the same (team, index) twice is one record."""

    def decide(snapshot):
        if f"{team}-{index}" in snapshot:
            return [], "duplicate"
        if sum(1 for r in snapshot.values() if r["team"] == team) >= 2:
            return [], "limited"
        return [{"id": f"{team}-{index}", "team": team, "submitted_at": AT}], "stored"

    return store.transact("requests", decide)


def test_concurrent_threads_never_lose_or_duplicate(tmp_path):
    store = LocalStore(tmp_path)
    jobs = [(f"team{i % 50}", i // 50 % 3) for i in range(200)]
    with ThreadPoolExecutor(20) as pool:
        outcomes = list(pool.map(lambda job: _limited_insert(store, *job), jobs))
    records = store.all("requests")
    assert outcomes.count("stored") == len(records) == 100
    assert all(sum(r["team"] == f"team{t}" for r in records) == 2 for t in range(50))


def _process_worker(root, team, count, barrier):
    barrier.wait()
    store = LocalStore(root)
    for index in range(count):
        _limited_insert(store, team, index)


def test_concurrent_processes_respect_the_lock(tmp_path):
    barrier = multiprocessing.Barrier(4)
    procs = [multiprocessing.Process(target=_process_worker, args=(tmp_path, "same", 5, barrier))
             for _ in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(30)
    assert sorted(r["id"] for r in LocalStore(tmp_path).all("requests")) == ["same-0", "same-1"]

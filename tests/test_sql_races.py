"""Races on the SQL store (SQLite and a real PostgreSQL): claims, stale leases, lost claims and votes from many
threads on two ``SqlStore`` instances (two replicas or worker processes) at once."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import UTC, datetime, timedelta

from arena.votes import make_vote, record_vote
from evaluator import queue
from store.sql import SqlStore
from store.states import FINISHED, PENDING, RUNNING
from tests.concurrency import run_in_threads

NOW = datetime(2026, 3, 10, 10, 0, tzinfo=UTC)
STALE = timedelta(minutes=10)
SIDES = {"a": {"entry": "res-1"}, "b": {"entry": "res-2"}}


def pending(n: int) -> dict:
    return {"id": f"q{n:03d}", "submitted_at": (NOW - timedelta(minutes=1000 - n)).isoformat(), "state": PENDING,
            "challenge": "general_nlp", "team": f"team {n}", "attempts": 0}


def test_200_requests_claimed_by_16_workers_on_two_replicas_exactly_once(sql_url):
    replicas = [SqlStore(sql_url), SqlStore(sql_url)]
    replicas[0].put_missing("requests", [pending(n) for n in range(200)])
    claimed: list[str] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def worker(i: int) -> None:
        store, name = replicas[i % 2], f"gpu-{i}"
        try:
            while (taken := queue.claim_next(store, name, NOW, STALE, 3)) is not None:
                claim, _ = taken
                assert queue.heartbeat(store, claim, NOW, {"done": 0, "total": 1})
                assert queue.mark_finished(store, claim, f"result-{claim.request_id}", NOW)
                with lock:
                    claimed.append(claim.request_id)
        except BaseException as error:  # noqa: BLE001 - reported by the main thread
            errors.append(error)

    run_in_threads(worker, 16)
    assert errors == []
    twice = [request_id for request_id, times in Counter(claimed).items() if times > 1]
    assert twice == [] and len(claimed) == 200  # 0 evaluated twice, 0 lost
    stored = replicas[1].all("requests")
    assert {r["state"] for r in stored} == {FINISHED} and {r["attempts"] for r in stored} == {1}
    assert all(r["result_id"] == f"result-{r['id']}" for r in stored)


def test_the_oldest_pending_request_is_claimed_first(sql_url):
    store = SqlStore(sql_url)
    store.put_missing("requests", [pending(n) for n in (5, 2, 9)])
    order = []
    while (taken := queue.claim_next(store, "w", NOW, STALE, 3)) is not None:
        order.append(taken[0].request_id)
        queue.mark_finished(store, taken[0], "r", NOW)
    assert order == ["q002", "q005", "q009"]


def test_a_stale_claim_is_requeued_and_its_old_worker_cannot_overwrite_it(sql_url):
    first, second = SqlStore(sql_url), SqlStore(sql_url)
    first.put("requests", pending(1))
    claim1, _ = queue.claim_next(first, "w1", NOW, STALE, 3)
    assert queue.claim_next(second, "w2", NOW + timedelta(minutes=5), STALE, 3) is None  # a live heartbeat
    claim2, claimed = queue.claim_next(second, "w2", NOW + timedelta(hours=1), STALE, 3)  # w1 looks dead
    assert (claim2.request_id, claim2.worker, claim2.attempt) == ("q001", "w2", 2)
    later = NOW + timedelta(hours=1, minutes=1)
    assert not queue.heartbeat(first, claim1, later, {"done": 1, "total": 3})
    assert not queue.mark_failed(first, claim1, "lost", None, later, "evaluator")
    assert not queue.mark_finished(first, claim1, "result-old", later)
    assert second.get("requests", "q001") == claimed  # untouched by the old worker
    assert queue.mark_finished(second, claim2, "result-new", later)
    assert first.get("requests", "q001")["result_id"] == "result-new"


def test_a_claim_that_ran_out_of_attempts_fails_instead_of_requeueing(sql_url):
    store = SqlStore(sql_url)
    store.put("requests", {**pending(1), "state": RUNNING, "worker": "gone", "attempts": 3,
                           "heartbeat_at": NOW.isoformat()})
    assert queue.claim_next(store, "w", NOW + timedelta(hours=1), STALE, 3) is None
    failed = store.get("requests", "q001")
    assert failed["state"] == "FAILED" and "interrupted 3 times" in failed["failure"]["reason"]


def test_a_worker_resumes_the_request_it_holds_instead_of_taking_a_second(sql_url):
    store = SqlStore(sql_url)
    store.put_missing("requests", [pending(1), pending(2)])
    claim, _ = queue.claim_next(store, "w", NOW, STALE, 3)
    again, resumed = queue.claim_next(store, "w", NOW + timedelta(minutes=1), STALE, 3)  # its answer was lost
    assert again == claim and resumed["heartbeat_at"] == (NOW + timedelta(minutes=1)).isoformat()
    assert [r["id"] for r in store.select("requests", state=RUNNING)] == ["q001"]


def test_racing_votes_from_two_replicas_store_each_conversation_once(sql_url):
    replicas = [SqlStore(sql_url), SqlStore(sql_url)]
    results = []
    lock = threading.Lock()

    def click(i: int) -> None:
        conversation = f"c{i % 4}"  # four conversations, each voted four times (double clicks, two tabs)
        vote = make_vote(board="general_nlp", conversation_id=conversation, a=SIDES["a"], b=SIDES["b"],
                         conversation=[{"user": "hi", "a": "A", "b": "B"}], outcome="a" if i % 2 else "b",
                         voter=f"session-{i % 4}", now=NOW, anonymous=True)
        result = record_vote(replicas[i % 2], vote)
        with lock:
            results.append(result)

    run_in_threads(click, 16)
    assert len(results) == 16
    stored = replicas[0].all("votes")
    assert len(stored) == 4 and sum(not r.duplicate for r in results) == 4
    by_conversation = {v["conversation_id"]: v["outcome"] for v in stored}
    assert all(r.vote["outcome"] == by_conversation[r.vote["conversation_id"]] for r in results)

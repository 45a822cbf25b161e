"""The SQL store's events (SQLite and PostgreSQL) published to the local Hub (with the Hub's limits, on its
virtual clock): a busy hour of 50 workers makes at most one commit per publishing interval, a publisher that
dies holding the lease is taken over once it expires, and no event is published twice or lost."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import pytest
from huggingface_hub import HfApi

from evaluator import queue
from store import leases
from store.factory import open_store
from store.publish_log import (
    DEFAULT_EVERY_S,
    plan_batch,
    publish_events,
    push_batch,
    start_publishing,
)
from store.sql import SqlStore
from store.sql_schema import events
from store.states import FINISHED, PENDING
from tests.hub_server import HubServer

START = datetime(2026, 3, 10, 10, 0, tzinfo=UTC)
STALE = timedelta(minutes=10)
WORKERS = 50


def submitted(n: int, at: datetime) -> dict:
    return {"id": f"q{n:04d}", "submitted_at": at.isoformat(), "state": PENDING, "challenge": "general_nlp",
            "team": f"team {n % 40}", "attempts": 0}


def published_events(hub: HubServer, repo: str, folder: str) -> list[dict]:
    files = hub.files(repo, repo_type="dataset")
    return [json.loads(line) for path in sorted(files) if path.startswith(f"{folder}/")
            for line in files[path].decode().splitlines()]


def all_events(live: SqlStore, collection: str) -> list[int]:
    with live.engine.connect() as connection:
        return [row.seq for row in connection.execute(
            events.select().where(events.c.collection == collection).order_by(events.c.seq))]


@pytest.mark.hub_limits
def test_a_busy_hour_of_50_workers_publishes_once_per_interval_and_nothing_twice(hub_server: HubServer, sql_url,
                                                                                capsys):
    hub_server.add_dataset("org/requests")
    api = HfApi(endpoint=hub_server.url, token=hub_server.token)
    replicas = [SqlStore(sql_url) for _ in range(2)]
    clock = hub_server.limits.clock
    claims: dict[str, queue.Claim] = {}
    submissions = 0
    while clock() < 3600:
        now = START + timedelta(seconds=clock())
        for _ in range(3):  # a submission every 20 s
            replicas[0].put("requests", submitted(submissions, now))
            submissions += 1
        for w in range(WORKERS):  # each worker: claim, progress, finish after 10 minutes
            name, store = f"gpu-{w}", replicas[w % 2]
            claim = claims.get(name)
            if claim is None:
                taken = queue.claim_next(store, name, now, STALE, 3)
                if taken is not None:
                    claims[name] = taken[0]
                    queue.heartbeat(store, taken[0], now, {"done": 0, "total": 3})
            elif (now - START).total_seconds() % 600 < 60:
                queue.mark_finished(store, claim, f"result-{claim.request_id}", now)
                del claims[name]
            else:
                queue.heartbeat(store, claim, now)
        if clock() % DEFAULT_EVERY_S < 60:  # every replica's scheduler runs the job; the lease holder publishes
            outcomes = [publish_events(replica, api, "org/requests", "requests", holder=f"replica-{i}",
                                       now=clock()) for i, replica in enumerate(replicas)]
            assert sum(outcome is not None for outcome in outcomes) == 1  # one holder at a time
        clock.advance(60)
    commits = hub_server.stats()["commits"]["datasets/org/requests"]
    assert commits["peak"] <= 12 and commits["refused"] == 0, commits
    publish_events(replicas[0], api, "org/requests", "requests", holder="replica-0", now=clock())  # the last ones
    published = published_events(hub_server, "org/requests", "log")
    seqs = [event["seq"] for event in published]
    assert seqs == all_events(replicas[0], "requests")  # each state change once, in order, none lost
    with capsys.disabled():
        print(f"\n{WORKERS} workers, one simulated hour: {submissions} submissions, {len(seqs)} state changes "
              f"published in {commits['total']} commits (peak {commits['peak']} in an hour against the quota of "
              f"{hub_server.limits.numbers.commits_per_repo})")
    states = [event["record"]["state"] for event in published]
    assert states.count(FINISHED) > 100 and "RUNNING" in states  # state changes, not heartbeats
    assert len(published) < 4 * submissions
    current = hub_server.files("org/requests", repo_type="dataset")["queue/current.jsonl"].decode().splitlines()
    assert current and all(json.loads(line)["state"] != FINISHED for line in current)


@pytest.mark.hub_limits
def test_a_publisher_killed_holding_the_lease_is_taken_over_after_expiry(hub_server: HubServer, sql_url):
    hub_server.add_dataset("org/votes")
    api = HfApi(endpoint=hub_server.url, token=hub_server.token)
    dying, survivor = SqlStore(sql_url), SqlStore(sql_url)
    vote = {"board": "general_nlp", "outcome": "a", "created_at": START.isoformat(), "a": {"entry": "x"},
            "b": {"entry": "y"}}
    dying.put_missing("votes", [{**vote, "id": f"v{n}", "conversation_id": f"c{n}"} for n in range(5)])
    # the dying replica takes the lease, commits its batch to the Hub and dies before advancing its cursor
    lease = leases.acquire(dying, "publish-votes", "dying", now=0, ttl_s=900)
    push_batch(dying, api, "org/votes", "votes", plan_batch(dying, lease, "votes"))
    survivor.put("votes", {**vote, "id": "v5", "conversation_id": "c5"})  # a vote after the batch was planned
    assert publish_events(survivor, api, "org/votes", "votes", holder="survivor", now=600) is None  # still held
    assert publish_events(survivor, api, "org/votes", "votes", holder="survivor", now=901) == 5  # the same batch
    assert publish_events(survivor, api, "org/votes", "votes", holder="survivor", now=1200) == 1  # then the rest
    assert publish_events(survivor, api, "org/votes", "votes", holder="survivor", now=1500) == 0
    files = sorted(p for p in hub_server.files("org/votes", repo_type="dataset") if p.startswith("votes/"))
    assert len(files) == 2  # the re-published batch kept its name (same content: one file)
    published = [event["record"]["id"] for event in published_events(hub_server, "org/votes", "votes")]
    assert published == [f"v{n}" for n in range(6)]  # each vote once, in order
    assert leases.acquire(dying, "publish-votes", "dying", now=1600, ttl_s=900) is None  # it came back: refused


def test_the_app_s_scheduled_job_publishes_the_queue_of_the_store_open_store_builds(hub_server: HubServer, tmp_path):
    for dataset in ("org/requests", "org/results"):
        hub_server.add_dataset(dataset)
    environ = {"REQUESTS_DATASET": "org/requests", "RESULTS_DATASET": "org/results", "HF_TOKEN": hub_server.token,
               "HF_ENDPOINT": hub_server.url, "HUB_CACHE_DIR": str(tmp_path / "cache"),
               "LEADERBOARD_DATA_DIR": str(tmp_path), "PUBLISH_EVERY_S": "0.2"}
    store = open_store(environ)
    store.put("requests", submitted(1, START))
    assert start_publishing(open_store({"LEADERBOARD_DATA_DIR": str(tmp_path)})) is None  # no Hub: nothing to do
    scheduler = start_publishing(store, environ)
    try:
        deadline = time.monotonic() + 30
        while not published_events(hub_server, "org/requests", "log"):
            assert time.monotonic() < deadline, "nothing was published"
            time.sleep(0.1)
    finally:
        scheduler.shutdown()
    [event] = published_events(hub_server, "org/requests", "log")
    assert event["record"] == submitted(1, START)
    current = hub_server.files("org/requests", repo_type="dataset")["queue/current.jsonl"]
    assert json.loads(current) == submitted(1, START)

"""Issue #15's first failure, on a local Hub that enforces the Hub's limits: one busy evaluation worker on the
Space's Hub store (``open_store`` as a Space configures it) wrote every heartbeat (one per 30 s) and every
progress report as a commit to the requests dataset, and ran past the hourly commit quota. With the queue in
the SQL store (the requests the Hub dataset held are imported at its first open) they make no commit at all.

The worker's writes are the ones ``Worker`` and ``ClaimWatch`` make, through the same ``evaluator.queue``
steps, on the worker's own numbers (``WorkerConfig``): claim, a progress report as each of three columns
starts, a beat every ``heartbeat_s``, the confirming beat, FINISHED. Time is the Hub's virtual clock, so the
simulated hour takes seconds. The store gives up on a refused commit within its few-second fault budget.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from evaluator import queue
from evaluator.worker import WorkerConfig
from store.base import StoreError, dump_record
from store.factory import open_store
from tests.hub_fixtures import add_store_datasets
from tests.hub_server import HubServer

START = datetime(2026, 3, 10, 10, 0, tzinfo=UTC)
EVALUATION_S = 20 * 60  # one General NLP evaluation (3 columns) on a GPU; the queue is never empty
COLUMNS = 3


def seed_pending(server: HubServer, count: int) -> None:
    """Requests submitted before the hour starts (set-up commits, not counted against the quota)."""
    add_store_datasets(server, "org/requests", "org/results")
    for n in range(count):
        record = {"id": f"q{n}", "submitted_at": (START - timedelta(minutes=60 - n)).isoformat(),
                  "state": "PENDING", "challenge": "general_nlp", "team": f"team {n}", "attempts": 0}
        server.push("org/requests", {f"requests/q{n}.json": dump_record(record)}, repo_type="dataset")


@pytest.mark.hub_limits
def test_one_busy_worker_makes_no_commit_for_its_queue_writes(hub_server: HubServer, tmp_path, capsys) -> None:
    seed_pending(hub_server, 4)
    store = open_store({"REQUESTS_DATASET": "org/requests", "RESULTS_DATASET": "org/results",
                        "HF_TOKEN": hub_server.token, "HF_ENDPOINT": hub_server.url, "HUB_CACHE_DIR": str(tmp_path),
                        "DATABASE_URL": f"sqlite:///{tmp_path / 'live.sqlite3'}", "SPACE_ID": "org/space"})
    config = WorkerConfig(worker_id="gpu-1")
    clock = hub_server.limits.clock
    stale_after = timedelta(seconds=config.stale_after_s)
    writes: list[tuple[float, str, bool]] = []  # (minute, what, landed)

    def write(what: str, step: Callable, *args: object) -> object:
        """One queue step, its refusal noted as the worker would log it and go on."""
        try:
            value = step(*args)
        except StoreError:
            writes.append((clock() / 60, what, False))
            return None
        writes.append((clock() / 60, what, True))
        return value

    def now() -> datetime:
        return START + timedelta(seconds=clock())

    while clock() < 3600:
        claimed = write("claim", queue.claim_next, store, config.worker_id, now(), stale_after,
                        config.max_attempts)
        if claimed is None:
            clock.advance(config.heartbeat_s)  # the next poll
            continue
        claim, _ = claimed
        beats = int(EVALUATION_S // config.heartbeat_s)
        for tick in range(beats):
            if tick % (beats // COLUMNS) == 0 and tick // (beats // COLUMNS) < COLUMNS:  # a column starts
                progress = {"done": tick // (beats // COLUMNS), "total": COLUMNS}
                write("progress", queue.heartbeat, store, claim, now(), progress)
            clock.advance(config.heartbeat_s)
            if tick < beats - 1:
                write("heartbeat", queue.heartbeat, store, claim, now())
        write("confirm", queue.heartbeat, store, claim, now())
        write("finish", queue.mark_finished, store, claim, f"result-{claim.request_id}", now())

    stats = hub_server.stats()
    commits = stats["commits"].get("datasets/org/requests", {"total": 0, "peak": 0, "refused": 0})
    api_peak, resolver_peak = (max(c["peak"] for c in stats[bucket].values()) for bucket in ("api", "resolvers"))
    refused = [(round(minute, 1), what) for minute, what, landed in writes if not landed]
    with capsys.disabled():
        print(f"\none busy worker, one simulated hour: {len(writes)} queue writes (claim, beats, finish), "
              f"{commits['total']} commits to the requests dataset (peak {commits['peak']} in an hour against the quota of "
              f"{hub_server.limits.numbers.commits_per_repo}), {len(refused)} refused with 429, the first at "
              f"minute {refused[0][0] if refused else '-'}: {refused}; at most {api_peak} API calls and "
              f"{resolver_peak} downloads in a 5-minute window")
    assert refused == [] and commits["refused"] == 0, f"{len(refused)} writes refused by the commit quota"
    assert commits["total"] == 0  # claims, beats, progress and finishes: no commit at all
    finished = [r for r in store.all("requests") if r["state"] == "FINISHED"]
    assert [r["id"] for r in finished] == ["q0", "q1", "q2"]  # the hour's three evaluations, oldest first
    assert [what for _, what, _ in writes].count("finish") == 3 and store.get("requests", "q3")["state"] == "PENDING"

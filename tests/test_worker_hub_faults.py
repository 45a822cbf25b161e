"""The worker on the Hub store (the real client against the local Hub) while the Hub misbehaves: 500 and 429
(refused, or landed with the answer lost), slow answers, dropped and refused connections, during the claim, a
heartbeat, the details and result writes and the FINISHED mark. Whatever happens, nothing is lost or
duplicated: every request ends FINISHED exactly once with exactly one result, and the worker never holds a
RUNNING request while it takes the next one."""

from __future__ import annotations

import threading
from dataclasses import dataclass

import pytest
import torch

from evaluator.worker import Worker, WorkerConfig
from models.loading import LoadOptions, ModelPool
from store.hub import HubStore
from tests.eval_helpers import FIXTURES
from tests.hub_server import Fault, HubServer
from tests.test_worker import models, request  # noqa: F401  (the module-scoped tiny models fixture)
from tests.worker_helpers import (
    TickingClock,
    one_column_challenge,
    queue_outcome,
    stored_details,
)

REPOS = {"requests": "org/requests", "results": "org/results", "details": "org/results"}
# Writes of one evaluation with the one-column challenge, as (repo, n-th commit to that repo):
PHASES = {
    "claim": ("requests", 1),
    "heartbeat": ("requests", 2),  # progress 0/1 (the confirming beat before the writes is the 3rd)
    "details": ("results", 1),
    "result": ("results", 2),
    "finished": ("requests", 4),
}
FAULTS = {
    "500": dict(status=500),
    "500 landed": dict(status=500, after=True),
    "429": dict(status=429),
    "429 landed": dict(status=429, after=True),
    "slow": dict(status=None, delay_s=0.5),
    "hang-up": dict(status=None, hang_up=True),
}


@dataclass
class NthCommit(Fault):
    """Spoils the ``nth`` commit to one repo (and only that one); ``stop_hub`` stops the Hub right then."""

    nth: int = 1
    seen: int = 0
    server: HubServer | None = None

    def matches(self, method: str, path: str) -> bool:
        if not super().matches(method, path):
            return False
        self.seen += 1
        if self.seen == self.nth and self.server is not None:  # refuse from here on (this one is hung up on)
            self.server.stopped = True
            threading.Thread(target=self.server.stop, daemon=True).start()
        return self.seen == self.nth


def revive(stopped: HubServer) -> HubServer:
    """A new Hub (new port) with the stopped one's repos, as when a Hub outage ends."""
    server = HubServer()
    server._repos, server._counter = stopped._repos, stopped._counter
    return server


def commit_path(repo: str) -> str:
    return rf"/api/datasets/org/{repo}/commit/"


@pytest.fixture(scope="module")
def pool():
    return ModelPool(options=LoadOptions("cpu", torch.float32, False))


def hub_worker(server: HubServer, pool: ModelPool, clock: TickingClock) -> Worker:
    store = HubStore(REPOS, token=HubServer.token, endpoint=server.url, backoff_s=0.005, max_backoff_s=0.05)
    config = WorkerConfig(worker_id="gpu-1", data_dir=FIXTURES, limit=1, heartbeat_s=60.0, write_retries=2,
                          write_backoff_s=0.01)
    return Worker(store, pool, config, definitions=one_column_challenge(), clock=clock)


def seed_queue(server: HubServer, models) -> None:
    server.add_dataset("org/requests")
    server.add_dataset("org/results")
    store = HubStore(REPOS, token=HubServer.token, endpoint=server.url)
    for rid, minute in (("a", 0), ("b", 1)):
        store.put("requests", request(rid, models["base"], models["lora"], challenge="general_nlp",
                                      submitted=f"2026-03-10T10:0{minute}:00+00:00"))


def outcome(worker: Worker) -> dict:
    store = worker.store
    results = store.all("results")
    return queue_outcome(store.all("requests"), results, stored_details(store, results))


def check_drained(worker: Worker) -> dict:
    figures = outcome(worker)
    assert figures["lost"] == [] and figures["duplicated"] == [] and figures["without_details"] == [], figures
    assert (figures["finished"], figures["results"]) == (2, 2), figures
    requests = {r["id"]: r for r in worker.store.all("requests")}
    assert [requests[rid]["attempts"] for rid in "ab"] == [1, 1]  # never claimed twice
    return figures


@pytest.mark.parametrize("fault", FAULTS)
@pytest.mark.parametrize("phase", PHASES)
def test_hub_faults_lose_and_duplicate_nothing(hub_server, models, pool, phase, fault):
    seed_queue(hub_server, models)
    repo, nth = PHASES[phase]
    injected = hub_server.inject(NthCommit(path=commit_path(repo), method="POST", nth=nth, **FAULTS[fault]))
    worker = hub_worker(hub_server, pool, TickingClock())
    first = worker.run_once()
    assert injected.hits == 1, f"the {phase} commit was not reached"
    requests = {r["id"]: r for r in worker.store.all("requests")}
    assert requests["b"]["state"] == "PENDING"  # one request at a time, never a second claim
    if first is None:  # the claim's connection dropped before it landed: nothing changed, poll again
        assert (phase, fault, requests["a"]["state"]) == ("claim", "hang-up", "PENDING")
    elif requests["a"]["state"] == "RUNNING":  # the final writes failed: held by this worker, resumed next
        assert fault == "hang-up" and requests["a"]["worker"] == "gpu-1", requests["a"]
    else:
        assert requests["a"]["state"] == "FINISHED", requests["a"]
    while worker.run_once():
        pass
    check_drained(worker)


@pytest.mark.parametrize("phase", PHASES)
def test_a_refused_connection_loses_and_duplicates_nothing(hub_server, models, pool, phase):
    seed_queue(hub_server, models)
    repo, nth = PHASES[phase]
    hub_server.inject(NthCommit(path=commit_path(repo), method="POST", nth=nth, status=None, hang_up=True,
                                server=hub_server))
    clock = TickingClock()
    worker = hub_worker(hub_server, pool, clock)
    worker.run_once()  # the Hub goes away during this evaluation: the worker gives up its writes, raises nothing
    assert hub_server.stopped
    assert worker.run_once() is None  # refused: nothing claimed, nothing raised
    with revive(hub_server) as server:
        worker = hub_worker(server, pool, clock)  # the same worker id: it resumes what it holds
        before = {r["id"]: r["state"] for r in worker.store.all("requests")}
        assert before["b"] == "PENDING" and before["a"] in ("PENDING", "RUNNING")
        while worker.run_once():
            pass
        check_drained(worker)


def test_one_evaluation_makes_the_commits_the_phases_name(hub_server, models, pool):
    seed_queue(hub_server, models)
    before = {repo: hub_server.commit_count(f"org/{repo}", "dataset") for repo in ("requests", "results")}
    worker = hub_worker(hub_server, pool, TickingClock())
    assert worker.run_once() == "a"
    made = {repo: hub_server.commit_count(f"org/{repo}", "dataset") - before[repo] for repo in before}
    assert made == {"requests": 4, "results": 2}  # claim, progress 0/1, confirm, FINISHED; details, result
    assert max(nth for repo, nth in PHASES.values() if repo == "requests") == made["requests"]


def test_an_ambiguous_claim_is_resumed_not_left_running(hub_server, models, pool):
    """The claim commit lands but answers 500: the retried claim finds request a RUNNING under this worker and
    resumes it (same attempt) instead of claiming b and leaving a RUNNING until it goes stale."""
    seed_queue(hub_server, models)
    hub_server.inject(Fault(path=commit_path("requests"), method="POST", status=500, after=True))
    worker = hub_worker(hub_server, pool, TickingClock())
    assert worker.run_once() == "a"
    requests = {r["id"]: r for r in worker.store.all("requests")}
    assert (requests["a"]["state"], requests["a"]["attempts"]) == ("FINISHED", 1)
    assert requests["b"]["state"] == "PENDING" and requests["b"]["attempts"] == 0
    assert worker.run_once() == "b" and worker.run_once() is None
    check_drained(worker)

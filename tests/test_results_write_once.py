"""Results are written once: ``HubStore.put_missing`` asks for each record's file and commits the new ones,
never listing or downloading the collection, so a write costs the same at 2,000 results as at none."""

from __future__ import annotations

import threading
import time

import pytest

from store.base import StoreError, dump_record
from store.hub import HubStore
from tests.board_records import result
from tests.hub_server import Fault, HubServer
from tests.seed_results import many_results, seed_results

REPO = "org/results"


def calls(server: HubServer) -> int:
    """API and download (resolver) requests counted by the local Hub so far in this window."""
    stats = server.stats()
    return sum(caller["window"] for bucket in ("api", "resolvers") for caller in stats[bucket].values())


@pytest.fixture
def seeded(hub_server: HubServer) -> HubStore:
    hub_server.add_dataset(REPO)
    seed_results(hub_server, REPO, many_results(2000))
    return HubStore({"results": REPO}, token=HubServer.token, endpoint=hub_server.url)


@pytest.mark.hub_limits
def test_put_missing_among_2000_results_makes_a_constant_number_of_calls(hub_server: HubServer, seeded):
    start, first = calls(hub_server), len(hub_server.requests)
    new = result("fresh", "Fresh", 61.0)
    assert seeded.put_missing("results", [new]) == 1
    # one HEAD of results/fresh.json, then the commit (preupload + commit): no listing, no download
    assert calls(hub_server) - start == 3
    assert not [path for _, path in hub_server.requests[first:] if "/tree/" in path]
    assert hub_server.files(REPO, "dataset")["results/fresh.json"] == dump_record(new)
    assert hub_server.stats()["commits"][f"datasets/{REPO}"]["total"] == 1

    start = calls(hub_server)
    assert seeded.put_missing("results", [{**new, "average": 1.0}]) == 0  # present: written once, kept
    assert calls(hub_server) - start == 1
    assert hub_server.files(REPO, "dataset")["results/fresh.json"] == dump_record(new)

    start = calls(hub_server)
    batch = [result("r000007", "Taken", 1.0), result("new-a", "A", 2.0), result("new-b", "B", 3.0)]
    assert seeded.put_missing("results", batch) == 2  # three HEADs, one commit for the two new files
    assert calls(hub_server) - start == 3 + 2
    assert hub_server.stats()["commits"][f"datasets/{REPO}"]["total"] == 2
    assert b'"Taken"' not in hub_server.files(REPO, "dataset")["results/r000007.json"]


def test_a_set_aside_file_counts_as_present(hub_server: HubServer, seeded):
    hub_server.push(REPO, {"results/broken.json": b"{"}, repo_type="dataset")
    assert seeded.put_missing("results", [result("broken", "X", 1.0)]) == 0
    assert hub_server.files(REPO, "dataset")["results/broken.json"] == b"{"


def test_a_record_that_does_not_fit_the_contract_writes_nothing(hub_server: HubServer, seeded):
    head = hub_server.head(REPO, "dataset")
    with pytest.raises(StoreError, match="does not fit the record contract"):
        seeded.put_missing("results", [result("ok", "Ok", 1.0), {"id": "no-challenge"}])
    assert hub_server.head(REPO, "dataset") == head


def test_a_commit_racing_another_replica_is_asked_again(hub_server: HubServer, seeded):
    """Two replicas write the same new id: the one whose commit comes second, on the head its answers came from,
    is refused (412), asks again, finds the file and writes nothing."""
    other = HubStore({"results": REPO}, token=HubServer.token, endpoint=hub_server.url)
    first, second = result("same", "First", 1.0), result("same", "Second", 2.0)
    hub_server.inject(Fault(path=f"/api/datasets/{REPO}/preupload/", status=None, delay_s=0.5))  # the slow one
    written: dict[str, int] = {}
    slow = threading.Thread(target=lambda: written.update(slow=seeded.put_missing("results", [second])))
    slow.start()
    time.sleep(0.2)  # the slow replica has its answer (no file yet) and is committing
    written["fast"] = other.put_missing("results", [first])
    slow.join()
    assert written == {"fast": 1, "slow": 0}
    assert hub_server.rejected_commits == 1
    assert hub_server.files(REPO, "dataset")["results/same.json"] == dump_record(first)

"""The Hub store while the Hub fails (500, 429, slow answers, refused connections): boards and queue keep
serving the last data read with a note that it may be out of date, a replica started during the outage starts
from the disk cache, and writes fail within seconds with a clear StoreError and nothing half-written."""

from __future__ import annotations

import re
import time
from datetime import timedelta

import httpx2
import pytest
from huggingface_hub.errors import HfHubHTTPError

from app import build_app
from evaluator import queue as work_queue
from leaderboard.boards import Boards
from store.base import Record, StoreError
from store.hub import HubStore
from store.hub_faults import FaultBudget, HubUnreachable, retry_after_s
from submissions.hub_models import HubModels
from submissions.queue_view import queue_page
from tests.bad_records import GOOD, GOOD_REQUEST, NOW, reading_paths_work
from tests.hub_server import Fault, HubServer

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")
REPOS = {"requests": "org/requests", "results": "org/results", "votes": "org/results", "details": "org/results",
         "boards": "org/results"}
STALE = re.compile(r"Could not reach the Hub at \d\d:\d\d UTC; showing data read at \d\d:\d\d UTC\. "
                   r"It may be out of date\.")
WRITE_LIMIT_S = 6.0  # "fails fast": the default fault budget is 5 s


def fault(kind: str) -> Fault | None:
    return {
        "500": Fault(status=500, times=None),
        "429": Fault(status=429, times=None),
        "slow": Fault(status=None, delay_s=2.0, times=None),  # slower than the store's 0.5 s timeout
        "hang-up": Fault(status=None, hang_up=True, times=None),
        "refused": None,  # the server is stopped
    }[kind]


def break_hub(hub: HubServer, kind: str) -> None:
    if kind == "refused":
        hub.stop()
    else:
        hub.inject(fault(kind))


@pytest.fixture
def hub(hub_server: HubServer) -> HubServer:
    hub_server.add_dataset("org/requests")
    hub_server.add_dataset("org/results")
    return hub_server


def make_store(hub: HubServer, cache_dir, **options) -> HubStore:
    return HubStore(REPOS, token=hub.token, endpoint=hub.url, cache_dir=cache_dir, timeout_s=0.5, **options)


def filled_store(hub: HubServer, cache_dir, **options) -> HubStore:
    store = make_store(hub, cache_dir, **options)
    for collection, record in GOOD.items():
        store.put(collection, record)
    reading_paths_work(store)  # everything read once, and kept on disk
    assert store.stale_note("results") is None and store.stale_note("requests") is None
    return store


FAULTS = ["500", "429", "slow", "hang-up", "refused"]


@pytest.mark.parametrize("kind", FAULTS)
def test_boards_and_queue_serve_the_last_data_read_with_a_note(hub, tmp_path, kind):
    store = filled_store(hub, tmp_path / "cache", recheck_s=0.3)
    break_hub(hub, kind)
    started = time.monotonic()
    reading_paths_work(store)
    assert time.monotonic() - started < 5  # visitors do not wait on a dead Hub
    assert STALE.search(queue_page(store))
    assert STALE.fullmatch(Boards(store).notice())
    if kind != "refused":  # the Hub comes back: the note goes
        hub.clear_faults()
        time.sleep(0.35)
        reading_paths_work(store)
        assert store.stale_note("results") is None and 'class="board-notice"' not in queue_page(store)


@pytest.mark.parametrize("kind", FAULTS)
def test_a_replica_started_while_the_hub_is_down_starts_from_the_disk_cache(hub, tmp_path, kind):
    filled_store(hub, tmp_path / "cache")
    break_hub(hub, kind)
    replica = make_store(hub, tmp_path / "cache", fault_budget_s=1.0)
    build_app(replica, hub=HubModels())
    reading_paths_work(replica)
    assert STALE.search(queue_page(replica))


def test_a_replica_with_no_cache_starts_empty_and_says_why(hub, tmp_path):
    filled_store(hub, tmp_path / "cache")
    hub.stop()
    replica = make_store(hub, tmp_path / "elsewhere", fault_budget_s=1.0)
    build_app(replica, hub=HubModels())
    assert Boards(replica).frame("general_nlp").empty
    assert re.search(r"Could not reach the Hub at \d\d:\d\d UTC; no data could be read yet", queue_page(replica))


@pytest.mark.parametrize("kind, message", [
    ("refused", r"The Hub could not be read \(the Hub could not be reached.*\(4 tries in \d\.\d s\); nothing was "
                r"written\."),
    ("hang-up", r"The Hub could not be read.*\(4 tries in \d\.\d s\); nothing was written\."),
    ("429", r"The Hub refused the commit for now \(429 Too Many Requests\) to org/requests \(4 tries in \d\.\d s\); "
            r"nothing was written\."),
    ("500", r"The Hub failed the commit \(500\) to org/requests \(4 tries in \d\.\d s\); the last commit may or may "
            r"not have been recorded; check again shortly\."),
])
def test_a_write_while_the_hub_fails_is_refused_within_seconds(hub, tmp_path, kind, message):
    store = filled_store(hub, tmp_path / "cache")
    commits, files = hub.commit_count("org/requests", "dataset"), hub.files("org/requests", "dataset")
    if kind in ("429", "500"):
        hub.inject(Fault(path=r"/commit/", method="POST", status=int(kind), times=None))
    else:
        break_hub(hub, kind)
    started = time.monotonic()
    with pytest.raises(StoreError, match=message):
        store.put("requests", {**GOOD_REQUEST, "id": "new-request"})
    assert time.monotonic() - started < WRITE_LIMIT_S
    worker_store = make_store(hub, tmp_path / "cache", fault_budget_s=0.5)
    with pytest.raises(StoreError):  # a worker's claim is a write too
        work_queue.claim_next(worker_store, "w", NOW, timedelta(minutes=10), 3)
    assert hub.commit_count("org/requests", "dataset") == commits  # nothing half-written
    assert hub.files("org/requests", "dataset") == files


def test_a_commit_that_landed_but_answered_500_is_found_on_the_next_attempt(hub, tmp_path):
    """What the submit service relies on to tell a participant that their own request was queued."""
    store = filled_store(hub, tmp_path / "cache")
    hub.inject(Fault(path=r"/commit/", method="POST", status=500, after=True, times=1))
    commits = hub.commit_count("org/requests", "dataset")
    mine = {**GOOD_REQUEST, "id": "mine"}

    def decide(snapshot: dict[str, Record]) -> tuple[list[Record], str]:
        return ([], "mine is stored") if "mine" in snapshot else ([mine], "written")

    assert store.transact("requests", decide) == "mine is stored"
    assert hub.commit_count("org/requests", "dataset") == commits + 1
    assert store.get("requests", "mine") == mine


def test_a_commit_the_hub_answers_too_late_is_not_waited_for_and_lands_once(hub, tmp_path):
    """A commit answered after the store stopped waiting may still land: at most once, never duplicated."""
    store = filled_store(hub, tmp_path / "cache", commit_timeout_s=0.3, fault_budget_s=1.0)
    hub.inject(Fault(path=r"/commit/", method="POST", status=None, delay_s=1.5, times=None))
    commits = hub.commit_count("org/requests", "dataset")
    started = time.monotonic()
    with pytest.raises(StoreError, match=r"did not answer the commit within 0\.3 s.*may or may not have been "
                                         r"recorded; check again shortly"):
        store.put("requests", {**GOOD_REQUEST, "id": "late"})
    assert time.monotonic() - started < 2
    time.sleep(2.5)  # the late commits reach the server: they all name the same parent
    assert hub.commit_count("org/requests", "dataset") == commits + 1
    assert "requests/late.json" in hub.files("org/requests", "dataset")


@pytest.mark.parametrize("status", [429, 503])
def test_one_refusal_is_retried_and_the_write_lands_once(hub, tmp_path, status):
    store = filled_store(hub, tmp_path / "cache")
    hub.inject(Fault(path=r"/commit/", method="POST", status=status, times=1))
    commits = hub.commit_count("org/requests", "dataset")
    store.put("requests", {**GOOD_REQUEST, "id": "after-one-refusal"})
    assert hub.commit_count("org/requests", "dataset") == commits + 1
    assert store.get("requests", "after-one-refusal")["id"] == "after-one-refusal"


def test_retry_after_is_honoured_but_capped_by_the_budget():
    response = httpx2.Response(429, headers={"Retry-After": "30"}, request=httpx2.Request("POST", "http://hub/x"))
    assert retry_after_s(HfHubHTTPError("quota", response=response)) == 30.0
    faults = FaultBudget(attempts=4, budget_s=1.0, backoff_s=0.1)
    started = time.monotonic()
    with pytest.raises(HubUnreachable, match=r"quota \(1 tries in 0\.\d s\); nothing was written"):
        faults.wait_or_give_up("quota", 30.0)  # waiting 30 s would pass the 1 s budget: give up now
    assert time.monotonic() - started < 0.5

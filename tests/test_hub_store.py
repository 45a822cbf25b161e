"""HubStore (store/hub.py) on the local Hub through the real client, and the concurrency
guarantees every store must give (checked on LocalStore too)."""

from __future__ import annotations

import json
import threading
from collections import Counter
from datetime import datetime, timedelta, timezone

import pytest

from store.base import LocalStore, Record, Store, StoreError, dump_record
from store.factory import hub_store_from_env
from store.hub import HubStore
from tests.concurrency import run_in_threads
from tests.hub_server import HubServer

REPOS = {
    "requests": "org/requests",
    "results": "org/results",
    "votes": "org/results",
    "details": "org/results",
    "private": "org/private",
}


def make_store(server: HubServer, token: str | None = HubServer.token, **options: object) -> HubStore:
    return HubStore(REPOS, token=token, endpoint=server.url, backoff_s=0.005, max_backoff_s=0.05, **options)


@pytest.fixture
def hub(hub_server: HubServer) -> HubServer:
    hub_server.add_dataset("org/requests")
    hub_server.add_dataset("org/results")
    hub_server.add_dataset("org/private", private=True)
    return hub_server


AT = "2026-01-01T00:00:00+00:00"


def req(record_id: str, **fields: object) -> Record:
    """A request record with the one field the record contract requires."""
    return {"id": record_id, "submitted_at": AT, **fields}


def downloads(server: HubServer, since: int) -> list[str]:
    return [path for method, path in server.requests[since:] if method == "GET" and "/resolve/" in path]


# --- the Store interface ------------------------------------------------------------------------------------
def test_round_trip(hub: HubServer) -> None:
    store = make_store(hub)
    empty_version = store.version("requests")
    assert store.all("requests") == [] and store.get("requests", "b") is None
    store.put("requests", req("b", team="Flower", scores={"stem": 1.5}))
    store.put("requests", req("a", team="<b>x</b>"))
    assert store.version("requests") != empty_version
    assert [r["id"] for r in store.all("requests")] == ["a", "b"]
    assert store.get("requests", "b") == req("b", team="Flower", scores={"stem": 1.5})
    # one JSON file per record, exactly as LocalStore writes it
    assert hub.files("org/requests", "dataset")["requests/a.json"] == dump_record(
        req("a", team="<b>x</b>")
    )
    # a fresh instance (another replica) reads the same state
    assert make_store(hub).all("requests") == store.all("requests")


def test_put_replaces_and_put_missing_counts(hub: HubServer) -> None:
    store = make_store(hub)
    store.put("details", {"id": "r1", "average": 10})
    store.put("details", {"id": "r1", "average": 12})
    assert store.put_missing("details", [{"id": "r1", "average": 0}, {"id": "r2"}, {"id": "r3"}]) == 2
    assert store.put_missing("details", [{"id": "r2"}, {"id": "r3"}]) == 0
    assert store.all("details") == [{"id": "r1", "average": 12}, {"id": "r2"}, {"id": "r3"}]


def test_unchanged_writes_make_no_commit(hub: HubServer) -> None:
    store = make_store(hub)
    store.put("requests", req("a", state="PENDING"))
    commits, version = hub.commit_count("org/requests", "dataset"), store.version("requests")
    store.put("requests", req("a", state="PENDING"))
    assert (hub.commit_count("org/requests", "dataset"), store.version("requests")) == (commits, version)


def test_collections_sharing_a_repo_stay_apart(hub: HubServer) -> None:
    store = make_store(hub)
    store.put("details", {"id": "v1", "outcome": "left"})
    store.put("results", {"id": "r1", "challenge": "finance"})
    assert [r["id"] for r in store.all("details")] == ["v1"]
    assert [r["id"] for r in store.all("results")] == ["r1"]
    assert store.all("votes") == []
    assert store.version("details") == store.version("results") == hub.head("org/results", "dataset")


def test_returned_records_are_copies(hub: HubServer) -> None:
    store = make_store(hub)
    store.put("requests", req("a", progress={"done": 0}))
    store.all("requests")[0]["progress"]["done"] = 99

    def mutate_without_writing(snapshot: dict[str, Record]) -> tuple[list[Record], None]:
        snapshot["a"]["progress"]["done"] = 7
        return [], None

    store.transact("requests", mutate_without_writing)
    assert store.all("requests") == [req("a", progress={"done": 0})]


@pytest.mark.parametrize(
    "collection, record, message",
    [
        ("queue", {"id": "a"}, "unknown collection 'queue'"),
        ("requests", {"id": "../escape"}, "is not a safe file name"),
        ("requests", {"name": "no id"}, "is not a safe file name"),
    ],
)
def test_bad_writes_are_refused(hub: HubServer, collection: str, record: Record, message: str) -> None:
    store = make_store(hub)
    with pytest.raises(StoreError, match=message):
        store.put(collection, record)
    assert hub.commit_count("org/requests", "dataset") == 1
    assert store.get("requests", "../escape") is None


def test_unconfigured_collection_is_unavailable(hub: HubServer) -> None:
    store = HubStore({"requests": "org/requests"}, token=hub.token, endpoint=hub.url)
    with pytest.raises(StoreError, match="no dataset repo is configured for the 'private' collection"):
        store.put("private", {"id": "a", "email": "someone@example.org"})
    with pytest.raises(StoreError, match="unknown collection"):
        HubStore({"emails": "org/private"})


def test_private_dataset_needs_the_token_and_writes_need_it_too(hub: HubServer) -> None:
    make_store(hub).put("private", {"id": "a", "email": "someone@example.org"})
    anonymous = make_store(hub, token=None)
    with pytest.raises(StoreError, match="cannot read dataset org/private"):
        anonymous.all("private")
    with pytest.raises(StoreError, match=r"refused the commit to org/requests \(401\); nothing was written"):
        anonymous.put("requests", req("a"))
    assert anonymous.all("requests") == []  # public datasets read fine without a token


# --- optimistic concurrency ---------------------------------------------------------------------------------
def test_stale_parent_is_refused_and_the_step_retried(hub: HubServer) -> None:
    store = make_store(hub)
    seen: list[list[str]] = []

    def decide(snapshot: dict[str, Record]) -> tuple[list[Record], str]:
        seen.append(sorted(snapshot))
        if len(seen) == 1:  # another replica commits between our read and our commit
            hub.push(
                "org/requests", {"requests/other.json": dump_record(req("other"))}, repo_type="dataset"
            )
        return [req("mine", after=sorted(snapshot))], "done"

    assert store.transact("requests", decide) == "done"
    assert seen == [[], ["other"]]
    assert hub.rejected_commits == 1
    assert store.all("requests") == [req("mine", after=["other"]), req("other")]


def test_gives_up_after_bounded_attempts(hub: HubServer) -> None:
    store = make_store(hub, max_attempts=3)
    calls = []

    def always_overtaken(snapshot: dict[str, Record]) -> tuple[list[Record], None]:
        calls.append(1)
        hub.push("org/requests", {f"requests/x{len(calls)}.json": dump_record(req(f"x{len(calls)}"))},
                 repo_type="dataset")
        return [req("mine")], None

    with pytest.raises(StoreError, match="gave up after 3 conflicting commits"):
        store.transact("requests", always_overtaken)
    assert len(calls) == hub.rejected_commits == 3
    assert "requests/mine.json" not in hub.files("org/requests", "dataset")


def test_snapshots_download_only_new_blobs(hub: HubServer) -> None:
    store = make_store(hub)
    store.put_missing("requests", [req(f"r{i}") for i in range(5)])
    start = len(hub.requests)
    assert len(store.all("requests")) == 5
    assert downloads(hub, start) == []  # everything it wrote or read before is cached
    make_store(hub).put("requests", req("r9"))  # another replica writes
    start = len(hub.requests)
    assert len(store.all("requests")) == 6
    assert downloads(hub, start) == [
        "/datasets/org/requests/resolve/" + hub.head("org/requests", "dataset") + "/requests/r9.json"
    ]
    start = len(hub.requests)
    store.all("requests")  # same head: no listing, no download
    assert [path for _, path in hub.requests[start:] if "/tree/" in path or "/resolve/" in path] == []


# --- hub_store_from_env -------------------------------------------------------------------------------------
def test_from_env(hub: HubServer, tmp_path) -> None:
    assert hub_store_from_env({}) is None
    with pytest.raises(StoreError, match="RESULTS_DATASET is not set"):
        hub_store_from_env({"REQUESTS_DATASET": "org/requests"})
    env = {
        "HF_ENDPOINT": hub.url,
        "HF_TOKEN": hub.token,
        "REQUESTS_DATASET": "org/requests",
        "RESULTS_DATASET": "org/results",
        "HUB_CACHE_DIR": str(tmp_path / "hub-cache"),
    }
    public_only = hub_store_from_env(env)
    assert public_only.repos == {"requests": "org/requests", "results": "org/results", "reveals": "org/results",
                                 "details": "org/results-details", "votes": "org/results-votes",
                                 "boards": "org/results-boards"}  # one repo per collection; reveals by results
    with pytest.raises(StoreError, match="'private' collection"):
        public_only.put("private", {"id": "a"})
    assert not public_only.serves("hidden_scores")  # hidden-test scores never go to a public dataset
    store = hub_store_from_env({**env, "PRIVATE_DATASET": "org/private"})
    assert store.repos["hidden_scores"] == store.repos["private"] == "org/private"
    store.put("private", {"id": "a", "email": "someone@example.org"})
    assert json.loads(hub.files("org/private", "dataset")["private/a.json"])["email"] == "someone@example.org"
    with pytest.raises(StoreError, match="org/results-details does not exist.*set DETAILS_DATASET"):
        store.put("details", {"id": "v"})  # a missing repo names the setting that points at it
    hub.add_dataset("org/results-details")
    store.put("details", {"id": "v"})
    assert "details/v.json" in hub.files("org/results-details", "dataset")
    assert not any(path.startswith("details/") for path in hub.files("org/results", "dataset"))


def test_each_collection_repo_can_be_named(hub: HubServer, tmp_path) -> None:
    env = {"HF_ENDPOINT": hub.url, "HF_TOKEN": hub.token, "REQUESTS_DATASET": "org/requests",
           "RESULTS_DATASET": "org/results", "HUB_CACHE_DIR": str(tmp_path), "DETAILS_DATASET": "org/details",
           "VOTES_DATASET": " org/votes ", "BOARDS_DATASET": "org/boards"}
    store = hub_store_from_env(env)
    assert {c: store.repos[c] for c in ("details", "votes", "boards")} == {
        "details": "org/details", "votes": "org/votes", "boards": "org/boards"}
    with pytest.raises(StoreError, match="org/votes does not exist.*set VOTES_DATASET"):
        store.get("votes", "v1")


# --- 200 submissions from 20 threads, on every backend ------------------------------------------------------
NOW = datetime(2026, 3, 2, 12, 0, tzinfo=timezone.utc)
TEAMS, PER_TEAM, LIMIT, WINDOW = 25, 8, 2, timedelta(days=7)
SEEDS = [  # earlier submissions: two outside the window (do not count), one inside (counts)
    {
        "id": "seed-0a",
        "team": "team-0",
        "repo": "team-0/old",
        "commit": "a",
        "submitted_at": (NOW - timedelta(days=8)).isoformat(),
    },
    {
        "id": "seed-0b",
        "team": "team-0",
        "repo": "team-0/old",
        "commit": "b",
        "submitted_at": (NOW - timedelta(days=9)).isoformat(),
    },
    {
        "id": "seed-1",
        "team": "team-1",
        "repo": "team-1/old",
        "commit": "c",
        "submitted_at": (NOW - timedelta(days=6)).isoformat(),
    },
]


def submit(store: Store, request: Record) -> tuple[str, str | None]:
    """The rate-limited, de-duplicated submit step (the shape the submit checks use)."""

    def decide(snapshot: dict[str, Record]) -> tuple[list[Record], tuple[str, str | None]]:
        for existing in snapshot.values():
            if (existing["repo"], existing["commit"]) == (request["repo"], request["commit"]):
                return [], ("duplicate", existing["id"])
        since = datetime.fromisoformat(request["submitted_at"]) - WINDOW
        recent = [
            r
            for r in snapshot.values()
            if r["team"] == request["team"] and datetime.fromisoformat(r["submitted_at"]) > since
        ]
        if len(recent) >= LIMIT:
            return [], ("limited", None)
        return [request], ("accepted", request["id"])

    return store.transact("requests", decide)


@pytest.fixture(params=["hub", "local"])
def replicas(request, hub: HubServer, tmp_path) -> list[Store]:  # noqa: ANN001
    """Five store instances on one state, like five app replicas (each used by four threads)."""
    if request.param == "hub":
        return [make_store(hub) for _ in range(5)]
    return [LocalStore(tmp_path / "store") for _ in range(5)]


def test_concurrent_submissions_are_exact(replicas: list[Store]) -> None:
    replicas[0].put_missing("requests", SEEDS)
    submissions = [
        {
            "id": f"req-{team:02d}-{n}",
            "team": f"team-{team}",
            "repo": f"team-{team}/adapter-{n % 4}",  # each adapter+commit twice: the second is a duplicate
            "commit": f"{n % 4:040x}",
            "submitted_at": (NOW - timedelta(minutes=n)).isoformat(),
        }
        for team in range(TEAMS)
        for n in range(PER_TEAM)
    ]
    assert len(submissions) == 200
    outcomes: dict[str, tuple[str, str | None]] = {}
    errors: list[BaseException] = []

    def worker(index: int) -> None:
        store = replicas[index % len(replicas)]
        for request in submissions[index::20]:
            try:
                outcomes[request["id"]] = submit(store, request)
            except BaseException as error:  # surfaced below
                errors.append(error)

    run_in_threads(worker, 20, timeout=120)
    assert not errors and len(outcomes) == 200

    stored = {r["id"]: r for r in replicas[-1].all("requests") if not r["id"].startswith("seed")}
    accepted = {rid for rid, (kind, _) in outcomes.items() if kind == "accepted"}
    assert set(stored) == accepted  # nothing lost, nothing extra
    per_team = Counter(r["team"] for r in stored.values())
    assert per_team == {
        f"team-{t}": 1 if t == 1 else 2 for t in range(TEAMS)
    }  # limits exact, seeds respected
    keys = [(r["repo"], r["commit"]) for r in stored.values()]
    assert len(keys) == len(set(keys))  # never the same adapter + commit twice
    for rid, (kind, existing) in outcomes.items():
        if kind == "duplicate":
            request = next(s for s in submissions if s["id"] == rid)
            assert (stored[existing]["repo"], stored[existing]["commit"]) == (
                request["repo"],
                request["commit"],
            )
    assert Counter(kind for kind, _ in outcomes.values())["accepted"] == 2 * TEAMS - 1


def test_each_accepted_submission_is_one_commit(hub: HubServer) -> None:
    stores = [make_store(hub) for _ in range(4)]
    before = hub.commit_count("org/requests", "dataset")
    results: list[tuple[str, str | None]] = []
    lock = threading.Lock()

    def worker(index: int) -> None:
        for n in range(10):
            request = {
                "id": f"r{index}-{n}",
                "team": f"t{index}-{n // 2}",
                "repo": f"o/{index}-{n}",
                "commit": "0" * 40,
                "submitted_at": NOW.isoformat(),
            }
            outcome = submit(stores[index % 4], request)
            with lock:
                results.append(outcome)

    run_in_threads(worker, 8, timeout=60)
    assert [kind for kind, _ in results] == ["accepted"] * 80
    assert hub.commit_count("org/requests", "dataset") - before == 80
    assert len(stores[0].all("requests")) == 80


def test_rewrite_writes_and_removes_in_one_step(replicas: list[Store]) -> None:
    store, other = replicas[0], replicas[1]
    store.put_missing("requests", [req("keep"), req("drop"), req("again")])

    def decide(snapshot: dict[str, Record]) -> tuple[list[Record], list[str], list[str]]:
        return [req("new"), req("again", team="rewritten")], ["drop", "again", "never-stored"], sorted(snapshot)

    assert store.rewrite("requests", decide) == ["again", "drop", "keep"]
    assert [r["id"] for r in other.all("requests")] == ["again", "keep", "new"]  # a written id is not removed
    assert other.get("requests", "again")["team"] == "rewritten" and other.get("requests", "drop") is None

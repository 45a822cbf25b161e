"""The outbox (``store.outbox``, ``store.outbox_publish``) on SQLite and PostgreSQL, with the local Hub: results,
details, contact records and hidden scores are staged in the queue database, read back at once by every replica,
and published in one commit per dataset per interval, at the paths and with the bytes HubStore writes."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from huggingface_hub import CommitOperationAdd
from sqlalchemy import select

from arena.salt import SALT_RECORD, voter_salt
from challenges.definitions import challenges
from evaluator.worker import write_details
from leaderboard.aggregate import refresh_boards
from store import leases
from store.aggregates import read_aggregates
from store.base import StoreError, dump_record
from store.details_files import read_details_slice
from store.factory import open_store
from store.outbox import OutboxStore
from store.outbox_publish import publish_outbox
from store.routed import RoutedStore
from store.sql_schema import outbox, records
from submissions.service import queue_request, request_record
from tests.board_records import finish, result
from tests.hub_fixtures import add_store_datasets
from tests.hub_server import Fault, HubServer

START = datetime(2026, 3, 10, 10, 0, tzinfo=UTC)
REPOS = {"results": "org/results", "details": "org/results-details", "private": "org/private"}
LEASE_S = 900


@pytest.fixture
def hub(hub_server: HubServer) -> HubServer:
    add_store_datasets(hub_server, "org/requests", "org/results", "org/private")
    return hub_server


def space(hub: HubServer, tmp_path, sql_url: str, name: str, private: bool = True) -> RoutedStore:
    """One replica or worker, configured as a Space is (its own Hub cache, the shared queue database)."""
    return open_store({"REQUESTS_DATASET": "org/requests", "RESULTS_DATASET": "org/results", "HF_TOKEN": hub.token,
                       "HF_ENDPOINT": hub.url, "HUB_CACHE_DIR": str(tmp_path / name), "DATABASE_URL": sql_url,
                       **({"PRIVATE_DATASET": "org/private"} if private else {})})


def staged(store: RoutedStore) -> OutboxStore:
    found = store.backend("results")
    assert isinstance(found, OutboxStore)
    return found


def publish(store: RoutedStore, now: float, holder: str = "publisher", **limits: int) -> dict[str, int | None]:
    """One run of the publishing job in ``store``'s process: repo -> files published (None: not the holder)."""
    box = staged(store)
    return {repo: publish_outbox(box, repo, holder=holder, now=now, lease_s=LEASE_S, **limits) for repo in box.repos()}


def samples(n: int) -> dict:
    return {"arc_easy": [{"doc": f"question {n}.{i}", "target": "A", "pred": "B", "acc": float(i % 2)}
                         for i in range(4)]}


def evaluated(store: RoutedStore, n: int, worker: str) -> tuple[dict, bytes]:
    """A worker's finish path: the details, then the write-once result; the staged details' bytes."""
    record = result(f"result-{n:04d}", f"Team {n}", 50.0 + n % 7, arc_easy=50.0 + n % 7)
    write_details(store, {"id": record["id"], "attempt": 1, "worker": worker, "samples": samples(n),
                          "request_id": f"req-{n:04d}"})
    assert store.put_missing("results", [record]) == 1
    with store.open_file("details", f"{record['id']}.parquet") as details:
        return record, details.read()


def submission(n: int, now: datetime) -> dict:
    return request_record(challenges()["general_nlp"], now, team=f"team {n}", account=None, description="",
                          kind="adapter", repo_id=f"team{n}/adapter", revision="main", commit=f"{n:040x}",
                          base_model="org/base", base_commit="b" * 40, base_params=7_000_000_000,
                          code_url="https://github.com/t/fl", comm_gb=1.0, num_clients=10, num_rounds=5,
                          comm_check=None)


def hub_files(hub: HubServer, repo: str, folder: str) -> dict[str, bytes]:
    return {path: content for path, content in hub.files(repo, "dataset").items() if path.startswith(f"{folder}/")}


@pytest.mark.hub_limits
def test_a_busy_hour_makes_at_most_12_commits_per_dataset_and_publishes_every_file_as_hubstore_would(
        hub, tmp_path, sql_url, capsys):
    workers = [space(hub, tmp_path, sql_url, f"gpu-{w}") for w in range(3)]
    app = space(hub, tmp_path, sql_url, "app")
    challenge, clock = challenges()["general_nlp"], hub.limits.clock
    expected: dict[str, dict[str, bytes]] = {repo: {} for repo in REPOS.values()}
    results = contacts = 0
    while clock() < 3600:
        minute = int(clock() // 60)
        now = START + timedelta(seconds=clock())
        while results < (minute + 1) * 150 // 60:  # 150 evaluations an hour, finished by several workers
            record, details = evaluated(workers[results % 3], results, f"gpu-{results % 3}")
            expected[REPOS["results"]][f"results/{record['id']}.json"] = dump_record(record)
            expected[REPOS["details"]][f"details/{record['id']}.parquet"] = details
            results += 1
        while contacts < (minute + 1) * 1000 // 60:  # 1,000 submissions an hour, each with its contact record
            request = submission(contacts, now)
            assert queue_request(app, challenge, request, f"lead{contacts}@team.org", now).status == "queued"
            contact = {"id": request["id"], "contact_email": f"lead{contacts}@team.org", "account": None}
            expected[REPOS["private"]][f"private/{request['id']}.json"] = dump_record(contact)
            contacts += 1
        if clock() % 300 == 0:  # every process runs the job; the lease holders publish
            runs = [publish(store, clock(), holder=f"p{i}") for i, store in enumerate([app, *workers])]
            for repo in REPOS.values():
                assert sum(run[repo] is not None for run in runs) == 1, repo  # one holder per dataset
        clock.advance(60)
    stats = hub.stats()["commits"]
    with capsys.disabled():
        print(f"\none hour: {results} results + details, {contacts} contact records; commits per dataset: "
              + ", ".join(f"{repo} {stats[f'datasets/{repo}']['total']} (peak {stats[f'datasets/{repo}']['peak']})"
                          for repo in REPOS.values()))
    for repo in REPOS.values():
        assert stats[f"datasets/{repo}"]["peak"] <= 12 and stats[f"datasets/{repo}"]["refused"] == 0, repo
    publish(app, clock(), holder="p0")  # the last minutes' files
    for repo, files in expected.items():
        folder = next(iter(files)).split("/")[0]
        assert hub_files(hub, repo, folder) == files, repo  # every file, byte-identical, nothing else
    assert staged(app).pending(staged(app).collections, 10_000, 1 << 40) == []


def test_every_replica_reads_a_result_at_once_before_and_after_publication(hub, tmp_path, sql_url):
    worker, replica = space(hub, tmp_path, sql_url, "worker"), space(hub, tmp_path, sql_url, "replica")
    before = replica.version("results")
    record = {**result("fresh", "Fresh Team", 61.0, arc_easy=61.0), "request_id": "req-fresh"}
    write_details(worker, {"id": "fresh", "attempt": 1, "worker": "gpu-1", "samples": samples(1)})
    finish(worker, record)  # the result (staged), then its request FINISHED
    assert hub_files(hub, "org/results", "results") == {} and hub_files(hub, "org/results-details", "details") == {}
    pinned = replica.version("results")
    assert pinned != before  # caches keyed on the version see the staged result
    assert replica.get("results", "fresh") == record and replica.all("results") == [record]  # the arena's read
    assert replica.get_at("results", "fresh", pinned) == record and replica.get_at("results", "fresh", before) is None
    rows, total = read_details_slice(replica, "fresh", "arc_easy")  # the Details tab
    assert total == 4 and rows[0]["doc"] == "question 1.0"
    refresh_boards(replica)  # the boards job reads the result at the pinned version
    assert "fresh" in {row["id"] for row in read_aggregates(replica)["general_nlp"]["rows"]}

    assert publish(worker, now=1000) == {"org/results": 1, "org/results-details": 1, "org/private": 0}
    assert hub_files(hub, "org/results", "results") == {"results/fresh.json": dump_record(record)}
    assert replica.get_at("results", "fresh", pinned) == record  # the pinned read follows the commit that holds it
    assert replica.get("results", "fresh") == record and replica.all("results") == [record]
    assert read_details_slice(replica, "fresh", "arc_easy")[1] == 4
    assert replica.version("results") != pinned
    publish(worker, now=1000 + 2 * 86400)  # a day later the published row itself goes
    with staged(worker).engine.connect() as connection:
        assert connection.execute(select(outbox)).all() == []
    assert replica.get("results", "fresh") == record and read_details_slice(replica, "fresh", "arc_easy")[1] == 4


def test_readers_racing_the_publisher_never_miss_a_staged_file(hub, tmp_path, sql_url):
    writer, reader = space(hub, tmp_path, sql_url, "writer"), space(hub, tmp_path, sql_url, "reader")
    written = [evaluated(writer, n, "gpu-1")[0] for n in range(12)]
    pinned = reader.version("results")
    misses: list[str] = []
    passes = []
    done, reading = threading.Event(), threading.Event()

    def read_all_the_time() -> None:
        while not done.is_set():
            reading.set()
            passes.append(1)
            listed = {r["id"] for r in reader.all("results")}
            for record in written:
                if reader.get("results", record["id"]) != record or record["id"] not in listed:
                    misses.append(f"result {record['id']}")
                if reader.get_at("results", record["id"], pinned) != record:
                    misses.append(f"pinned {record['id']}")
                details = reader.open_file("details", f"{record['id']}.parquet")
                if details is None:
                    misses.append(f"details {record['id']}")
                else:
                    details.close()

    thread = threading.Thread(target=read_all_the_time)
    thread.start()
    reading.wait()
    try:
        for run in range(8):  # batches of 3 files: 4 commits per dataset while the reader reads
            publish(writer, now=run * 300.0, max_files=3)
    finally:
        done.set()
        thread.join()
    assert misses == [] and len(passes) > 1
    assert len(hub_files(hub, "org/results", "results")) == 12 and len(hub_files(hub, "org/results-details", "details")) == 12


def test_a_holder_killed_between_commit_and_removal_is_republished_once_and_two_holders_publish_once(
        hub, tmp_path, sql_url):
    dying, survivor = space(hub, tmp_path, sql_url, "dying"), space(hub, tmp_path, sql_url, "survivor")
    written = [evaluated(dying, n, "gpu-1")[0] for n in range(5)]
    box = staged(dying)
    # the dying holder takes the lease, commits its batch and dies before dropping the rows
    assert leases.acquire(box.live, "publish-outbox-org/results", "dying", now=0, ttl_s=LEASE_S) is not None
    batch = box.pending(("results",), 100, 1 << 30)
    box.hub.api.create_commit("org/results", [CommitOperationAdd(s.path, s.body) for s in batch],
                              commit_message="dying", repo_type="dataset")
    late = evaluated(survivor, 5, "gpu-2")[0]  # staged after the batch was taken
    commits = hub.commit_count("org/results", "dataset")
    assert publish_outbox(staged(survivor), "org/results", holder="survivor", now=600, lease_s=LEASE_S) is None
    assert publish_outbox(staged(survivor), "org/results", holder="survivor", now=901, lease_s=LEASE_S) == 6
    assert publish_outbox(staged(survivor), "org/results", holder="survivor", now=1200, lease_s=LEASE_S) == 0
    assert hub.commit_count("org/results", "dataset") == commits + 1
    assert hub_files(hub, "org/results", "results") == {f"results/{r['id']}.json": dump_record(r)
                                                        for r in [*written, late]}  # each once, none lost
    assert leases.acquire(box.live, "publish-outbox-org/results", "dying", now=1300, ttl_s=LEASE_S) is None

    evaluated(dying, 6, "gpu-1")
    both = [publish_outbox(staged(store), "org/results", holder=holder, now=2200, lease_s=LEASE_S)
            for store, holder in ((dying, "dying"), (survivor, "survivor"))]
    assert sorted(both, key=str) == [1, None]  # the lease expired: one of them publishes, once


def test_a_hub_error_leaves_the_batch_for_the_next_run(hub, tmp_path, sql_url):
    store = space(hub, tmp_path, sql_url, "app")
    record = evaluated(store, 1, "gpu-1")[0]
    hub.inject(Fault(path=r"/api/datasets/org/results/commit/", method="POST", status=500))
    with pytest.raises(Exception, match="500"):
        publish_outbox(staged(store), "org/results", holder="p", now=0, lease_s=LEASE_S)
    assert hub_files(hub, "org/results", "results") == {} and store.get("results", record["id"]) == record
    assert publish_outbox(staged(store), "org/results", holder="p", now=300, lease_s=LEASE_S) == 1
    assert hub_files(hub, "org/results", "results") == {f"results/{record['id']}.json": dump_record(record)}


def test_put_missing_is_write_once_across_the_outbox_and_the_hub(hub, tmp_path, sql_url):
    stores = [space(hub, tmp_path, sql_url, f"replica-{i}") for i in range(4)]
    barrier, won = threading.Barrier(len(stores)), []

    def race(i: int) -> None:
        barrier.wait()
        won.append((i, stores[i].put_missing("results", [result("same", f"Writer {i}", float(i))])))

    threads = [threading.Thread(target=race, args=(i,)) for i in range(len(stores))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    (winner,) = [i for i, count in won if count == 1]
    assert sorted(count for _, count in won) == [0, 0, 0, 1]
    assert all(store.get("results", "same")["team"] == f"Writer {winner}" for store in stores)

    on_hub = result("older", "Published Before", 40.0)
    hub.push("org/results", {"results/older.json": dump_record(on_hub)}, repo_type="dataset")
    assert stores[0].put_missing("results", [result("older", "Again", 1.0), result("new", "New", 2.0)]) == 1
    assert [s.path for s in staged(stores[0]).pending(("results",), 100, 1 << 30)] == ["results/same.json",
                                                                                       "results/new.json"]
    assert stores[1].get("results", "older") == on_hub
    publish(stores[0], now=0)
    assert stores[2].put_missing("results", [result("same", "Late", 0.0)]) == 0  # published: still taken
    assert hub.files("org/results", "dataset")["results/same.json"] == dump_record(
        result("same", f"Writer {winner}", float(winner)))


def test_the_private_dataset_s_salt_contacts_and_hidden_scores_go_through_the_outbox(hub, tmp_path, sql_url):
    first, second = space(hub, tmp_path, sql_url, "a"), space(hub, tmp_path, sql_url, "b")
    salt = voter_salt(first, "", on_space=True)
    assert voter_salt(second, "", on_space=True) == salt and len(salt) >= 32  # one salt for every replica
    first.put("private", {"id": "req-1", "contact_email": "old@team.org", "account": None})
    second.put("private", {"id": "req-1", "contact_email": "new@team.org", "account": None})  # replaces it
    hidden = {"id": "result-m", "challenge": "merging", "request_id": "m", "team": "T", "name": "recipe",
              "scores": {"test_xsum": 12.5}, "average": 12.5, "evaluated_at": "2026-03-10T10:00:00Z"}
    assert first.put_missing("hidden_scores", [hidden]) == 1 and second.put_missing("hidden_scores", [hidden]) == 0
    assert second.all("hidden_scores") == [hidden]  # what a reveal reads
    assert publish(first, now=0)["org/private"] == 3
    private = hub_files(hub, "org/private", "private")
    assert set(private) == {f"private/{SALT_RECORD}.json", "private/req-1.json"}
    assert b"new@team.org" in private["private/req-1.json"] and b"old@team.org" not in private["private/req-1.json"]
    assert hub_files(hub, "org/private", "hidden_scores") == {"hidden_scores/result-m.json": dump_record(hidden)}
    assert not any(path.startswith("hidden_scores/") for repo in ("org/results", "org/results-details")
                   for path in hub.files(repo, "dataset"))
    assert voter_salt(space(hub, tmp_path, sql_url, "c"), "", on_space=True) == salt  # read from the Hub now


def test_without_a_private_dataset_no_email_is_kept_anywhere(hub, tmp_path, sql_url):
    store = space(hub, tmp_path, sql_url, "app", private=False)
    now = START
    request = submission(1, now)
    assert queue_request(store, challenges()["general_nlp"], request, "secret@team.org", now).status == "queued"
    assert not store.serves("private") and not store.serves("hidden_scores")
    with pytest.raises(StoreError):
        store.put("private", {"id": "x", "contact_email": "secret@team.org", "account": None})
    evaluated(store, 1, "gpu-1")
    publish(store, now=0)
    with staged(store).engine.connect() as connection:
        bodies = [bytes(row.body or b"") for row in connection.execute(select(outbox.c.body))]
        bodies += [row.body.encode() for row in connection.execute(select(records.c.body))]
    assert bodies and not any(b"secret@team.org" in body for body in bodies)
    assert not any(b"secret@team.org" in content for repo in ("org/requests", "org/results", "org/private")
                   for content in hub.files(repo, "dataset").values())


def test_a_staged_collection_refuses_a_transaction(hub, tmp_path, sql_url):
    store = space(hub, tmp_path, sql_url, "app")
    with pytest.raises(StoreError, match="staged"):
        store.transact("results", lambda snapshot: ([result("x", "X", 1.0)], None))
    assert store.get("results", "x") is None and store.all("results") == []


def test_a_batch_is_bounded_by_files_and_bytes_and_takes_the_oldest_first(hub, tmp_path, sql_url):
    store = space(hub, tmp_path, sql_url, "app")
    written = [evaluated(store, n, "gpu-1")[0] for n in range(5)]
    sizes = [len(dump_record(record)) for record in written]
    box = staged(store)
    assert [s.name for s in box.pending(("results",), 2, 1 << 30)] == ["result-0000.json", "result-0001.json"]
    assert len(box.pending(("results",), 10, sizes[0] + sizes[1])) == 2
    assert len(box.pending(("results",), 10, 1)) == 1  # one file over the byte bound still goes, alone
    counts = [publish_outbox(box, "org/results", holder="p", now=run * 300.0, lease_s=LEASE_S, max_bytes=1)
              for run in range(6)]
    assert counts == [1, 1, 1, 1, 1, 0]
    assert len(hub_files(hub, "org/results", "results")) == 5

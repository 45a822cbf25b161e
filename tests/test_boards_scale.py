"""The boards at 20,000 results on the local Hub (with the Hub's limits): a replica's first board read costs a
few calls per challenge and lists no results, board reads stay fast, a result finished after the aggregate
shows at once, and the boards job folds it and the published CSV's changes into the aggregates."""

from __future__ import annotations

import re
import time

import pytest

from challenges.definitions import challenges
from leaderboard.aggregate import refresh_boards
from leaderboard.api import board_api
from leaderboard.boards import Boards
from leaderboard.details import lookup_details
from store.base import LocalStore
from store.hub import HubStore
from store.routed import RoutedStore
from tests.board_records import result
from tests.hub_server import HubServer
from tests.seed_results import (
    many_results,
    seed_boards,
    seed_results,
    write_finished_requests,
)
from tests.test_published import HEADER, ROWS

RESULTS, BOARDS = "org/results", "org/results-boards"
COUNT = 20_000


def calls(server: HubServer) -> int:
    stats = server.stats()
    return sum(caller["window"] for bucket in ("api", "resolvers") for caller in stats[bucket].values())


def results_listed_or_downloaded(server: HubServer, since: int) -> list[str]:
    """Listings of the results folder and downloads of result files since request ``since``."""
    listing, download = re.compile(rf"{RESULTS}/tree/[^/]+/results"), re.compile(rf"{RESULTS}/resolve/.*/results/")
    return [path for _, path in server.requests[since:] if listing.search(path) or download.search(path)]


@pytest.fixture
def store(hub_server: HubServer, tmp_path) -> RoutedStore:
    for repo in (RESULTS, BOARDS):
        hub_server.add_dataset(repo)
    records = many_results(COUNT)
    head = seed_results(hub_server, RESULTS, records)
    seed_boards(hub_server, BOARDS, records, head)
    write_finished_requests(tmp_path / "queue", records)  # the requests table (SQL in production)
    hub = HubStore({"results": RESULTS, "reveals": RESULTS, "details": RESULTS, "boards": BOARDS},
                   token=HubServer.token, endpoint=hub_server.url)
    return RoutedStore({"requests": LocalStore(tmp_path / "queue")}, default=hub)


def finish(store: RoutedStore, record: dict) -> None:
    """As the worker does: the result written once, then its request FINISHED."""
    assert store.put_missing("results", [record]) == 1
    store.put("requests", {"id": record["request_id"], "state": "FINISHED", "result_id": record["id"],
                           "challenge": record["challenge"], "submitted_at": "2026-03-01T09:00:00+00:00",
                           "heartbeat_at": "2026-03-01T09:20:00+00:00"})  # marked FINISHED with a last beat


@pytest.mark.hub_limits
def test_a_new_replica_reads_the_boards_in_a_few_calls_and_serves_them_fast(hub_server, store, capsys):
    start, since = calls(hub_server), len(hub_server.requests)
    boards = Boards(store, refresh_wait_s=60)
    read_board, _, read_details = board_api(boards, store)
    assert read_board("general_nlp")["total"] == COUNT // 4
    first_read = calls(hub_server) - start
    # the boards head, the boards listing, one file per aggregate, the reveals' head and folder: no results
    assert first_read <= 2 * len(challenges()) + 2, first_read
    assert results_listed_or_downloaded(hub_server, since) == []

    ids = list(challenges())
    timings = []
    for n in range(200):
        started = time.perf_counter()
        page = read_board(ids[n % len(ids)], page=1 + n % 7, sort_by="average", descending=n % 2 == 0)
        timings.append(time.perf_counter() - started)
        assert page["rows"] or ids[n % len(ids)] == "merging"
    p95 = sorted(timings)[int(0.95 * len(timings)) - 1]
    with capsys.disabled():
        print(f"\nboards at {COUNT} results: first read {first_read} Hub calls, read_board p95 "
              f"{p95 * 1000:.1f} ms, worst {max(timings) * 1000:.1f} ms")
    assert p95 <= 0.2
    assert read_details("r000004")["result"]["team"] == "team-4"  # a board row's details, from memory

    fresh = {**result("fresh", "Fresh", 99.5), "request_id": "q-fresh"}
    finish(store, fresh)
    since = len(hub_server.requests)
    frame = boards.frame("general_nlp", refresh=True)
    assert frame.iloc[0]["id"] == "fresh" and frame.iloc[0]["rank"] == 1  # at once, before the job runs
    fetched = [path for _, path in hub_server.requests[since:] if "/resolve/" in path and "/results/" in path]
    assert fetched == [f"/datasets/{RESULTS}/resolve/main/results/fresh.json"]  # only the new result


@pytest.mark.hub_limits
def test_the_job_folds_new_results_and_published_changes_into_the_aggregates(hub_server, store, tmp_path):
    csvs = tmp_path / "csv"
    csvs.mkdir()
    (csvs / "general_nlp.csv").write_text(HEADER + ROWS["alpha"] + ROWS["beta"], encoding="utf-8")
    finish(store, {**result("fresh", "Fresh", 99.5), "request_id": "q-fresh"})
    start, since = calls(hub_server), len(hub_server.requests)
    done = refresh_boards(store, csvs)
    assert done.written == ("general_nlp", "merging") and done.pending == 0  # merging had no aggregate yet
    assert calls(hub_server) - start <= 2 * len(challenges()) + 6
    assert results_listed_or_downloaded(hub_server, since) == [
        f"/datasets/{RESULTS}/resolve/{store.version('results')}/results/fresh.json"]
    rows = {row["id"]: row for row in store.get("boards", "general_nlp")["rows"]}
    assert len(rows) == COUNT // 4 + 1 + 2 and rows["fresh"]["average"] == 99.5
    assert rows["published-general_nlp-beta"]["team"] == "Beta"

    edited = ROWS["beta"].replace("Beta,,", "Beta Team,,")
    (csvs / "general_nlp.csv").write_text(HEADER + edited + ROWS["gamma"], encoding="utf-8")  # alpha removed
    assert refresh_boards(store, csvs).written == ("general_nlp",)
    rows = {row["id"]: row for row in store.get("boards", "general_nlp")["rows"]}
    assert "published-general_nlp-alpha" not in rows and rows["published-general_nlp-beta"]["team"] == "Beta Team"
    assert rows["published-general_nlp-gamma"]["team"] == "Gamma" and len(rows) == COUNT // 4 + 1 + 2
    boards = Boards(store)
    frame = boards.frame("general_nlp")
    assert frame[frame["source"] == "published"]["team"].tolist() == ["Beta Team", "Gamma"]
    since = len(hub_server.requests)
    assert "Beta Team" in lookup_details(store, "published-general_nlp-beta", boards)
    assert not [path for _, path in hub_server.requests[since:] if "/boards/" in path]  # from the boards' memory
    assert refresh_boards(store, csvs).written == ()  # nothing changed: nothing written


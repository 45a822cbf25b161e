import threading
import time

from leaderboard.boards import Boards
from store.base import LocalStore
from store.hub import HubStore
from tests.board_records import finish, result
from tests.hub_server import Fault, HubServer


def test_new_results_show_after_recheck_or_refresh(tmp_path):
    store = LocalStore(tmp_path)
    finish(store, result("a", "Alpha", 50.0))
    boards = Boards(store, recheck_s=3600)
    assert boards.frame("general_nlp")["team"].tolist() == ["Alpha"]
    finish(store, result("b", "Beta", 60.0))
    assert boards.frame("general_nlp")["team"].tolist() == ["Alpha"]  # not asked again within recheck_s
    assert boards.frame("general_nlp", refresh=True)["team"].tolist() == ["Beta", "Alpha"]
    finish(store, result("c", "Gamma", 70.0))
    assert Boards(store, recheck_s=0).frame("general_nlp")["team"].tolist() == ["Gamma", "Beta", "Alpha"]


HUB_DELAY_S = 2.0


def test_a_board_read_with_a_warm_cache_does_not_wait_on_a_slow_hub(hub_server: HubServer):
    repos = {name: f"org/{name}" for name in ("requests", "results", "boards")}
    for repo in repos.values():
        hub_server.add_dataset(repo)
    store = HubStore(repos, token=HubServer.token, endpoint=hub_server.url)
    finish(store, result("a", "Alpha", 50.0))
    boards = Boards(store, recheck_s=0, refresh_wait_s=0.1)
    assert boards.frame("general_nlp")["team"].tolist() == ["Alpha"]  # the first read may wait: nothing to show
    finish(store, result("b", "Beta", 60.0))
    hub_server.inject(Fault(path="/datasets/org/", status=None, delay_s=HUB_DELAY_S, times=None))

    for refresh in (False, False, True, False, True):  # reads, and visitors pressing Refresh
        started = time.monotonic()
        assert boards.frame("general_nlp", refresh=refresh)["team"].tolist() == ["Alpha"]
        assert time.monotonic() - started < 0.5, "a board read waited on the Hub"
    assert [t.name for t in threading.enumerate()].count("boards-refresh") == 1, "one refresh at a time"

    deadline = time.monotonic() + 4 * HUB_DELAY_S + 10
    while boards.frame("general_nlp")["team"].tolist() != ["Beta", "Alpha"]:
        assert time.monotonic() < deadline, "the refreshed results never showed up"
        time.sleep(0.1)


def test_refreshes_ask_the_hub_every_sixth_recheck_and_the_queue_every_time(hub_server: HubServer, tmp_path):
    """Ten replicas refreshing every 10 s would spend 60 % of a token's 1,000 API calls per 5 minutes on the
    boards' and the reveals' heads alone (the bench's busy hour peaked at 523): the Hub is asked once per six
    rechecks (the aggregates change once per BOARDS_REFRESH_S), while a result finished since shows at once."""
    from store.routed import RoutedStore

    repos = {"results": "org/results", "reveals": "org/results", "boards": "org/boards"}
    for repo in set(repos.values()):
        hub_server.add_dataset(repo)
    store = RoutedStore({"requests": LocalStore(tmp_path / "queue")},
                        HubStore(repos, token=HubServer.token, endpoint=hub_server.url))
    finish(store, result("a", "Alpha", 50.0))
    boards = Boards(store, recheck_s=0.05, refresh_wait_s=60)
    boards.frame("general_nlp")
    since, began = len(hub_server.requests), time.monotonic()
    for _ in range(24):
        time.sleep(0.05)
        boards.frame("general_nlp", refresh=True)
    elapsed = time.monotonic() - began
    heads = [path for _, path in hub_server.requests[since:] if path.startswith("/api/")]
    assert set(heads) <= {"/api/datasets/org/boards/refs", "/api/datasets/org/results/refs"}
    assert len(heads) / 2 <= elapsed / (6 * 0.05) + 1 and len(heads) / 2 <= 24 / 3, (len(heads), elapsed)
    finish(store, result("b", "Beta", 60.0))
    time.sleep(0.05)
    assert boards.frame("general_nlp", refresh=True)["team"].tolist() == ["Beta", "Alpha"]  # no Hub asked
    boards.recheck_hub()  # this replica wrote to the Hub (an organiser's reveal): the next refresh asks it
    since = len(hub_server.requests)
    boards.frame("general_nlp", refresh=True)
    assert "/api/datasets/org/boards/refs" in [path for _, path in hub_server.requests[since:]]

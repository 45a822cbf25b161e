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

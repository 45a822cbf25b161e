from leaderboard.boards import Boards
from submissions.store import LocalStore
from tests.board_records import result


def test_new_results_show_after_recheck_or_refresh(tmp_path):
    store = LocalStore(tmp_path)
    store.put("results", result("a", "Alpha", 50.0))
    boards = Boards(store, recheck_s=3600)
    assert boards.frame("general_nlp")["team"].tolist() == ["Alpha"]
    store.put("results", result("b", "Beta", 60.0))
    assert boards.frame("general_nlp")["team"].tolist() == ["Alpha"]  # not asked again within recheck_s
    assert boards.frame("general_nlp", refresh=True)["team"].tolist() == ["Beta", "Alpha"]
    store.put("results", result("c", "Gamma", 70.0))
    assert Boards(store, recheck_s=0).frame("general_nlp")["team"].tolist() == ["Gamma", "Beta", "Alpha"]

import pytest

from challenges.definitions import challenges
from leaderboard.table import BoardQuery, board_frame, parse_date, query_page
from tests.board_records import result

NLP = challenges()["general_nlp"]


@pytest.fixture
def frame():
    return board_frame(NLP, [
        result("r1", "Alpha", 9.97, comm_gb=10.5, date="2025-04-12", base="Qwen2.5-7B-Instruct"),
        result("r2", "beta", 10.1, comm_gb=2.9, date="2024-12-09", base="Llama-3.2-3B"),
        result("r3", "Gamma", 67.0, comm_gb=None, date="", base="Phi-4"),
        result("r4", "delta", 50.0, comm_gb=0.7, date="2026-01-14", base="Qwen2.5-1.5B-Instruct",
               source="published"),
        result("other", "Elsewhere", 99.0, challenge="finance"),
    ])


def teams(frame, **query):
    return query_page(frame, BoardQuery(**query)).rows["team"].tolist()


def test_only_this_challenge_and_ranked(frame):
    assert frame["team"].tolist() == ["Gamma", "delta", "beta", "Alpha"]
    assert frame["rank"].tolist() == [1, 2, 3, 4]


def test_numeric_sort_not_text(frame):
    assert teams(frame, sort_key="average") == ["Gamma", "delta", "beta", "Alpha"][::-1]
    assert teams(frame, sort_key="average", sort_desc=True) == ["Gamma", "delta", "beta", "Alpha"]
    # 2.9 GB < 10.5 GB (text order would put "10.5" first); unknown cost last in both directions
    assert teams(frame, sort_key="comm_gb") == ["delta", "beta", "Alpha", "Gamma"]
    assert teams(frame, sort_key="comm_gb", sort_desc=True) == ["Alpha", "beta", "delta", "Gamma"]


def test_text_sort_ignores_case_and_dates_sort_chronologically(frame):
    assert teams(frame, sort_key="team") == ["Alpha", "beta", "delta", "Gamma"]
    assert teams(frame, sort_key="date") == ["beta", "Alpha", "delta", "Gamma"]


def test_rank_sort_descending_reverses(frame):
    assert teams(frame, sort_key="rank", sort_desc=True) == ["Alpha", "beta", "delta", "Gamma"]


def test_header_click_toggles_direction():
    query = BoardQuery().sorted_by("comm_gb")
    assert (query.sort_key, query.sort_desc) == ("comm_gb", False)
    assert query.sorted_by("comm_gb").sort_desc is True
    assert BoardQuery().sorted_by("average").sort_desc is True


def test_search_team_and_model(frame):
    assert teams(frame, search="ALPHA") == ["Alpha"]
    assert teams(frame, search="qwen") == ["delta", "Alpha"]
    assert teams(frame, search="qwen 1.5b") == ["delta"]
    assert teams(frame, search="nobody") == []


def test_filter_base_family_or_model(frame):
    assert teams(frame, base_models=("family:Qwen",)) == ["delta", "Alpha"]
    assert teams(frame, base_models=("model:Phi-4", "family:Llama")) == ["Gamma", "beta"]


def test_filter_cost_range_excludes_unknown(frame):
    assert teams(frame, comm_min=1.0, comm_max=10.5) == ["beta", "Alpha"]
    assert teams(frame, comm_max=1) == ["delta"]


def test_filter_date_range_and_source(frame):
    assert teams(frame, date_from="2025-01-01") == ["delta", "Alpha"]
    assert teams(frame, date_from="2025-01-01", date_to="2025-12-31") == ["Alpha"]
    assert teams(frame, sources=("published",)) == ["delta"]
    assert teams(frame, sources=("verified",)) == ["Gamma", "beta", "Alpha"]


def test_paging(frame):
    page = query_page(frame, BoardQuery(page_size=3, page=2))
    assert (page.total, page.pages, page.page, page.rows["team"].tolist()) == (4, 2, 2, ["Alpha"])
    assert query_page(frame, BoardQuery(page_size=3, page=9)).page == 2


def test_parse_date_accepts_published_and_iso_formats():
    assert parse_date("14.01.26") == "2026-01-14"
    assert parse_date(" 2025-04-12 ") == "2025-04-12"
    assert parse_date("") is None
    with pytest.raises(ValueError, match="not a date: use YYYY-MM-DD"):
        parse_date("last week")


def test_a_partial_run_is_shown_as_partial_unranked_after_the_ranked_rows_in_both_directions():
    frame = board_frame(NLP, [result("s", "Sample", 99.0, source="partial"),
                              result("v", "Real", 10.0), result("p", "Paper", 20.0, source="published")])
    assert frame["source"].tolist() == ["published", "verified", "partial"]
    assert frame["rank"].tolist()[:2] == [1, 2] and frame["rank"].isna().tolist() == [False, False, True]
    assert teams(frame, sort_key="rank", sort_desc=True) == ["Real", "Paper", "Sample"]
    assert teams(frame, sources=("published", "verified")) == ["Paper", "Real"]

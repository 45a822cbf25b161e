"""What a visitor types into a board's filter boxes: understood inputs filter, an input that is not understood
filters nothing and is named in a note, whatever was typed before."""

import pytest

from challenges.definitions import challenges
from leaderboard.filter_inputs import FilterInputs, read_filters
from leaderboard.table import BoardQuery, board_frame, query_page
from tests.board_records import result

NLP = challenges()["general_nlp"]


@pytest.fixture
def frame():
    return board_frame(NLP, [
        result("r1", "Alpha", 9.97, comm_gb=10.5, date="2025-04-12"),
        result("r2", "beta", 10.1, comm_gb=2.9, date="2024-12-09"),
        result("r3", "Gamma", 67.0, comm_gb=None, date=""),
        result("r4", "delta", 50.0, comm_gb=0.7, date="2026-01-14"),
    ])


def shown(frame, query):
    return query_page(frame, query).rows["team"].tolist()


ALL = ["Gamma", "delta", "beta", "Alpha"]


def test_empty_boxes_filter_nothing_and_zero_is_a_real_bound(frame):
    query, problems = read_filters(BoardQuery(), FilterInputs(comm_min="", comm_max="  "))
    assert (query.comm_min, query.comm_max, problems) == (None, None, [])
    assert shown(frame, query) == ALL
    query, problems = read_filters(BoardQuery(), FilterInputs(comm_max="0"))
    assert (query.comm_max, problems) == (0.0, []) and shown(frame, query) == []
    query, _ = read_filters(BoardQuery(), FilterInputs(comm_min="0"))
    assert shown(frame, query) == ["delta", "beta", "Alpha"]  # every known cost; the unknown one is out
    query, _ = read_filters(BoardQuery(), FilterInputs(comm_min="0.7", comm_max="2.9 GB"))
    assert shown(frame, query) == ["delta", "beta"]


@pytest.mark.parametrize("typed, says", [
    ("abc", "'abc' is not a number of GB"),
    ("-1", "-1 GB is below 0"),
    ("nan", "'nan' is not a number of GB"),
    ("1e999", "'1e999' is not a number of GB"),
])
def test_a_cost_that_is_not_understood_filters_nothing_and_says_why(frame, typed, says):
    query, problems = read_filters(BoardQuery(comm_min=2.0), FilterInputs(comm_min=typed, comm_max="5"))
    assert query.comm_min is None and query.comm_max == 5.0  # the other bound still applies
    assert shown(frame, query) == ["delta", "beta"]
    assert len(problems) == 1 and problems[0].startswith("Comm. costs from (GB):") and says in problems[0]


def test_cost_range_upside_down_filters_nothing_whichever_box_was_typed_last(frame):
    """Before: the handler kept the previous query, so min > max showed old rows or none depending on the
    order the two boxes were typed in."""
    typed = FilterInputs(comm_min="5", comm_max="3")
    after_min, problems = read_filters(BoardQuery(comm_max=3.0), typed)
    after_max, _ = read_filters(BoardQuery(comm_min=5.0), typed)
    assert after_min == after_max and (after_min.comm_min, after_min.comm_max) == (None, None)
    assert shown(frame, after_min) == ALL
    assert problems == ["Comm. costs: 'from' (5 GB) is larger than 'to' (3 GB), so no cost filter is applied "
                        "until from ≤ to."]


def test_a_date_that_is_not_understood_filters_nothing_and_says_why(frame):
    query, problems = read_filters(BoardQuery(date_from="2025-01-01"), FilterInputs(date_from="garbage"))
    assert query.date_from is None and shown(frame, query) == ALL
    assert problems == ["Date from: 'garbage' is not a date: use YYYY-MM-DD (for example 2025-04-12) or "
                        "dd.mm.yy. This box filters nothing until it holds a date."]
    query, problems = read_filters(BoardQuery(), FilterInputs(date_from="01.01.25", date_to="2025-12-31"))
    assert problems == [] and shown(frame, query) == ["Alpha"]


def test_date_range_upside_down_filters_nothing(frame):
    query, problems = read_filters(BoardQuery(), FilterInputs(date_from="2026-01-01", date_to="2025-01-01"))
    assert (query.date_from, query.date_to) == (None, None) and shown(frame, query) == ALL
    assert problems == ["Dates: 'from' (2026-01-01) is later than 'to' (2025-01-01), so no date filter is "
                        "applied until from ≤ to."]


def test_every_problem_is_listed_and_the_rest_still_applies(frame):
    query, problems = read_filters(BoardQuery(), FilterInputs(search="a", comm_max="x", date_to="31.02.25",
                                                              sources=["verified", "bogus"], page_size="7"))
    assert [p.split(":")[0] for p in problems] == ["Comm. costs to (GB)", "Date to", "Source", "Rows per page"]
    assert query.search == "a" and query.sources == ("verified",) and query.page_size == 50
    assert shown(frame, query) == ["Gamma", "delta", "beta", "Alpha"]


def test_a_new_filter_starts_on_page_one():
    query, _ = read_filters(BoardQuery(page=4, sort_key="average"), FilterInputs(search="x"))
    assert (query.page, query.sort_key) == (1, "average")

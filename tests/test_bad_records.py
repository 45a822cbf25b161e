"""One bad record must not take the Space down (LocalStore): every corrupt-record kind in requests, results and
votes is set aside with a reason and listed, and boards, queue, arena board, details, claims, submissions and
the app's start keep working."""

from __future__ import annotations

import json
import logging
from datetime import timedelta

import pytest

from app import build_app
from arena.ratings import OUTCOMES
from arena.votes import make_vote, record_vote
from evaluator import queue as work_queue
from leaderboard.boards import Boards
from leaderboard.published import all_published_records
from leaderboard.render import render_page
from leaderboard.table import BoardQuery, query_page, visible_keys
from store.base import LocalStore, StoreError, dump_record
from store.record_contract import VOTE_OUTCOMES
from submissions.hub_models import HubModels
from submissions.queue_view import queue_page
from submissions.service import submit
from tests.bad_records import (
    CONTENT_KINDS,
    GOOD,
    GOOD_REQUEST,
    GOOD_RESULT,
    KINDS,
    NOW,
    SIDE_A,
    SIDE_B,
    claim_works,
    corrupt_content,
    plant,
    reading_paths_work,
)
from tests.hub_server import HubServer
from tests.test_submit_service import FORM, adapter, models

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def store_with_good_records(root) -> LocalStore:
    store = LocalStore(root)
    for collection, record in GOOD.items():
        store.put(collection, record)
    return store


@pytest.fixture
def hub(hub_server: HubServer) -> HubServer:
    hub_server.add_model("org/small-base", {"config.json": json.dumps(
        {"model_type": "llama", "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
         "num_attention_heads": 4, "vocab_size": 400}).encode()})
    hub_server.add_model("team/adapter", adapter("org/small-base"))
    return hub_server


def assert_listed(store, collection: str, reason: str, name: str = "bad") -> None:
    listed = [(item.collection, item.path, item.reason) for item in store.quarantined()]
    assert any(c == collection and path == f"{collection}/{name}.json" and reason in why
               for c, path, why in listed), listed


@pytest.mark.parametrize("collection", ["requests", "results", "votes"])
@pytest.mark.parametrize("kind", list(KINDS))
def test_a_corrupt_record_is_set_aside_and_everything_else_works(tmp_path, collection, kind):
    store = store_with_good_records(tmp_path)
    plant(tmp_path, kind, collection)
    reading_paths_work(store)
    claim_works(store)
    assert_listed(store, collection, KINDS[kind])
    assert len(store.quarantined()) == 1
    assert "1 stored record(s) were set aside" in queue_page(store) and f"{collection}/bad.json" in queue_page(store)


@pytest.mark.parametrize("collection", ["requests", "private"])
@pytest.mark.parametrize("kind", list(KINDS))
def test_submissions_work_beside_a_corrupt_request_or_contact(tmp_path, hub, collection, kind):
    store = LocalStore(tmp_path)
    plant(tmp_path, kind, collection)
    outcome = submit(store, models(hub), FORM, now=NOW)
    assert outcome.status == "queued", outcome.message
    assert [r["id"] for r in store.all("requests")] == [outcome.request["id"]]
    assert store.get("private", outcome.request["id"])["contact_email"] == FORM.contact_email
    assert_listed(store, collection, KINDS[kind])


def test_the_app_starts_beside_every_kind_of_corrupt_record(tmp_path):
    store = store_with_good_records(tmp_path)
    for collection in ("requests", "results", "votes", "private"):
        for number, kind in enumerate(CONTENT_KINDS):
            (tmp_path / collection / f"bad-{number}.json").write_bytes(
                corrupt_content(kind, collection).replace(b'"bad"', b'"x"'))
    (tmp_path / "results" / "folder.json").mkdir()
    (tmp_path / "votes" / "gone.json").symlink_to(tmp_path / "nowhere")
    build_app(store, hub=HubModels())
    reading_paths_work(store)
    store.all("private")
    store.all("results")  # nothing in the app lists the results (a bad one is set aside when a board reads it)
    assert len(store.quarantined()) == 4 * len(CONTENT_KINDS) + 2


def test_a_result_dated_yesterday_is_set_aside_and_the_board_renders(tmp_path):
    store = store_with_good_records(tmp_path)
    (tmp_path / "results" / "yesterday.json").write_bytes(
        dump_record({**GOOD_RESULT, "id": "yesterday", "date": "yesterday"}))
    store.put("requests", {**GOOD_REQUEST, "id": "req-yesterday", "state": "FINISHED", "result_id": "yesterday",
                           "heartbeat_at": "2026-03-10T10:00:00+00:00"})  # its request names it: the board reads it
    boards = Boards(store)
    challenge = boards.challenges["general_nlp"]
    query = BoardQuery()
    html = render_page(challenge, query_page(boards.frame("general_nlp"), query), query,
                       visible_keys(challenge, None))
    assert 'data-id="good-result"' in html and "yesterday" not in html
    build_app(store, hub=HubModels())
    assert_listed(store, "results", "'date' must be a date written YYYY-MM-DD (found \"yesterday\")", "yesterday")


@pytest.mark.parametrize("field, value, reason", [
    ("average", "high", "'average' must be a number"),
    ("scores", {"stem": "50"}, "'scores' has scores that are not numbers: stem"),
    ("team", 5, "'team' must be text"),
    ("provenance", [], "'provenance' must be a JSON object"),
])
def test_a_result_with_a_wrong_field_type_is_set_aside(tmp_path, field, value, reason):
    store = store_with_good_records(tmp_path)
    (tmp_path / "results" / "odd.json").write_bytes(dump_record({**GOOD_RESULT, "id": "odd", field: value}))
    store.put("requests", {**GOOD_REQUEST, "id": "odd-request", "state": "FINISHED", "result_id": "odd"})
    reading_paths_work(store)  # the board reads the result its FINISHED request names
    assert_listed(store, "results", reason, "odd")


def test_a_request_submitted_soon_does_not_stop_submissions(tmp_path, hub):
    store = LocalStore(tmp_path)
    (tmp_path / "requests" / "soon.json").write_bytes(dump_record({**GOOD_REQUEST, "id": "soon",
                                                                    "submitted_at": "soon"}))
    outcome = submit(store, models(hub), FORM, now=NOW)
    assert outcome.status == "queued", outcome.message
    assert 'data-id="soon"' not in queue_page(store)
    assert_listed(store, "requests", "'submitted_at' must be an ISO 8601 time (e.g. 2026-01-14T09:30:00+00:00) "
                                     '(found "soon")', "soon")


def test_timestamps_without_an_offset_are_read_as_utc(tmp_path, hub):
    """Requests, votes and heartbeats written without a UTC offset compare with everything else."""
    store = LocalStore(tmp_path)
    for number in (1, 2):  # two earlier submissions of Team A this week, written without an offset
        (tmp_path / "requests" / f"naive-{number}.json").write_bytes(dump_record(
            {**GOOD_REQUEST, "id": f"naive-{number}", "team": "Team A", "team_key": "team a", "repo_id": f"o/{number}",
             "submitted_at": f"2026-03-0{number + 7}T10:00:00", "state": "FINISHED"}))
    third = submit(store, models(hub), FORM, now=NOW)
    assert third.status == "refused" and "already has 2 submission(s)" in third.message  # both counted
    assert store.get("requests", "naive-1")["submitted_at"] == "2026-03-08T10:00:00+00:00"
    assert store.quarantined() == []

    (tmp_path / "requests" / "stale.json").write_bytes(dump_record(
        {**GOOD_REQUEST, "id": "stale", "state": "RUNNING", "worker": "dead", "attempts": 1,
         "heartbeat_at": "2026-03-10T09:00:00"}))
    claimed = work_queue.claim_next(store, "w", NOW, timedelta(minutes=10), 3)
    assert claimed is not None and claimed[0].request_id == "stale"  # the naive heartbeat is 3 hours old

    naive_vote = {**make_vote(board="general_nlp", conversation_id="c0", a=SIDE_A, b=SIDE_B, outcome="a",
                              conversation=[{"user": "q", "a": "x", "b": "y"}], voter="v", now=NOW),
                  "created_at": "2026-03-10T11:00:00"}
    (tmp_path / "votes" / f"{naive_vote['id']}.json").write_bytes(dump_record(naive_vote))
    later = make_vote(board="general_nlp", conversation_id="c1", a=SIDE_A, b=SIDE_B, outcome="b",
                      conversation=[{"user": "q2", "a": "x", "b": "y"}], voter="v", now=NOW)
    assert not record_vote(store, later).duplicate
    assert len(store.all("votes")) == 2


def test_a_set_aside_file_is_never_overwritten(tmp_path):
    store = store_with_good_records(tmp_path)
    plant(tmp_path, "truncated JSON", "results")
    before = (tmp_path / "results" / "bad.json").read_bytes()
    with pytest.raises(StoreError, match=r"results/bad.json was set aside \(it is not valid JSON.*repair or remove "
                                         r"it first. Nothing was written."):
        store.put("results", {**GOOD_RESULT, "id": "bad"})
    new = {**GOOD_RESULT, "id": "new"}
    assert store.put_missing("results", [{**GOOD_RESULT, "id": "bad"}, new]) == 1  # counted as present
    assert (tmp_path / "results" / "bad.json").read_bytes() == before
    assert store.get("results", "new") == new
    (tmp_path / "results" / "bad.json").write_bytes(dump_record({**GOOD_RESULT, "id": "bad"}))  # repaired
    assert len(store.all("results")) == 3 and store.quarantined() == []


def test_a_record_that_would_be_set_aside_is_never_written(tmp_path):
    store = LocalStore(tmp_path)
    with pytest.raises(StoreError, match="requests record r2 does not fit the record contract: 'submitted_at' is "
                                         "missing; nothing was written"):
        store.transact("requests", lambda snapshot: ([GOOD_REQUEST, {"id": "r2"}], None))
    assert store.all("requests") == []  # not even the valid first write


def test_each_set_aside_file_is_logged_once(tmp_path, caplog):
    store = store_with_good_records(tmp_path)
    plant(tmp_path, "empty file", "votes")
    with caplog.at_level(logging.WARNING, logger="store.base"):
        for _ in range(3):
            store.all("votes")
    assert [r.getMessage() for r in caplog.records] == ["set aside votes/bad.json: it is empty"]


def test_many_set_aside_files_are_summarised_for_the_operator(tmp_path):
    store = store_with_good_records(tmp_path)
    for number in range(8):
        (tmp_path / "requests" / f"bad-{number}.json").write_text("[]")
    page = queue_page(store)
    assert "8 stored record(s) were set aside" in page and "; and 3 more." in page
    assert 'data-id="good-request"' in page



def test_a_published_row_that_cannot_be_read_is_left_out(tmp_path, caplog):
    (tmp_path / "general_nlp.csv").write_text(
        "id,rank,team,code_url,base_model,comm_gb,average,stem,social_sciences,humanities,date\n"
        "good,1,Good,,Qwen,2.9,69.25,66.13,80.76,60.87,14.01.26\n"
        "bad-date,2,Bad date,,Qwen,2.9,69.19,66.22,80.56,60.80,yesterday\n"
        "bad-average,3,Bad average,,Qwen,2.9,n/a,66.22,80.56,60.80,14.01.26\n", encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="leaderboard.published"):
        records = all_published_records(tmp_path)
    assert [r["team"] for r in records] == ["Good"] and records[0]["id"] == "published-general_nlp-good"
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 2 and "row 2 of general_nlp.csv left out: time data 'yesterday'" in messages[0]
    assert "row 3 of general_nlp.csv left out: could not convert string to float: 'n/a'" in messages[1]


def test_the_contract_knows_the_outcomes_the_arena_counts():
    assert VOTE_OUTCOMES == OUTCOMES


def test_a_vote_with_an_unknown_outcome_is_set_aside(tmp_path):
    """Found by the random sweep (tests/test_record_fuzz.py): the arena board failed on such a vote."""
    store = store_with_good_records(tmp_path)
    (tmp_path / "votes" / "odd.json").write_bytes(dump_record({**GOOD["votes"], "id": "odd", "outcome": "<b>x</b>"}))
    reading_paths_work(store)
    assert_listed(store, "votes", "'outcome' must be one of a, b, tie, both_bad", "odd")

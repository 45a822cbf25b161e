"""Good and corrupt records for the "one bad record must not take the Space down" tests, and the app's reading
paths run as the app runs them (boards, queue, arena board, details, a worker's claim)."""

from __future__ import annotations

import json
import random
from datetime import datetime, timedelta, timezone

from arena.tally import arena_board
from arena.votes import make_vote
from evaluator import queue as work_queue
from leaderboard.boards import Boards
from leaderboard.details import lookup_details
from store.base import Store
from submissions.queue_view import queue_page
from tests.board_records import result

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=timezone.utc)
GOOD_REQUEST = {"id": "good-request", "challenge": "general_nlp", "repo_id": "team/adapter", "commit": "c" * 40,
                "team": "Good Team", "team_key": "good team", "submitted_at": "2026-03-10T09:00:00+00:00",
                "state": "PENDING", "attempts": 0}
GOOD_RESULT = result("good-result", "Good Team", 55.5, date="2026-03-01", stem=50.0, social_sciences=60.0,
                     humanities=56.5)
SIDE_A = {"entry": "res-1", "label": "Alpha"}
SIDE_B = {"entry": "res-2", "label": "Beta"}
GOOD_VOTE = make_vote(board="general_nlp", conversation_id="conv-1", a=SIDE_A, b=SIDE_B,
                      conversation=[{"user": "hi", "a": "hello", "b": "hey"}], outcome="a", voter="session-x",
                      anonymous=True, now=NOW - timedelta(minutes=5))
GOOD_BOARD = {"id": "general_nlp", "challenge": "general_nlp", "built_at": "2026-03-01T12:00:00+00:00",
              "rows": [GOOD_RESULT]}  # the aggregated board the boards job built
GOOD = {"requests": GOOD_REQUEST, "results": GOOD_RESULT, "votes": GOOD_VOTE, "boards": GOOD_BOARD}
CONTACT = {"id": "good-contact", "contact_email": "someone@example.org", "account": None}


def _random_bytes() -> bytes:
    return bytes(random.Random(7).randrange(256) for _ in range(200))


# kind -> (content written as <collection>/bad.json, or None for a kind made on the file system; the reason
# the store must give). "no id" and "id not the file name" are otherwise valid records of the collection.
def corrupt_content(kind: str, collection: str) -> bytes:
    valid = {**GOOD.get(collection, CONTACT)}
    return {
        "truncated JSON": json.dumps({**valid, "id": "bad"}).encode()[:40],
        "random bytes": _random_bytes(),
        "empty file": b"",
        "a JSON array": b"[]",
        "no id": json.dumps({k: v for k, v in valid.items() if k != "id"}).encode(),
        "id not the file name": json.dumps({**valid, "id": "someone-else"}).encode(),
    }[kind]


CONTENT_KINDS = {
    "truncated JSON": "is not valid JSON",
    "random bytes": "is not UTF-8 text",
    "empty file": "is empty",
    "a JSON array": "holds an array, not a record",
    "no id": "has no 'id'",
    "id not the file name": "has the id 'someone-else', not its file name 'bad'",
}
FILE_SYSTEM_KINDS = {
    "a folder named bad.json": "is a folder, not a file",
    "a dangling link": "is a link to a file that does not exist",
    "a file whose read fails (link loop)": "cannot be read",
}
KINDS = {**CONTENT_KINDS, **FILE_SYSTEM_KINDS}


def plant(folder, kind: str, collection: str) -> None:
    """Make ``<folder>/<collection>/bad.json`` of the given kind."""
    path = folder / collection / "bad.json"
    if kind == "a folder named bad.json":
        path.mkdir()
        (path / "inner.json").write_text("{}")
    elif kind == "a dangling link":
        path.symlink_to(folder / collection / "nowhere.json")
    elif kind == "a file whose read fails (link loop)":
        path.symlink_to(path)
    else:
        path.write_bytes(corrupt_content(kind, collection))


def reading_paths_work(store: Store, bad_is_hidden: bool = True) -> None:
    """Everything a visitor or the worker reads still works and shows the good records (and, unless told
    otherwise, nothing of ``bad``)."""
    boards = Boards(store, recheck_s=0)
    for challenge_id in boards.challenges:
        boards.frame(challenge_id)
    assert "good-result" in boards.frame("general_nlp")["id"].tolist()
    assert 'data-id="good-request"' in queue_page(store)
    ratings = arena_board(store.all("votes"), "general_nlp").ratings
    assert "Good Team" in lookup_details(store, "good-result")
    details_of_bad = lookup_details(store, "bad")  # renders, whatever the record holds
    if bad_is_hidden:
        assert set(ratings["entry"]) == {"res-1", "res-2"}
        assert "No result with that id" in details_of_bad


def claim_works(store: Store) -> None:
    claimed = work_queue.claim_next(store, "worker-1", NOW, timedelta(minutes=10), 3)
    assert claimed is not None and claimed[0].request_id == "good-request"

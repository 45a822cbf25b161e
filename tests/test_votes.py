"""Arena votes through the real LocalStore: persisted, checked, counted once; pairing of entries."""

from __future__ import annotations

import random
import threading
from datetime import datetime, timedelta, timezone

import pytest

from arena.pairing import default_pair, random_pair, servable_entries, side_of
from arena.ratings import arena_ratings
from arena.tally import arena_board, counted_votes
from arena.votes import (
    VoteRefused,
    VoteRules,
    check_vote,
    make_vote,
    record_vote,
    voter_id,
)
from models.loading import ModelRef
from store.base import LocalStore

T0 = datetime(2026, 1, 14, 12, 0, tzinfo=timezone.utc)
A = {"entry": "res-1", "model_repo": "org/base", "model_commit": "1" * 40, "adapter_repo": "t/a", "adapter_commit": "2" * 40}
B = {"entry": "res-2", "model_repo": "org/base", "model_commit": "1" * 40, "adapter_repo": "t/b", "adapter_commit": "3" * 40}
TURNS = [{"user": "Capital of France?", "a": "Paris.", "b": "Rome."}]


def vote(conversation: str = "c1", outcome: str = "a", voter: str = "session-x", at: datetime = T0, turns=TURNS,
         anonymous: bool = True, **kw):
    return make_vote(
        board="general_nlp", conversation_id=conversation, a=kw.get("a", A), b=kw.get("b", B),
        conversation=turns, outcome=outcome, voter=voter, now=at, anonymous=anonymous,
    )


def test_vote_is_persisted_with_entries_commits_and_conversation(tmp_path):
    store = LocalStore(tmp_path)
    result = record_vote(store, vote())
    assert not result.duplicate
    stored = LocalStore(tmp_path).get("votes", result.vote["id"])  # a fresh reader sees it
    assert stored["a"]["adapter_commit"] == "2" * 40 and stored["b"]["entry"] == "res-2"
    assert stored["conversation"] == TURNS and stored["outcome"] == "a" and stored["board"] == "general_nlp"
    assert stored["created_at"] == T0.isoformat() and stored["voter"] == "session-x"


def test_one_vote_per_conversation_even_when_racing(tmp_path):
    store = LocalStore(tmp_path)
    results = []

    def click(outcome: str) -> None:
        results.append(record_vote(LocalStore(tmp_path), vote("c1", outcome)))

    threads = [threading.Thread(target=click, args=("a" if i % 2 else "b",)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 8  # every click was answered (opening a store beside live writers included)
    assert len(store.all("votes")) == 1
    assert sum(not r.duplicate for r in results) == 1
    assert len({r.vote["outcome"] for r in results}) == 1  # every click was answered with the one stored vote
    assert len(counted_votes(store.all("votes"), "general_nlp")) == 1


def test_replayed_battle_under_a_new_conversation_is_a_duplicate(tmp_path):
    store = LocalStore(tmp_path)
    first = record_vote(store, vote("c1"))
    # same voter, same battle, sides swapped, new conversation id
    swapped = [{"user": "Capital of France?", "a": "Rome.", "b": "Paris."}]
    again = record_vote(store, vote("c2", outcome="b", a=B, b=A, turns=swapped, at=T0 + timedelta(seconds=5)))
    assert again.duplicate and again.vote["id"] == first.vote["id"]
    other_voter = record_vote(store, vote("c3", voter="session-y"))
    assert not other_voter.duplicate
    assert len(store.all("votes")) == 2


def test_counted_votes_counts_each_conversation_once_whatever_reached_the_store(tmp_path):
    store = LocalStore(tmp_path)
    first = vote("c1", "a")
    copy = dict(first, id="vote-copy", outcome="b", created_at=(T0 + timedelta(minutes=1)).isoformat())
    store.put("votes", first)
    store.put("votes", copy)  # written around record_vote (another path, an old replica)
    store.put("votes", vote("c9", "tie", voter="session-z", at=T0 + timedelta(minutes=2)))
    store.put("votes", dict(vote("c5", voter="session-q"), board="finance"))
    assert counted_votes(store.all("votes"), "general_nlp") == [("res-1", "res-2", "a"), ("res-1", "res-2", "tie")]


def test_rate_limit_per_voter_with_its_message(tmp_path):
    store = LocalStore(tmp_path)
    rules = VoteRules(max_votes=3, window=timedelta(hours=1))
    for i in range(3):
        record_vote(store, vote(f"c{i}", turns=[{"user": f"q{i}", "a": "x", "b": "y"}], at=T0 + timedelta(minutes=i)), rules)
    late = vote("c3", turns=[{"user": "q3", "a": "x", "b": "y"}], at=T0 + timedelta(minutes=10))
    with pytest.raises(VoteRefused, match="voted 3 times in the last 60 minutes; the limit is 3"):
        record_vote(store, late, rules)
    assert check_vote({v["id"]: v for v in store.all("votes")}, vote("c3", voter="session-other", turns=late["conversation"]), rules) is None
    later = vote("c4", turns=[{"user": "q4", "a": "x", "b": "y"}], at=T0 + timedelta(hours=1, minutes=1))
    assert not record_vote(store, later, rules).duplicate  # the window has moved on
    assert len(store.all("votes")) == 4


def test_invalid_votes_are_refused_with_reasons():
    with pytest.raises(VoteRefused, match="Unknown vote"):
        vote(outcome="maybe")
    with pytest.raises(VoteRefused, match="same entry"):
        vote(b=A)
    with pytest.raises(VoteRefused, match="wait for both answers"):
        vote(turns=[])
    with pytest.raises(VoteRefused, match="need a session"):
        voter_id(None, None)


def test_voter_ids_prefer_the_account_and_name_nobody():
    assert voter_id("alice", "s1") == voter_id("alice", "s2")
    assert voter_id("alice", "s1").startswith("account-") and "alice" not in voter_id("alice", "s1")
    assert voter_id(None, "s1").startswith("session-") and voter_id(None, "s1") != voter_id(None, "s2")
    assert voter_id("alice", None, salt="x") != voter_id("alice", None, salt="y")


def test_votes_feed_the_ratings(tmp_path):
    store = LocalStore(tmp_path)
    for i, outcome in enumerate(["a", "a", "a", "b"]):
        record_vote(store, vote(f"c{i}", outcome, voter=f"session-{i}"))
    frame = arena_ratings(counted_votes(store.all("votes"), "general_nlp"), prior=1e-9, rounds=0)
    assert list(frame.entry) == ["res-1", "res-2"] and list(frame.votes) == [4, 4]


def _result(i: int, average: float, **extra) -> dict:
    """A result record with the fields the evaluator worker writes (evaluator/worker.py)."""
    record = {"id": f"result-req-{i}", "request_id": f"req-{i}", "challenge": "general_nlp", "source": "evaluated",
              "team": f"team {i}", "name": f"t/adapter{i}", "average": average, "date": "2026-01-14",
              "model_repo": f"t/adapter{i}", "model_commit": f"{i}" * 40,
              "base_model": "org/base", "base_commit": "b" * 40}
    record.update(extra)
    return record


def test_pairing_serves_pinned_entries_best_first():
    records = [
        _result(1, 50.0),
        _result(2, 70.0),
        _result(3, 60.0),
        _result(4, 90.0, model_commit=None),  # not pinned: not servable
        _result(7, 95.0, base_commit=None),  # base not pinned: not servable
        {"id": "published-1", "challenge": "general_nlp", "source": "published", "average": 99.0,
         "model_repo": None, "model_commit": None, "base_model": "org/base"},
        _result(5, 80.0, challenge="finance"),
        _result(6, 65.0, kind="merged_model", base_model=None, base_commit=None),
    ]
    entries = servable_entries(records, "general_nlp")
    assert [e.id for e in entries] == ["result-req-2", "result-req-6", "result-req-3", "result-req-1"]
    assert [e.rank for e in entries] == [1, 2, 3, 4]
    top = default_pair(entries)
    assert (top[0].id, top[1].id) == ("result-req-2", "result-req-6")
    assert top[0].side.adapter == ModelRef("t/adapter2", "2" * 40)
    assert top[0].side.model == ModelRef("org/base", "b" * 40)
    assert top[1].side.adapter is None and top[1].side.model == ModelRef("t/adapter6", "6" * 40)  # a full model
    assert side_of(records[3]) is None and side_of(records[4]) is None and side_of(records[5]) is None
    assert top[0].describe() == {"entry": "result-req-2", "label": "team 2 · t/adapter2", "model_repo": "org/base",
                                 "model_commit": "b" * 40, "adapter_repo": "t/adapter2", "adapter_commit": "2" * 40}


def test_random_pairs_are_seeded_distinct_and_cover_the_board():
    entries = servable_entries([_result(i, 50.0 + i) for i in range(1, 6)], "general_nlp")
    draws = [random_pair(entries, random.Random(7)) for _ in range(2)]
    assert draws[0] == draws[1]  # same seed, same pair
    rng = random.Random(0)
    pairs = [random_pair(entries, rng) for _ in range(200)]
    assert all(a.id != b.id for a, b in pairs)
    assert {e.id for pair in pairs for e in pair} == {e.id for e in entries}
    assert {pairs[i][0].id for i in range(200)} == {e.id for e in entries}  # every entry appears on side A
    with pytest.raises(ValueError, match="fewer than two"):
        default_pair(entries[:1])


def test_arena_board_labels_entries_and_counts_each_vote_once(tmp_path):
    store = LocalStore(tmp_path)
    a, b = dict(A, label="Team A"), dict(B, label="Team B")
    for i, outcome in enumerate(["a", "a", "b"]):
        record_vote(store, vote(f"c{i}", outcome, voter=f"session-{i}", a=a, b=b))
    record_vote(store, vote("c0", "b", voter="session-0", a=a, b=b))  # a second click on the same conversation
    frame = arena_board(store.all("votes"), "general_nlp", rounds=20).ratings
    assert list(frame.columns[:3]) == ["entry", "label", "rating"]
    assert list(frame.label) == ["Team A", "Team B"] and list(frame.votes) == [3, 3]
    assert arena_board(store.all("votes"), "finance").ratings.empty


def test_named_picks_are_stored_but_not_rated(tmp_path):
    """As Chatbot Arena does: only battles between a random anonymous pair feed the rating; a pair the voter
    chose is kept (the vote and conversation are in the dataset) and counted on the board as not rated."""
    store = LocalStore(tmp_path)
    for i in range(5):
        record_vote(store, vote(f"named-{i}", "b", voter=f"session-n{i}", anonymous=False))
    record_vote(store, vote("anon-0", "a", voter="session-a0"))
    assert len(store.all("votes")) == 6  # all stored
    assert counted_votes(store.all("votes"), "general_nlp") == [("res-1", "res-2", "a")]  # one rated
    board = arena_board(store.all("votes"), "general_nlp", rounds=0)
    assert (board.rated, board.named, board.unsigned) == (1, 5, 0)
    assert list(board.ratings.votes) == [1, 1] and board.ratings.iloc[0].entry == "res-1"
    legacy = dict(vote("old", "b", voter="session-old"), id="vote-legacy")
    del legacy["anonymous"]  # a record from before the field: not known to be anonymous, so not rated
    store.put("votes", legacy)
    assert arena_board(store.all("votes"), "general_nlp", rounds=0).named == 6


def test_sign_in_required_refuses_sessions_and_rates_only_accounts(tmp_path):
    """On a Space only signed-in accounts vote: a session's vote is refused with a message and not stored; a
    session vote that reached the store another way (an old replica, or written before the rule) is not rated."""
    store = LocalStore(tmp_path)
    rules = VoteRules(sign_in_required=True)
    for i in range(30):  # 30 fresh sessions
        with pytest.raises(VoteRefused, match="Sign in with Hugging Face to vote"):
            record_vote(store, vote(f"c{i}", "b", voter=voter_id(None, f"fresh-{i}")), rules)
    assert store.all("votes") == []
    account = voter_id("alice", "s1", salt="pepper")
    assert not record_vote(store, vote("c-alice", "a", voter=account), rules).duplicate
    store.put("votes", vote("c-old", "b", voter=voter_id(None, "old-session")))
    board = arena_board(store.all("votes"), "general_nlp", rules, rounds=0)
    assert (board.rated, board.named, board.unsigned) == (1, 0, 1)
    assert counted_votes(store.all("votes"), "general_nlp", rules) == [("res-1", "res-2", "a")]
    assert len(counted_votes(store.all("votes"), "general_nlp")) == 2  # locally (no sign-in rule) both count


def test_daily_cap_per_account_with_its_message(tmp_path):
    store = LocalStore(tmp_path)
    rules = VoteRules(max_votes=100, per_day=4, sign_in_required=True)
    account = voter_id("alice", None, salt="pepper")

    def attempt(i: int, at: datetime):
        return record_vote(store, vote(f"c{i}", voter=account, turns=[{"user": f"q{i}", "a": "x", "b": "y"}],
                                       at=at), rules)

    for i in range(4):
        attempt(i, T0 + timedelta(hours=3 * i))
    with pytest.raises(VoteRefused, match="4 votes in the last 24 hours; the limit is 4 a day"):
        attempt(4, T0 + timedelta(hours=12))
    assert len(store.all("votes")) == 4
    assert not attempt(5, T0 + timedelta(hours=24, minutes=1)).duplicate  # the first vote left the window
    other = voter_id("bob", None, salt="pepper")
    assert not record_vote(store, vote("c-bob", voter=other), rules).duplicate  # the cap is per account


def test_vote_rules_from_the_environment():
    local = VoteRules.from_env({})
    assert not local.sign_in_required and local.per_day == 50 and local.min_rated_votes == 10
    space = VoteRules.from_env({"SPACE_ID": "org/space", "ARENA_VOTES_PER_DAY": "20", "ARENA_MIN_RATED_VOTES": "5"})
    assert space.sign_in_required and space.per_day == 20 and space.min_rated_votes == 5
    assert VoteRules.from_env({"OAUTH_CLIENT_ID": "x"}).sign_in_required
    for bad in ("many", "0", "-3", "1.5"):
        with pytest.raises(ValueError, match=f"ARENA_VOTES_PER_DAY must be a whole number of at least 1, not '{bad}'"):
            VoteRules.from_env({"ARENA_VOTES_PER_DAY": bad})

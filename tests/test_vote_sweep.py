"""A seeded sweep of vote attempts through the real LocalStore: signed-in and unsigned voters, picked and
anonymous pairs, replayed conversations and battles, bursts over the daily cap, on a Space and locally.

After every sweep: nothing refused was stored, nothing stored twice, no voter over the cap in any 24 hours,
and the board's rated + not-rated counts add up to the unique stored votes. 300 attempts per setting in CI,
3000 with ``RELIABILITY_SWEEP=1`` (``ARENA_VOTE_SWEEP=<n>`` sets the number exactly).
"""

from __future__ import annotations

import random
from collections import Counter
from datetime import datetime, timedelta, timezone

import pytest

from arena.tally import arena_board, counted_votes, unique_votes
from arena.votes import (
    VoteRefused,
    VoteRules,
    is_account,
    make_vote,
    record_vote,
    voter_id,
)
from store.base import LocalStore
from tests.sweep import sweep_size

ATTEMPTS = sweep_size("ARENA_VOTE_SWEEP", 300, 3000)
T0 = datetime(2026, 1, 14, tzinfo=timezone.utc)
ENTRIES = [{"entry": f"res-{i}", "label": f"Team {i}"} for i in range(4)]


@pytest.mark.parametrize("sign_in_required", [True, False], ids=["space", "local"])
def test_vote_sweep_keeps_every_rule(tmp_path, sign_in_required):
    rng = random.Random(11)
    store = LocalStore(tmp_path)
    rules = VoteRules(max_votes=1000, per_day=8, sign_in_required=sign_in_required, min_rated_votes=5)
    voters = [voter_id(f"user{i}", None, "salt") for i in range(6)]
    voters += [voter_id(None, f"s{i}", "salt") for i in range(6)]
    outcomes: Counter[str] = Counter()
    sent: list[dict] = []
    now = T0
    for n in range(ATTEMPTS):
        now += timedelta(minutes=rng.choices([1, 2, 5, 600], weights=[40, 30, 25, 5])[0])  # bursts, then a pause
        if sent and rng.random() < 0.15:  # a replay: the same conversation again, or the same battle anew
            earlier = rng.choice(sent)
            conversation = earlier["conversation_id"] if rng.random() < 0.5 else f"c{n}"
            vote = make_vote(board="general_nlp", conversation_id=conversation, a=earlier["a"], b=earlier["b"],
                             conversation=earlier["conversation"], outcome=rng.choice(["a", "b", "tie"]),
                             voter=earlier["voter"], anonymous=earlier["anonymous"], now=now)
        else:
            a, b = rng.sample(ENTRIES, 2)
            vote = make_vote(board="general_nlp", conversation_id=f"c{n}", a=a, b=b,
                             outcome=rng.choice(["a", "b", "tie", "both_bad"]),
                             conversation=[{"user": f"q{n}", "a": "x", "b": "y"}], voter=rng.choice(voters),
                             anonymous=rng.random() < 0.6, now=now)
        try:
            result = record_vote(store, vote, rules)
        except VoteRefused as error:
            message = str(error)
            outcomes["refused: sign in" if "Sign in" in message else "refused: daily cap" if "a day" in message
                     else "refused: other"] += 1
            continue
        outcomes["duplicate" if result.duplicate else "stored"] += 1
        if not result.duplicate:
            sent.append(vote)
    stored = store.all("votes")
    assert outcomes["stored"] == len(stored) == len({v["id"] for v in stored})  # nothing lost, nothing twice
    assert outcomes["refused: other"] == 0 and sum(outcomes.values()) == ATTEMPTS
    if sign_in_required:
        assert outcomes["refused: sign in"] > 0 and all(is_account(v["voter"]) for v in stored)
    else:
        assert outcomes["refused: sign in"] == 0
    assert outcomes["refused: daily cap"] > 0
    by_voter: dict[str, list[datetime]] = {}
    for v in stored:
        by_voter.setdefault(v["voter"], []).append(datetime.fromisoformat(v["created_at"]))
    for times in by_voter.values():
        for t in times:
            assert sum(t - timedelta(days=1) < u <= t for u in times) <= rules.per_day
    board = arena_board(stored, "general_nlp", rules, rounds=0)
    assert board.rated + board.named + board.unsigned == len(unique_votes(stored, "general_nlp")) == len(stored)
    assert board.rated == len(counted_votes(stored, "general_nlp", rules))
    assert board.rated == sum(v["anonymous"] for v in stored)
    print(f"\nvote sweep ({'space' if sign_in_required else 'local'}): {ATTEMPTS} attempts -> {dict(outcomes)}; "
          f"rated {board.rated}, picked pairs {board.named}")

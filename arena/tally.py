"""Which stored votes move a rating, and the arena board built from them.

Read-time rules, applied to whatever is in the store (votes written by an older replica or by hand included):

- each conversation and each battle counts once (the earliest vote wins);
- only battles between a **random anonymous pair** are rated, as Chatbot Arena does: when the voter chose both
  entries the vote is kept (it is in the dataset with its conversation) but counted as *named*, not rated;
- where signing in is required (on a Space) only signed-in accounts' votes are rated; a session's vote that
  reached the store anyway is counted as *unsigned*, not rated.

An entry is provisional until it has ``VoteRules.min_rated_votes`` rated votes (:mod:`arena.ratings`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

import pandas as pd

from arena.ratings import Vote, arena_ratings
from arena.votes import VoteRules, is_account
from store.base import Record


@dataclass(frozen=True)
class ArenaBoard:
    """The ratings (``arena_ratings`` columns with each entry's ``label``) and how many votes were rated or not."""

    ratings: pd.DataFrame
    rated: int
    named: int  # votes on a pair the voter chose: kept, not rated
    unsigned: int  # session votes where signing in is required: not rated
    min_rated_votes: int


def unique_votes(records: Iterable[Record], board: str) -> list[Record]:
    """The board's votes, oldest first, each conversation and each battle once (the earliest vote wins)."""
    seen: set[str] = set()
    unique: list[Record] = []
    for record in sorted((r for r in records if r.get("board") == board),
                         key=lambda r: (str(r.get("created_at")), r["id"])):
        keys = {f"conversation:{record['conversation_id']}"}
        if record.get("fingerprint"):
            keys.add(f"battle:{record['fingerprint']}")
        if keys & seen:
            continue
        seen |= keys
        unique.append(record)
    return unique


def rating_status(record: Record, rules: VoteRules) -> str:
    """``rated``, ``named`` (the voter chose the pair; also a record that does not say it was anonymous) or
    ``unsigned`` (a session's vote where signing in is required)."""
    if record.get("anonymous") is not True:
        return "named"
    if rules.sign_in_required and not is_account(str(record.get("voter", ""))):
        return "unsigned"
    return "rated"


def _as_vote(record: Record) -> Vote:
    return record["a"]["entry"], record["b"]["entry"], record["outcome"]


def counted_votes(records: Iterable[Record], board: str, rules: VoteRules = VoteRules()) -> list[Vote]:
    """The board's rated votes as ``(entry a, entry b, outcome)``, ready for :func:`arena.ratings.arena_ratings`."""
    return [_as_vote(r) for r in unique_votes(records, board) if rating_status(r, rules) == "rated"]


def arena_board(records: Iterable[Record], board: str, rules: VoteRules = VoteRules(), **fit: Any) -> ArenaBoard:
    """The arena board of ``board``: ratings over the rated votes, each entry labelled as its latest vote
    recorded it. ``fit`` goes to :func:`arena.ratings.arena_ratings`."""
    votes = unique_votes(records, board)
    labels: dict[str, str] = {}
    for record in votes:
        for side in (record["a"], record["b"]):
            labels[side["entry"]] = side.get("label") or side["entry"]
    status = [rating_status(r, rules) for r in votes]
    rated = [_as_vote(r) for r, s in zip(votes, status) if s == "rated"]
    frame = arena_ratings(rated, min_votes=rules.min_rated_votes, **fit)
    frame.insert(1, "label", frame["entry"].map(labels).astype(object))
    return ArenaBoard(frame, rated=len(rated), named=status.count("named"), unsigned=status.count("unsigned"),
                      min_rated_votes=rules.min_rated_votes)

"""Arena votes: the record, integrity checks at collection time, and the votes that count.

The checks are pure functions over a snapshot of the ``votes`` collection, run inside ``store.transact`` so
that two replicas (or two clicks) racing on the same conversation cannot both write:

- one vote per conversation (the record id is derived from board + conversation id, so even a store without
  the check could hold only one);
- a per-voter rate limit (voter = signed-in account when there is one, else a session hash);
- duplicates (the same voter sending the same battle again under a new conversation id) are detected and not
  stored; the earlier vote is handed back.

:func:`counted_votes` applies the same rules again when reading, so a duplicate that reached the store by
another path is still counted once.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Iterable, Mapping, Sequence

from arena.limits import LimitError
import pandas as pd

from arena.ratings import OUTCOMES, Vote, arena_ratings
from submissions.store import Record, Store

COLLECTION = "votes"


class VoteRefused(LimitError):
    """The vote was not stored; ``str(error)`` is the message for the user."""


@dataclass(frozen=True)
class VoteRules:
    max_votes: int = 30  # per voter within the window
    window: timedelta = timedelta(hours=1)


@dataclass(frozen=True)
class VoteResult:
    vote: Record  # the stored vote (the earlier one when this was a duplicate)
    duplicate: bool


def _digest(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def voter_id(account: str | None, session: str | None, salt: str = "") -> str:
    """A stable pseudonymous voter key: the signed-in account when there is one, else the session. Hashed
    (with a deployment salt) so the votes dataset names nobody."""
    if account:
        return "account-" + _digest(salt, "account", account)[:24]
    if session:
        return "session-" + _digest(salt, "session", session)[:24]
    raise VoteRefused("Votes need a session; reload the page.")


def vote_id(board: str, conversation_id: str) -> str:
    return "vote-" + _digest(board, conversation_id)[:32]


def _fingerprint(board: str, voter: str, a: Mapping, b: Mapping, conversation: Sequence[Mapping]) -> str:
    """Same voter, same two entries, same messages and answers: the same battle, whatever the sides."""
    sides = sorted(
        [(a["entry"], [t["a"] for t in conversation]), (b["entry"], [t["b"] for t in conversation])]
    )
    return _digest(board, voter, sides, [t["user"] for t in conversation])


def make_vote(
    *,
    board: str,
    conversation_id: str,
    a: Mapping[str, Any],
    b: Mapping[str, Any],
    conversation: Sequence[Mapping[str, str]],
    outcome: str,
    voter: str,
    anonymous: bool = False,
    now: datetime | None = None,
) -> Record:
    """A vote record. ``a``/``b`` describe the entries (``ArenaEntry.describe()``: entry id, repos and
    commits); ``conversation`` is the list of turns ``{"user", "a", "b"}``."""
    if outcome not in OUTCOMES:
        raise VoteRefused(f"Unknown vote {outcome!r}; choose one of {', '.join(OUTCOMES)}.")
    if a.get("entry") == b.get("entry"):
        raise VoteRefused("Both sides are the same entry; there is nothing to compare.")
    if not conversation_id:
        raise VoteRefused("This vote belongs to no conversation.")
    turns = [{"user": str(t["user"]), "a": str(t["a"]), "b": str(t["b"])} for t in conversation]
    if not turns or not all(t["a"] or t["b"] for t in turns):
        raise VoteRefused("Send a message and wait for both answers before voting.")
    created = (now or datetime.now(timezone.utc)).astimezone(timezone.utc)
    return {
        "id": vote_id(board, conversation_id),
        "board": board,
        "conversation_id": conversation_id,
        "a": dict(a),
        "b": dict(b),
        "conversation": turns,
        "outcome": outcome,
        "anonymous": anonymous,
        "voter": voter,
        "created_at": created.isoformat(),
        "fingerprint": _fingerprint(board, voter, a, b, turns),
    }


def check_vote(snapshot: Mapping[str, Record], vote: Record, rules: VoteRules = VoteRules()) -> Record | None:
    """None when ``vote`` may be stored; the earlier vote when it repeats one (same conversation, or the
    same battle again); :class:`VoteRefused` when the voter is over the rate limit."""
    earlier = snapshot.get(vote["id"])
    if earlier is not None:
        return earlier
    for record in snapshot.values():
        if record.get("fingerprint") == vote["fingerprint"]:
            return record
    now = datetime.fromisoformat(vote["created_at"])
    recent = sum(
        1
        for record in snapshot.values()
        if record.get("voter") == vote["voter"]
        and now - rules.window < datetime.fromisoformat(record["created_at"]) <= now
    )
    if recent >= rules.max_votes:
        minutes = int(rules.window.total_seconds() // 60)
        raise VoteRefused(
            f"You have voted {recent} times in the last {minutes} minutes; the limit is {rules.max_votes}. "
            "Please come back later."
        )
    return None


def record_vote(store: Store, vote: Record, rules: VoteRules = VoteRules()) -> VoteResult:
    """Store ``vote`` unless it repeats an earlier one; atomic against concurrent voters."""

    def decide(snapshot: dict[str, Record]) -> tuple[list[Record], VoteResult]:
        earlier = check_vote(snapshot, vote, rules)
        if earlier is not None:
            return [], VoteResult(earlier, duplicate=True)
        return [vote], VoteResult(vote, duplicate=False)

    return store.transact(COLLECTION, decide)


def counted_votes(records: Iterable[Record], board: str) -> list[Vote]:
    """The board's votes as ``(entry a, entry b, outcome)``, each conversation and each battle counted
    once (the earliest vote wins), ready for :func:`arena.ratings.arena_ratings`."""
    seen: set[str] = set()
    counted: list[Vote] = []
    for record in sorted(
        (r for r in records if r.get("board") == board), key=lambda r: (r["created_at"], r["id"])
    ):
        keys = {f"conversation:{record['conversation_id']}"}
        if record.get("fingerprint"):
            keys.add(f"battle:{record['fingerprint']}")
        if keys & seen:
            continue
        seen |= keys
        counted.append((record["a"]["entry"], record["b"]["entry"], record["outcome"]))
    return counted


def arena_board(records: Iterable[Record], board: str, **fit: Any) -> pd.DataFrame:
    """The arena rating board of ``board``: :func:`arena.ratings.arena_ratings` over the counted votes, with
    each entry's label (as its latest vote recorded it) next to its id. ``fit`` goes to ``arena_ratings``."""
    records = [r for r in records if r.get("board") == board]
    labels: dict[str, str] = {}
    for record in sorted(records, key=lambda r: (r["created_at"], r["id"])):
        for side in (record["a"], record["b"]):
            labels[side["entry"]] = side.get("label") or side["entry"]
    frame = arena_ratings(counted_votes(records, board), **fit)
    frame.insert(1, "label", frame["entry"].map(labels).astype(object))
    return frame

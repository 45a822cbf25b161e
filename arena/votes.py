"""Arena votes: the record, the rules, and the integrity checks at collection time.

The checks are pure functions over a snapshot of the ``votes`` collection, run inside ``store.transact`` so
that two replicas (or two clicks) racing on the same conversation cannot both write:

- on a Space (``VoteRules.sign_in_required``) only signed-in accounts vote: a session's vote is refused and
  not stored at all (storing it would let anyone fill the public dataset and spend its commit quota);
- one vote per conversation (the record id is derived from board + conversation id, so even a store without
  the check could hold only one);
- per-voter limits: an hourly rate and a daily cap (voter = signed-in account when there is one, else a
  session hash);
- duplicates (the same voter sending the same battle again under a new conversation id) are detected and not
  stored; the earlier vote is handed back.

Which stored votes move a rating is decided when reading (:mod:`arena.tally`).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Mapping, Sequence

from arena.limits import LimitError
from arena.ratings import OUTCOMES
from store.base import Record, Store
from store.timestamps import parse_utc

COLLECTION = "votes"


class VoteRefused(LimitError):
    """The vote was not stored; ``str(error)`` is the message for the user."""


def on_space(environ: Mapping[str, str]) -> bool:
    """Whether the app runs as a Hugging Face Space (where visitors can sign in with OAuth)."""
    return bool(environ.get("SPACE_ID") or environ.get("OAUTH_CLIENT_ID"))


def _whole_number(environ: Mapping[str, str], name: str, default: int) -> int:
    raw = (environ.get(name) or "").strip()
    if not raw:
        return default
    if not raw.isascii() or not raw.isdigit() or int(raw) < 1:
        raise ValueError(f"{name} must be a whole number of at least 1, not {raw!r}.")
    return int(raw)


@dataclass(frozen=True)
class VoteRules:
    max_votes: int = 30  # per voter within the window
    window: timedelta = timedelta(hours=1)
    per_day: int = 50  # per voter within 24 hours
    sign_in_required: bool = False  # on a Space: only signed-in accounts vote, and only theirs are rated
    min_rated_votes: int = 10  # an entry's rating is provisional below this many rated votes

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> "VoteRules":
        """Sign-in is required on a Space; ``ARENA_VOTES_PER_DAY`` and ``ARENA_MIN_RATED_VOTES`` set the cap
        and the minimum (a bad value is a start-up error naming the variable)."""
        return cls(per_day=_whole_number(environ, "ARENA_VOTES_PER_DAY", cls.per_day),
                   sign_in_required=on_space(environ),
                   min_rated_votes=_whole_number(environ, "ARENA_MIN_RATED_VOTES", cls.min_rated_votes))


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


def is_account(voter: str) -> bool:
    """Whether a voter id (from :func:`voter_id`) is a signed-in account rather than a browser session."""
    return voter.startswith("account-")


def check_voter(voter: str, rules: VoteRules) -> None:
    """Refuse a session's vote where signing in is required (nothing is stored)."""
    if rules.sign_in_required and not is_account(voter):
        raise VoteRefused("Sign in with Hugging Face to vote (the button above the message box): on this Space only "
                          "signed-in accounts vote. Nothing was recorded.")


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
    same battle again); :class:`VoteRefused` when the voter may not vote or is over a limit."""
    check_voter(vote["voter"], rules)
    earlier = snapshot.get(vote["id"])
    if earlier is not None:
        return earlier
    for record in snapshot.values():
        if record.get("fingerprint") == vote["fingerprint"]:
            return record
    now = parse_utc(vote["created_at"])
    mine = [parse_utc(r.get("created_at")) for r in snapshot.values() if r.get("voter") == vote["voter"]]
    mine = [created for created in mine if created is not None]  # an unreadable time is not held against anyone
    recent = sum(now - rules.window < created <= now for created in mine)
    if recent >= rules.max_votes:
        minutes = int(rules.window.total_seconds() // 60)
        raise VoteRefused(
            f"You have voted {recent} times in the last {minutes} minutes; the limit is {rules.max_votes}. "
            "Please come back later."
        )
    today = sum(now - timedelta(days=1) < created <= now for created in mine)
    if today >= rules.per_day:
        raise VoteRefused(f"You have cast {today} votes in the last 24 hours; the limit is {rules.per_day} a day. "
                          "Your vote was not recorded; please come back tomorrow.")
    return None


def record_vote(store: Store, vote: Record, rules: VoteRules = VoteRules()) -> VoteResult:
    """Store ``vote`` unless it repeats an earlier one; atomic against concurrent voters."""
    check_voter(vote["voter"], rules)  # before reading the store: a refused session costs no store round trip

    def decide(snapshot: dict[str, Record]) -> tuple[list[Record], VoteResult]:
        earlier = check_vote(snapshot, vote, rules)
        if earlier is not None:
            return [], VoteResult(earlier, duplicate=True)
        return [vote], VoteResult(vote, duplicate=False)

    return store.transact(COLLECTION, decide)

"""The merging track's hidden test: scores kept private until an organiser reveals them.

The evaluator writes each result's hidden-test scores to the private store's ``hidden_scores`` collection
(``{"id": <result id>, "challenge", "scores": {<hidden column key>: score}, "average", ...}``); no public page,
endpoint, export or dataset file reads that collection. A reveal copies them into one new public record in
``reveals`` (beside the results): ``{"id", "challenge", "revealed_at", "entries": {<result id>: {"scores": {...},
"average": ...}}}``. Reveal records are written once and never changed: a later reveal publishes only the
entries no earlier reveal holds, and an entry keeps the scores it was first revealed with.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from challenges.definitions import Challenge
from store.aggregates import finished_results
from store.base import Record, Store, StoreError
from uikit.organiser import ORGANISER_TOKEN_ENV, organiser_refusal

HIDDEN_SCORES = "hidden_scores"  # private
REVEALS = "reveals"  # public
REVEAL_OFF = (f"Revealing is off on this Space: the operator has not set the {ORGANISER_TOKEN_ENV} secret. "
              "Nothing was revealed.")
NOT_ORGANISER = ("Only organisers can reveal the hidden test, and this is not the organiser token. "
                 "Nothing was revealed.")


@dataclass(frozen=True)
class Revealed:
    """A challenge's published hidden-test scores: when they were first revealed, and per result id
    ``{"scores": {<hidden column key>: score}, "average": score or None}``."""

    first_at: str
    entries: Mapping[str, Mapping]


def revealed_tests(reveal_records: Iterable[Record]) -> dict[str, Revealed]:
    """Challenge id -> its revealed scores, merged over its reveal records in the order they were made."""
    found: dict[str, Revealed] = {}
    for record in sorted(reveal_records, key=lambda r: (r["revealed_at"], r["id"])):
        earlier = found.get(record["challenge"])
        entries = {**record["entries"], **(earlier.entries if earlier else {})}  # the first reveal of an entry wins
        found[record["challenge"]] = Revealed(earlier.first_at if earlier else record["revealed_at"], entries)
    return found


def read_revealed(store: Store) -> dict[str, Revealed]:
    return revealed_tests(store.all(REVEALS)) if store.serves(REVEALS) else {}


def _number(value: object) -> float | None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    return float(value) if ok else None


def public_entry(challenge: Challenge, hidden: Record) -> dict | None:
    """What a reveal publishes of one private record: the definition's test columns and their average (as the
    evaluator recorded it, else the unweighted mean when every column is scored); None when it holds no score."""
    keys = [c.key for c in challenge.hidden_test.columns]
    stored = hidden.get("scores") or {}
    scores = {key: value for key in keys if (value := _number(stored.get(key))) is not None}
    if not scores:
        return None
    average = _number(hidden.get("average"))
    if average is None and len(scores) == len(keys):
        average = sum(scores.values()) / len(keys)
    return {"scores": scores, "average": average}


def reveal_hidden_test(store: Store, challenge: Challenge, organiser_token: str, now: datetime | None = None,
                       environ: Mapping[str, str] = os.environ) -> str:
    """Publish the stored hidden-test scores of ``challenge``'s results (those not revealed before), if
    ``organiser_token`` is the organiser's. Returns what happened, in words (Markdown); a refusal writes nothing."""
    refusal = organiser_refusal(organiser_token, REVEAL_OFF, NOT_ORGANISER, environ)
    if refusal:
        return refusal
    if challenge.hidden_test is None:
        return f"{challenge.title} has no hidden test. Nothing was revealed."
    if not store.serves(HIDDEN_SCORES) or not store.serves(REVEALS):
        return "This Space keeps no private store, so it holds no hidden-test scores. Nothing was revealed."
    try:
        results = {result_id for result_id, request in finished_results(store.all("requests")).items()
                   if request.get("challenge") == challenge.id}
        hidden = [h for h in store.all(HIDDEN_SCORES) if h.get("challenge") == challenge.id and h["id"] in results]
    except StoreError as error:
        return f"The stored scores cannot be read right now ({error}). Nothing was revealed."
    entries = {h["id"]: entry for h in hidden if (entry := public_entry(challenge, h)) is not None}
    moment = now or datetime.now(UTC)
    record_id = f"reveal-{challenge.id}-{moment:%Y%m%dT%H%M%S%f}"

    def decide(snapshot: dict[str, Record]) -> tuple[list[Record], str]:
        done = revealed_tests(snapshot.values()).get(challenge.id)
        new = {key: entry for key, entry in entries.items() if done is None or key not in done.entries}
        if not new:
            what = "no entry that has not been revealed already" if done else "no hidden-test scores yet"
            return [], f"The private store holds {what} for {challenge.title}. Nothing was revealed."
        record = {"id": record_id, "challenge": challenge.id, "revealed_at": moment.isoformat(), "entries": new}
        return [record], (f"Revealed the hidden test of {challenge.title}: the test scores of {len(new)} "
                          f"{'entry' if len(new) == 1 else 'entries'} are now public and rank the board.")

    try:
        return store.transact(REVEALS, decide)
    except StoreError as error:
        return (f"The reveal could not be saved ({error}). It may or may not have been written: refresh the "
                "board before trying again.")

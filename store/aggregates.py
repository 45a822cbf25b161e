"""The aggregated boards (collection ``boards``): one record per challenge holding its result rows, so that a
board, a replica's start, a details page or a re-check never lists the results collection.

An aggregate is ``{"id": <challenge id>, "challenge", "built_at", "results_version": <the results version it
was read at: the Hub head, with the outbox's counter>, "rows": [result records]}``, built by
:mod:`leaderboard.aggregate`. A result not yet in an aggregate is found through the requests: a FINISHED
request names its ``result_id`` (the worker writes the result before it marks the request FINISHED), and the
requests are a cheap table. Published rows (``source: published``)
live only in the aggregates; evaluated results live in the results collection as well.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable

from store.base import Record, Store
from store.states import FINISHED

BOARDS = "boards"
# store -> (boards version, the aggregates read then), forgotten with the store
_read: weakref.WeakKeyDictionary[Store, tuple[str, dict[str, Record]]] = weakref.WeakKeyDictionary()


def finished_results(requests: Iterable[Record]) -> dict[str, Record]:
    """Result id -> the FINISHED request that produced it."""
    return {request["result_id"]: request for request in requests
            if request.get("state") == FINISHED and isinstance(request.get("result_id"), str)}


def read_aggregates(store: Store) -> dict[str, Record]:
    """Challenge id -> its aggregate (one file per challenge, 100k rows in all at full scale), read again only
    when the boards changed since this process last read them (the boards and their job share the read); empty
    when the store keeps no boards. Callers must not change what they are handed."""
    if not store.serves(BOARDS):
        return {}
    version = store.version(BOARDS)
    cached = _read.get(store)
    if cached is None or cached[0] != version:
        cached = _read[store] = (version, {record["id"]: record for record in store.all(BOARDS)})
    return cached[1]


def aggregate(store: Store, challenge_id: str) -> Record | None:
    """The challenge's aggregate, or None when none was built yet (or the store keeps no boards)."""
    return store.get(BOARDS, challenge_id) if store.serves(BOARDS) else None


def find_result(store: Store, result_id: str, challenge_ids: Iterable[str]) -> Record | None:
    """A result by id: a published row (``published-<challenge>-<row>``) from its challenge's aggregate (a copy
    an older version imported into the results collection is stale), any other from the results collection,
    else from the aggregates (what a store that cannot reach its results still holds of them)."""
    if not result_id:
        return None
    for challenge_id in challenge_ids:
        if result_id.startswith(f"published-{challenge_id}-"):
            return _row(aggregate(store, challenge_id), result_id)
    record = store.get("results", result_id)
    if record is None and store.serves(BOARDS):
        record = next(filter(None, (_row(found, result_id) for found in store.all(BOARDS))), None)
    return record


def _row(found: Record | None, result_id: str) -> Record | None:
    return next((row for row in (found or {}).get("rows", ()) if row.get("id") == result_id), None)

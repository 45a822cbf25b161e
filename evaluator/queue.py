"""Request state changes made by evaluation workers, each one atomic store step on one request (pure steps).

PENDING -> RUNNING (claimed, with worker id, start time, heartbeat) -> FINISHED | FAILED. A RUNNING request
whose heartbeat is older than ``stale_after`` was left by a worker that died: it goes back to PENDING, or to
FAILED (caused by the evaluator) once it has been tried ``max_attempts`` times. Every change checks that the
request is still the one this worker claimed (same worker, same attempt), so a worker that lost its claim
cannot overwrite it.

Every step may be decided twice: a Hub commit that landed but answered 5xx/429 is retried on a fresh head that
already holds it. So each step is idempotent: a change already applied by this claim counts as done, and
:func:`claim_next` first resumes a request that this worker already holds (the claim commit of an earlier call
that landed unanswered, or one whose final writes the store refused) instead of claiming a second one. A worker
evaluates one request at a time, so any RUNNING request under its id is one it is not processing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from evaluator.failures import EVALUATOR, failure_record
from store.base import Record, Store
from store.states import FAILED, FINISHED, PENDING, RUNNING
from store.timestamps import parse_utc, utc_stamp


@dataclass(frozen=True)
class Claim:
    request_id: str
    worker: str
    attempt: int


ORDER = ("submitted_at", "id")  # the oldest submission is evaluated first


def _is_stale(request: Record, now: datetime, stale_after: timedelta) -> bool:
    if request.get("state") != RUNNING:
        return False
    beat = parse_utc(request.get("heartbeat_at")) or parse_utc(request.get("started_at"))
    return beat is None or beat < now - stale_after


def requeued(request: Record | None, now: datetime, stale_after: timedelta, max_attempts: int) -> Record | None:
    """A stale RUNNING request back to PENDING (FAILED after ``max_attempts``); None when it is not stale."""
    if request is None or not _is_stale(request, now, stale_after):
        return None
    attempts = request.get("attempts", 0)
    if attempts >= max_attempts:
        failure = failure_record(f"evaluation was interrupted {attempts} times (the worker stopped answering). "
                                 "This does not count against your submission limit.", EVALUATOR, None)
        return {**request, "state": FAILED, "failure": failure, "worker": None}
    return {**request, "state": PENDING, "worker": None, "progress": None}


def _taken(request: Record, worker: str, now: datetime) -> Record:
    """A request this worker takes: resumed (same attempt) when it already holds it, else claimed afresh."""
    if request.get("state") == RUNNING:  # ours already (a claim whose answer was lost): never hold two
        return {**request, "heartbeat_at": utc_stamp(now)}
    return {**request, "state": RUNNING, "worker": worker, "attempts": request.get("attempts", 0) + 1,
            "started_at": utc_stamp(now), "heartbeat_at": utc_stamp(now), "progress": None, "failure": None}


def claim_next(store: Store, worker: str, now: datetime, stale_after: timedelta, max_attempts: int) -> tuple[Claim, Record] | None:
    """Re-queue abandoned requests (reading only RUNNING ones), then resume the request this worker already
    holds, or else take the oldest PENDING one, atomically (one row each on the SQL store)."""
    for running in store.select("requests", state=RUNNING):
        if _is_stale(running, now, stale_after):  # checked again on the stored row: another worker may be first
            store.update_one("requests", running["id"],
                             lambda current: (requeued(current, now, stale_after, max_attempts), None))
    taken = store.claim_oldest("requests", PENDING, ORDER, lambda request: _taken(request, worker, now),
                               held={"state": RUNNING, "worker": worker})
    if taken is None:
        return None
    return Claim(taken["id"], worker, taken.get("attempts", 0)), taken


def _update_if_ours(store: Store, claim: Claim, change: dict) -> bool:
    """Apply ``change`` to the claimed request if this worker still holds it; returns whether it holds it.

    A state change this claim already made (a commit that landed but whose answer was lost) counts as done."""

    def apply(request: Record | None) -> tuple[Record | None, bool]:
        if request is None or request.get("worker") != claim.worker or request.get("attempts") != claim.attempt:
            return None, False
        if request.get("state") != RUNNING:  # ended: done if by this very change (an answer lost on the way)
            return None, "state" in change and request.get("state") == change["state"]
        return {**request, **change}, True

    return store.update_one("requests", claim.request_id, apply)


def heartbeat(store: Store, claim: Claim, now: datetime, progress: dict | None = None) -> bool:
    change = {"heartbeat_at": utc_stamp(now)}
    if progress is not None:
        change["progress"] = progress
    return _update_if_ours(store, claim, change)


def mark_finished(store: Store, claim: Claim, result_id: str, now: datetime) -> bool:
    return _update_if_ours(store, claim, {"state": FINISHED, "result_id": result_id, "finished_at": utc_stamp(now),
                                          "heartbeat_at": utc_stamp(now)})


def mark_failed(store: Store, claim: Claim, reason: str, log_tail: str | None, now: datetime, cause: str) -> bool:
    """FAILED with ``failure = {reason, log_tail, cause}`` (redacted: it is published)."""
    return _update_if_ours(store, claim, {"state": FAILED, "failure": failure_record(reason, cause, log_tail),
                                          "finished_at": utc_stamp(now)})

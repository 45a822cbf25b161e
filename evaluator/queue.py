"""Request state changes made by evaluation workers, each one store transaction (pure ``decide`` steps).

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


def _is_stale(request: Record, now: datetime, stale_after: timedelta) -> bool:
    if request.get("state") != RUNNING:
        return False
    beat = parse_utc(request.get("heartbeat_at")) or parse_utc(request.get("started_at"))
    return beat is None or beat < now - stale_after


def requeue_stale(snapshot: dict[str, Record], now: datetime, stale_after: timedelta, max_attempts: int) -> list[Record]:
    changed = []
    for request in snapshot.values():
        if not _is_stale(request, now, stale_after):
            continue
        attempts = request.get("attempts", 0)
        if attempts >= max_attempts:
            failure = failure_record(f"evaluation was interrupted {attempts} times (the worker stopped answering). "
                                     "This does not count against your submission limit.", EVALUATOR, None)
            changed.append({**request, "state": FAILED, "failure": failure, "worker": None})
        else:
            changed.append({**request, "state": PENDING, "worker": None, "progress": None})
    return changed


def _held_by(snapshot: dict[str, Record], worker: str) -> Record | None:
    """The oldest RUNNING request claimed by ``worker``, if any."""
    held = sorted((r for r in snapshot.values() if r.get("state") == RUNNING and r.get("worker") == worker),
                  key=lambda r: (str(r.get("started_at")), r["id"]))
    return held[0] if held else None


def claim_next(store: Store, worker: str, now: datetime, stale_after: timedelta, max_attempts: int) -> tuple[Claim, Record] | None:
    """Re-queue abandoned requests, then resume the request this worker already holds, or else take the oldest
    PENDING one, atomically."""

    def decide(snapshot: dict[str, Record]):
        writes = {r["id"]: r for r in requeue_stale(snapshot, now, stale_after, max_attempts)}
        current = {**snapshot, **writes}
        held = _held_by(current, worker)
        if held is not None:  # ours already: resume it (same attempt), never hold two
            resumed = {**held, "heartbeat_at": utc_stamp(now)}
            writes[resumed["id"]] = resumed
            return list(writes.values()), (Claim(resumed["id"], worker, resumed.get("attempts", 0)), resumed)
        pending = sorted((r for r in current.values() if r.get("state") == PENDING),
                         key=lambda r: (str(r.get("submitted_at")), r["id"]))
        if not pending:
            return list(writes.values()), None
        oldest = pending[0]
        attempt = oldest.get("attempts", 0) + 1
        claimed = {**oldest, "state": RUNNING, "worker": worker, "attempts": attempt, "started_at": utc_stamp(now),
                   "heartbeat_at": utc_stamp(now), "progress": None, "failure": None}
        writes[claimed["id"]] = claimed
        return list(writes.values()), (Claim(claimed["id"], worker, attempt), claimed)

    return store.transact("requests", decide)


def _update_if_ours(store: Store, claim: Claim, change: dict) -> bool:
    """Apply ``change`` to the claimed request if this worker still holds it; returns whether it holds it.

    A state change this claim already made (a commit that landed but whose answer was lost) counts as done."""

    def decide(snapshot: dict[str, Record]):
        request = snapshot.get(claim.request_id)
        if request is None or request.get("worker") != claim.worker or request.get("attempts") != claim.attempt:
            return [], False
        if request.get("state") != RUNNING:  # ended: done if by this very change (an answer lost on the way)
            return [], "state" in change and request.get("state") == change["state"]
        updated = {**request, **change}
        return ([updated] if updated != request else []), True

    return store.transact("requests", decide)


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

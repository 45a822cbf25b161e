"""Request state changes made by evaluation workers, each one store transaction (pure ``decide`` steps).

PENDING -> RUNNING (claimed, with worker id, start time, heartbeat) -> FINISHED | FAILED. A RUNNING request
whose heartbeat is older than ``stale_after`` was left by a worker that died: it goes back to PENDING, or to
FAILED once it has been tried ``max_attempts`` times. Every change checks that the request is still the one
this worker claimed (same worker, same attempt), so a worker that lost its claim cannot overwrite it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from submissions.service import FAILED, FINISHED, PENDING, RUNNING
from submissions.store import Record, Store


@dataclass(frozen=True)
class Claim:
    request_id: str
    worker: str
    attempt: int


def _stamp(now: datetime) -> str:
    return now.isoformat(timespec="seconds")


def _is_stale(request: Record, now: datetime, stale_after: timedelta) -> bool:
    beat = request.get("heartbeat_at") or request.get("started_at")
    return request.get("state") == RUNNING and (not beat or datetime.fromisoformat(beat) < now - stale_after)


def requeue_stale(snapshot: dict[str, Record], now: datetime, stale_after: timedelta, max_attempts: int) -> list[Record]:
    changed = []
    for request in snapshot.values():
        if not _is_stale(request, now, stale_after):
            continue
        attempts = request.get("attempts", 0)
        if attempts >= max_attempts:
            failure = {"reason": f"evaluation was interrupted {attempts} times (the worker stopped answering)",
                       "log_tail": None}
            changed.append({**request, "state": FAILED, "failure": failure, "worker": None})
        else:
            changed.append({**request, "state": PENDING, "worker": None, "progress": None})
    return changed


def claim_next(store: Store, worker: str, now: datetime, stale_after: timedelta, max_attempts: int) -> tuple[Claim, Record] | None:
    """Re-queue abandoned requests, then take the oldest PENDING one, atomically."""

    def decide(snapshot: dict[str, Record]):
        writes = {r["id"]: r for r in requeue_stale(snapshot, now, stale_after, max_attempts)}
        current = {**snapshot, **writes}
        pending = sorted((r for r in current.values() if r.get("state") == PENDING),
                         key=lambda r: (r["submitted_at"], r["id"]))
        if not pending:
            return list(writes.values()), None
        oldest = pending[0]
        attempt = oldest.get("attempts", 0) + 1
        claimed = {**oldest, "state": RUNNING, "worker": worker, "attempts": attempt, "started_at": _stamp(now),
                   "heartbeat_at": _stamp(now), "progress": None, "failure": None}
        writes[claimed["id"]] = claimed
        return list(writes.values()), (Claim(claimed["id"], worker, attempt), claimed)

    return store.transact("requests", decide)


def _update_if_ours(store: Store, claim: Claim, change: dict) -> bool:
    """Apply ``change`` to the claimed request if this worker still holds it; returns whether it did."""

    def decide(snapshot: dict[str, Record]):
        request = snapshot.get(claim.request_id)
        ours = (request is not None and request.get("state") == RUNNING and request.get("worker") == claim.worker
                and request.get("attempts") == claim.attempt)
        return ([{**request, **change}], True) if ours else ([], False)

    return store.transact("requests", decide)


def heartbeat(store: Store, claim: Claim, now: datetime, progress: dict | None = None) -> bool:
    change = {"heartbeat_at": _stamp(now)}
    if progress is not None:
        change["progress"] = progress
    return _update_if_ours(store, claim, change)


def mark_finished(store: Store, claim: Claim, result_id: str, now: datetime) -> bool:
    return _update_if_ours(store, claim, {"state": FINISHED, "result_id": result_id, "finished_at": _stamp(now),
                                          "heartbeat_at": _stamp(now)})


def mark_failed(store: Store, claim: Claim, reason: str, log_tail: str | None, now: datetime) -> bool:
    return _update_if_ours(store, claim, {"state": FAILED, "failure": {"reason": reason, "log_tail": log_tail},
                                          "finished_at": _stamp(now)})

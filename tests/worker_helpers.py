"""Pieces the worker reliability tests share: a one-column challenge (cheap evaluations), a clock that ticks a
second per reading (so every beat changes the request record: one store write per beat), and the checks that
a drained queue lost and duplicated nothing."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import yaml

from challenges.definitions import DEFINITIONS_DIR, Challenge, parse_challenge
from store.base import Store
from store.details_files import details_info


def one_column_challenge() -> dict[str, Challenge]:
    """General NLP with its STEM column only: the real suite, a third of the work."""
    raw = yaml.safe_load((DEFINITIONS_DIR / "general_nlp.yaml").read_text())
    raw["columns"] = raw["columns"][:1]
    return {raw["id"]: parse_challenge(raw)}


class TickingClock:
    """Starts at ``start`` (default: now) and moves one second per reading; ``jump`` moves it further."""

    def __init__(self, start: datetime | None = None):
        self.now = start or datetime.now(timezone.utc).replace(microsecond=0)

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now

    def jump(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def stored_details(store: Store, results: list[dict]) -> list[dict]:
    """The details stored for ``results`` (those that have some): id, request id, attempt and worker."""
    found = [(result["id"], details_info(store, result["id"])) for result in results]
    return [{"id": rid, "request_id": info.request_id, "attempt": info.attempt, "worker": info.worker}
            for rid, info in found if info is not None]


def queue_outcome(requests: list[dict], results: list[dict], details: list[dict]) -> dict:
    """What a drained queue holds: counts, and the ids that are lost (not ended, or FINISHED without its
    result) or duplicated (more than one result for a request, a result without a FINISHED request)."""
    by_request: dict[str, list[str]] = {}
    for result in results:
        by_request.setdefault(result["request_id"], []).append(result["id"])
    finished = {r["id"] for r in requests if r["state"] == "FINISHED"}
    failed = {r["id"] for r in requests if r["state"] == "FAILED"}
    lost = sorted({r["id"] for r in requests if r["state"] not in ("FINISHED", "FAILED")}
                  | {rid for rid in finished if rid not in by_request}
                  | {r["id"] for r in requests if r["state"] == "FINISHED" and r.get("result_id") != f"result-{r['id']}"})
    duplicated = sorted({rid for rid, ids in by_request.items() if len(ids) > 1}
                        | {rid for rid in by_request if rid not in finished})
    return {"requests": len(requests), "finished": len(finished), "failed": len(failed), "results": len(results),
            "details": len(details), "lost": lost, "duplicated": duplicated,
            "without_details": sorted(r["id"] for r in results if r["id"] not in {d["id"] for d in details})}

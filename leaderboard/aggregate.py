"""The scheduled job that builds the aggregated boards (:mod:`store.aggregates`): one record per challenge, so
that boards and replica starts read a handful of files instead of listing every result.

Each run pins the results head first (every result it reads exists at that commit), then builds each
challenge's rows from its previous aggregate, the results finished since (the ids FINISHED requests name, among
the latest active requests once every challenge has an aggregate, else among all of them; read one by one, at
most ``max_fetch`` per run so that a first build stays inside the Hub's download quota and carries on at the
next run) and the published CSV rows (leaderboard/published.py; an edited row replaces its
row, a removed one goes, a row that cannot be read keeps what the aggregate held). Only the challenges that
changed are written, in one commit. Two replicas racing: the commit that loses re-reads the aggregates, sees
that another run wrote since (a newer ``built_at``) and writes nothing for that challenge.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from apscheduler.schedulers.background import BackgroundScheduler

from challenges.definitions import challenges
from leaderboard.published import PUBLISHED_DIR, all_published_records
from store import leases
from store.aggregates import BOARDS, finished_results, read_aggregates
from store.base import Record, Store, StoreError
from store.routed import RoutedStore
from store.sql import SqlStore
from uikit.settings import positive_number

MAX_FETCH = 1000  # results read per run: a fifth of the Hub's 5,000 downloads per token per 5 minutes
# Once every challenge has an aggregate, a run looks for newly finished results among the requests active last
# (a FINISHED request's last beat is its finish), an indexed read: far more than finish between two runs.
RECENT_REQUESTS = 5000
REFRESH_S = 300.0
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BoardsRefresh:
    """What one run did: the challenges whose aggregate it wrote, and the finished results it left for the
    next run (over ``max_fetch``)."""

    written: tuple[str, ...]
    pending: int


def refresh_boards(store: Store, directory: Path = PUBLISHED_DIR, now: datetime | None = None,
                   max_fetch: int = MAX_FETCH) -> BoardsRefresh:
    """Bring every challenge's aggregate up to date (see the module docstring)."""
    results_version = store.version("results")
    stored = read_aggregates(store)
    previous = {cid: stored.get(cid) for cid in challenges()}
    if all(found and not found.get("backlog") for found in previous.values()):  # all folded in before
        finished = finished_results(store.newest("requests", "heartbeat_at", RECENT_REQUESTS))
    else:  # a first build (a new Space, or one upgraded from files): every request, once
        finished = finished_results(store.all("requests"))
    known = {row["id"] for found in previous.values() for row in (found or {}).get("rows", ())}
    wanted = sorted(set(finished) - known)
    backlog = max(0, len(wanted) - max_fetch)  # left for the next run, which then reads every request again
    fetched: dict[str, list[Record]] = {}
    for result_id in wanted[:max_fetch]:
        record = store.get_at("results", result_id, results_version)
        if record is not None:
            fetched.setdefault(record["challenge"], []).append(record)
    unreadable: set[str] = set()
    published: dict[str, list[Record]] = {}
    for record in all_published_records(directory, unreadable):
        published.setdefault(record["challenge"], []).append(record)
    moment = (now or datetime.now(UTC)).isoformat()
    built: dict[str, tuple[str | None, Record]] = {}
    for cid, found in previous.items():
        old = {row["id"]: row for row in (found or {}).get("rows", ())}
        rows = {rid: row for rid, row in old.items() if row.get("source") != "published" or rid in unreadable}
        rows.update({record["id"]: record for record in [*published.get(cid, ()), *fetched.get(cid, ())]})
        if found is not None and rows == old and found.get("backlog", 0) == backlog:
            continue
        record = {"id": cid, "challenge": cid, "built_at": moment, "results_version": results_version,
                  "backlog": backlog, "rows": [rows[rid] for rid in sorted(rows)]}
        built[cid] = ((found or {}).get("built_at"), record)

    def decide(snapshot: dict[str, Record]) -> tuple[list[Record], tuple[str, ...]]:
        writes = [record for cid, (seen, record) in built.items()
                  if (snapshot.get(cid) or {}).get("built_at") == seen and not store.set_aside.get(BOARDS, cid)]
        return writes, tuple(record["id"] for record in writes)

    written = store.transact(BOARDS, decide) if built else ()
    return BoardsRefresh(written, backlog)


def refresh_interval_s(environ: Mapping[str, str] = os.environ) -> float:
    return positive_number(environ, "BOARDS_REFRESH_S", "seconds", REFRESH_S)


def start_boards_refresh(store: Store, environ: Mapping[str, str] = os.environ) -> BackgroundScheduler:
    """Run :func:`refresh_boards` every ``BOARDS_REFRESH_S`` seconds (default 300) in the background."""
    every = refresh_interval_s(environ)
    holder = leases.new_holder()
    scheduler = BackgroundScheduler(daemon=True)
    scheduler.add_job(_refresh_logged, "interval", args=[store, holder, 3 * every], seconds=every,
                      max_instances=1, coalesce=True, id="refresh-boards")
    scheduler.start()
    return scheduler


def holds_the_job(store: Store, holder: str, lease_s: float) -> bool:
    """Whether ``holder`` runs the boards job now: with a SQL queue database (several replicas), only the holder
    of its lease ``refresh-boards`` (which expires if the holder dies); on one machine, always."""
    live = store.backend("requests") if isinstance(store, RoutedStore) else None
    if not isinstance(live, SqlStore):
        return True
    return leases.acquire(live, "refresh-boards", holder, now=time.time(), ttl_s=lease_s) is not None


def _refresh_logged(store: Store, holder: str, lease_s: float) -> None:
    if not holds_the_job(store, holder, lease_s):  # another replica runs it
        return
    try:
        done = refresh_boards(store)
    except StoreError as error:  # the Hub is down or busy: the boards keep the aggregates they have
        log.warning("the boards were not refreshed now: %s", error)
        return
    if done.written or done.pending:
        log.info("boards refreshed: %s written, %d finished results left for the next run",
                 ", ".join(done.written) or "none", done.pending)

"""Publish the SQL store's events to the Hub in batches: the public record of the live queue and of the votes.

``publish_events`` runs on a schedule (``PUBLISH_EVERY_S``, default 300 s) in every app replica and worker;
only the holder of the lease ``publish-<collection>`` publishes (the lease expires when its holder dies, and
another takes over). One run makes ONE commit to the collection's dataset:

- requests: ``log/<first seq>-<last seq>.jsonl`` (every state change since the last batch) and
  ``queue/current.jsonl`` (the PENDING and RUNNING requests, oldest first);
- votes: ``votes/<first seq>-<last seq>.jsonl`` (every new vote since the last batch).

Each line is ``{"seq", "at", "record"}``. The batch's last seq is stored (``pending``) before the commit and the
cursor advances only after it landed, so a holder that dies in between leaves the same batch to the next one,
which publishes the same file name with the same content: nothing is published twice or lost.

The same schedule publishes the outbox (results, details, private records, hidden scores staged in the
database; :mod:`store.outbox_publish`): one commit per dataset repo per run.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable, Mapping
from functools import partial

from apscheduler.schedulers.background import BackgroundScheduler
from huggingface_hub import CommitOperationAdd, HfApi
from sqlalchemy import select

from store import leases
from store.base import Store
from store.hub import HubStore
from store.leases import Lease
from store.outbox import OutboxStore
from store.outbox_publish import publish_outbox
from store.routed import RoutedStore
from store.sql import SqlStore
from store.sql_schema import events
from store.states import PENDING, RUNNING

DEFAULT_EVERY_S = 300.0
BATCH_LIMIT = 50_000  # events per file at most
FOLDERS = {"requests": "log", "votes": "votes"}
log = logging.getLogger(__name__)


def publish_events(live: SqlStore, api: HfApi, repo_id: str, collection: str, *, holder: str,
                   now: float | None = None, lease_s: float = 3 * DEFAULT_EVERY_S) -> int | None:
    """Publish the events of ``collection`` not published yet as one commit to ``repo_id`` (a dataset).

    Returns how many events were published; None when another holder has the lease. Raises what the Hub
    raises (the batch stays pending, to be published again by the next run)."""
    lease = leases.acquire(live, f"publish-{collection}", holder, now=time.time() if now is None else now,
                           ttl_s=lease_s)
    if lease is None:
        return None
    batch = plan_batch(live, lease, collection)
    if not batch:
        return 0
    push_batch(live, api, repo_id, collection, batch)
    leases.record(live, lease, cursor=batch[-1]["seq"], pending=None)
    return len(batch)


def plan_batch(live: SqlStore, lease: Lease, collection: str) -> list[dict]:
    """The events after the lease's cursor: the pending batch again if there is one, else a new one (whose end
    is stored as pending before anything is published)."""
    query = select(events).where(events.c.collection == collection, events.c.seq > lease.cursor)
    query = query.where(events.c.seq <= lease.pending) if lease.pending else query.limit(BATCH_LIMIT)
    with live.engine.connect() as connection:
        rows = connection.execute(query.order_by(events.c.seq)).all()
    batch = [{"seq": row.seq, "at": row.at, "record": json.loads(row.body)} for row in rows]
    if batch and lease.pending != batch[-1]["seq"]:
        leases.record(live, lease, pending=batch[-1]["seq"])
    return batch


def push_batch(live: SqlStore, api: HfApi, repo_id: str, collection: str, batch: list[dict]) -> None:
    """One commit: the batch's file (named by its first and last seq) and, for requests, the queue snapshot."""
    first, last = batch[0]["seq"], batch[-1]["seq"]
    lines = "".join(json.dumps(event, sort_keys=True, ensure_ascii=False) + "\n" for event in batch)
    operations = [CommitOperationAdd(f"{FOLDERS[collection]}/{first:012d}-{last:012d}.jsonl", lines.encode())]
    if collection == "requests":
        waiting = sorted((r for state in (PENDING, RUNNING) for r in live.select("requests", state=state)),
                         key=lambda r: (str(r.get("submitted_at")), r["id"]))
        snapshot = "".join(json.dumps(r, sort_keys=True, ensure_ascii=False) + "\n" for r in waiting)
        operations.append(CommitOperationAdd("queue/current.jsonl", snapshot.encode()))
    api.create_commit(repo_id, operations, commit_message=f"{collection}: events {first}-{last}",
                      repo_type="dataset")


def publish_every_s(environ: Mapping[str, str] = os.environ) -> float:
    return float(environ.get("PUBLISH_EVERY_S") or DEFAULT_EVERY_S)


def start_publishing(store: Store, environ: Mapping[str, str] = os.environ) -> BackgroundScheduler | None:
    """Publish every ``PUBLISH_EVERY_S`` seconds (default 300) what the SQL store keeps for the Hub datasets of
    ``store`` (as :func:`store.factory.open_store` routes them); None when there is nothing to publish to."""
    if not isinstance(store, RoutedStore) or not isinstance(store.default, HubStore):
        return None
    hub = store.default
    jobs = [(store.backend(c), c) for c in FOLDERS if isinstance(store.backend(c), SqlStore) and c in hub.repos]
    outboxes = [backend for backend in store.backends() if isinstance(backend, OutboxStore)]
    if not jobs and not outboxes:
        return None
    every = publish_every_s(environ)
    holder = leases.new_holder()
    scheduler = BackgroundScheduler(daemon=True)
    for live, collection in jobs:
        repo_id = hub.repos[collection]
        run = partial(publish_events, live, hub.api, repo_id, collection, holder=holder, lease_s=3 * every)
        scheduler.add_job(_publish_logged, "interval", seconds=every, id=f"publish-{collection}", max_instances=1,
                          coalesce=True, args=(f"{collection} events", repo_id, run))
    for outbox in outboxes:
        for repo_id in outbox.repos():
            run = partial(publish_outbox, outbox, repo_id, holder=holder, lease_s=3 * every)
            scheduler.add_job(_publish_logged, "interval", seconds=every, id=f"publish-outbox-{repo_id}",
                              max_instances=1, coalesce=True, args=("staged files", repo_id, run))
    scheduler.start()
    return scheduler



def _publish_logged(what: str, repo_id: str, publish: Callable[[], int | None]) -> None:
    """One scheduled run of ``publish`` (events or staged files): logged, never raised."""
    try:
        published = publish()
    except Exception as error:  # noqa: BLE001 - the Hub or the database failed: the batch waits for the next run
        log.warning("publishing the %s to %s failed (tried again at the next run): %s", what, repo_id, error)
        return
    if published:
        log.info("published %d %s to %s", published, what, repo_id)

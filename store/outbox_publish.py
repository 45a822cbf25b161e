"""Publish the outbox (:mod:`store.outbox`) to the Hub: ONE commit per dataset repo per ``PUBLISH_EVERY_S``.

Every app replica and worker schedules :func:`publish_outbox` for each repo holding staged collections; only the
holder of the lease ``publish-outbox-<repo>`` publishes. A run commits the oldest staged files (at most
``BATCH_FILES`` files and ``BATCH_BYTES`` bytes) at their own paths, with no parent commit (only the lease holder
writes these paths), then drops the bodies of the rows it published. A holder that dies between the commit and
that step leaves the rows: the next holder commits the same paths with the same bytes again (the Hub keeps one
file per path, so nothing appears twice). A Hub error leaves the whole batch for the next run.
"""

from __future__ import annotations

import time

from huggingface_hub import CommitOperationAdd

from store import leases
from store.outbox import PRUNE_AFTER_S, OutboxStore

BATCH_FILES = 1000
BATCH_BYTES = 256 * 1024 * 1024  # held in memory by the publishing run


def publish_outbox(outbox: OutboxStore, repo_id: str, *, holder: str, now: float | None = None, lease_s: float,
                   max_files: int = BATCH_FILES, max_bytes: int = BATCH_BYTES) -> int | None:
    """Commit one batch of the files staged for ``repo_id``: how many; None when another holder has the lease.
    Raises what the Hub raises (the batch stays staged)."""
    now = time.time() if now is None else now
    lease = leases.acquire(outbox.live, f"publish-outbox-{repo_id}", holder, now=now, ttl_s=lease_s)
    if lease is None:
        return None
    collections = outbox.repos().get(repo_id, ())
    batch = outbox.pending(collections, max_files, max_bytes)
    if batch:
        commit = outbox.hub.api.create_commit(
            repo_id, [CommitOperationAdd(staged.path, staged.body) for staged in batch], repo_type="dataset",
            commit_message=f"Publish {len(batch)} staged file(s): {', '.join(s.path for s in batch[:5])}"[:200])
        outbox.mark_published(batch, commit.oid, now)
    outbox.prune(collections, now - PRUNE_AFTER_S)
    return len(batch)

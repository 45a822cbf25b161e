"""The store on Hugging Face Hub dataset repos, for a Space (or several replicas) sharing one state.

Each collection lives in a dataset repo (several collections may share one) as ``{collection}/{id}.json``.
A transaction is optimistic: read the branch head, read the collection as of that commit, run ``decide``,
and commit its writes with ``parent_commit=head``. If anyone committed in between, the Hub refuses the commit
(412 Precondition Failed) and the whole step runs again on the new head, after a jittered backoff, so no write
is lost and none is applied twice on a stale view. Threads of one process also take a per-repo lock, so that
only separate replicas ever race.

:meth:`HubStore.put_missing` is write-once and needs no snapshot: it asks whether each record's file exists (one
HEAD request each) and commits the missing ones on the head those answers came from, so it costs the same at
100,000 records as at none.

File contents are cached by git blob id (an id is the hash of the content, so a cached blob is never stale);
a snapshot downloads only the records that changed since the last one.

Faults: a 412 (stale parent) is a race lost to another replica and is retried up to ``max_attempts`` times. A
429, a 5xx or a transport error is retried only a few times within a few seconds (``Retry-After`` honoured,
capped) and then raises :class:`StoreError` saying whether anything may have been written. A commit answered
with a 5xx may have landed: the next attempt decides again on a fresh head, which shows it if it did.

While the Hub cannot be reached, reads serve the last snapshot read (kept on disk under ``cache_dir``, so a
replica restarted during an outage starts from it) and :meth:`HubStore.stale_note` says since when; writes
fail at once.
"""

from __future__ import annotations

import copy
import logging
import os
import random
import threading
import time
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from typing import BinaryIO, TypeVar

import httpx2
from huggingface_hub import (
    CommitOperationAdd,
    CommitOperationDelete,
    HfApi,
)
from huggingface_hub.errors import (
    EntryNotFoundError,
    HfHubHTTPError,
    RepositoryNotFoundError,
)
from huggingface_hub.utils import build_hf_headers, get_session, hf_raise_for_status

from store import hub_files, hub_reads
from store.base import (
    _ID_PATTERN,
    COLLECTIONS,
    Record,
    Rewrite,
    SetAside,
    SetAsideList,
    Store,
    StoreError,
    check_record,
    dump_record,
)
from store.hub_faults import (
    TRANSIENT_STATUS,
    FaultBudget,
    HubUnreachable,
    retry_after_s,
    status_of,
)
from store.record_contract import RecordRejected, read_record
from store.snapshot_cache import SnapshotCache

T = TypeVar("T")
log = logging.getLogger(__name__)
NOTHING_READ = "nothing-read"  # the version of a collection never read while the Hub is down


def _clock(moment: datetime) -> str:
    return moment.strftime("%H:%M UTC" if moment.date() == datetime.now(timezone.utc).date() else "%Y-%m-%d %H:%M UTC")


class HubStore(Store):
    """:class:`Store` on Hub dataset repos.

    ``repos`` maps each collection it serves to a dataset repo ID; a collection left out is unavailable
    (using it raises :class:`StoreError`), which is how a Space without a private dataset keeps contact
    details off the public ones. ``cache_dir`` (optional) keeps the last good snapshot of each collection on
    disk for a start during a Hub outage. ``settings`` (optional) names, per collection, the setting that
    chose its repo, so that a repo that does not exist is reported with the setting to change.
    """

    def __init__(
        self,
        repos: Mapping[str, str],
        token: str | None = None,
        endpoint: str | None = None,
        branch: str = "main",
        max_attempts: int = 40,
        backoff_s: float = 0.05,
        max_backoff_s: float = 1.0,
        cache_dir: str | os.PathLike[str] | None = None,
        fault_attempts: int = 4,
        fault_budget_s: float = 5.0,
        fault_backoff_s: float = 0.5,
        timeout_s: float = 10.0,
        commit_timeout_s: float = 30.0,
        recheck_s: float = 5.0,
        settings: Mapping[str, str] | None = None,
    ):
        unknown = set(repos) - set(COLLECTIONS)
        if unknown:
            raise StoreError(f"unknown collection(s) {sorted(unknown)}")
        self.repos = dict(repos)
        self._settings: dict[str, set[str]] = {}  # repo -> the settings that point at it
        for collection, setting in (settings or {}).items():
            self._settings.setdefault(self.repos.get(collection, ""), set()).add(setting)
        self.api = HfApi(endpoint=endpoint or os.environ.get("HF_ENDPOINT") or None, token=token or False)
        self.branch = branch
        self.max_attempts, self.backoff_s, self.max_backoff_s = max_attempts, backoff_s, max_backoff_s
        self.fault_attempts, self.fault_budget_s, self.fault_backoff_s = fault_attempts, fault_budget_s, fault_backoff_s
        self.timeout_s, self.commit_timeout_s, self.recheck_s = timeout_s, commit_timeout_s, recheck_s
        self.cache = SnapshotCache(cache_dir) if cache_dir else None
        self.set_aside = SetAsideList()
        self._repo_locks = {repo: threading.Lock() for repo in set(self.repos.values())}
        self._cache_lock = threading.Lock()
        self._blobs: dict[str, dict[str, bytes]] = {}  # collection -> blob id -> content (current files only)
        self._snapshots: dict[str, tuple[str, dict[str, Record]]] = {}  # collection -> (head, records)
        self._read_at: dict[str, datetime] = {}  # collection -> when its snapshot was last confirmed current
        self._outage: dict[str, tuple[datetime, float]] = {}  # collection -> (failed at, monotonic time)

    # --- Store interface ----------------------------------------------------------------------------------
    def all(self, collection: str) -> list[Record]:
        repo = self._repo(collection)
        _, records = self._current(collection, lambda: self._fresh(repo, collection))
        return [copy.deepcopy(records[record_id]) for record_id in sorted(records)]

    def get(self, collection: str, record_id: str) -> Record | None:
        return self.get_at(collection, record_id, self.branch)

    def get_at(self, collection: str, record_id: str, version: str) -> Record | None:
        """The record at commit ``version`` (a head :meth:`version` gave, or a branch)."""
        repo = self._repo(collection)
        if not _ID_PATTERN.match(record_id):
            return None
        path = f"{collection}/{record_id}.json"
        if self._in_outage(collection):
            return self._cached_record(collection, record_id)
        try:
            content = hub_reads.download(self, repo, path, self.branch if version == NOTHING_READ else version)
        except EntryNotFoundError:
            return None
        except HubUnreachable:
            self._note_outage(collection)
            return self._cached_record(collection, record_id)
        try:
            record = read_record(collection, record_id, content)
        except RecordRejected as rejected:
            self.set_aside.add(SetAside(collection, record_id, f"{repo}/{path}", str(rejected)))
            return None
        self.set_aside.discard(collection, record_id)
        self._outage.pop(collection, None)  # the Hub answered
        return record

    def version(self, collection: str) -> str:
        repo = self._repo(collection)
        head, _ = self._current(collection, lambda: (self._head(repo), None))
        return head

    def stale_note(self, collection: str) -> str | None:
        outage, read_at = self._outage.get(collection), self._read_at.get(collection)
        if outage is None:
            return None
        shown = f"showing data read at {_clock(read_at)}" if read_at else "no data could be read yet"
        return f"Could not reach the Hub at {_clock(outage[0])}; {shown}. It may be out of date."

    def rewrite(self, collection: str, decide: Rewrite[T]) -> T:
        repo = self._repo(collection)
        faults = FaultBudget(self.fault_attempts, self.fault_budget_s, self.fault_backoff_s)
        with self._repo_locks[repo]:
            for attempt in range(1, self.max_attempts + 1):
                try:
                    head = self._head(repo)
                    snapshot = hub_reads.snapshot(self, repo, collection, head)
                except HubUnreachable as error:
                    faults.wait_or_give_up(f"The Hub could not be read ({error})", None)
                    continue
                self._confirmed(collection)
                faults.maybe_written = False  # a commit that landed earlier is in this snapshot
                writes, removals, value = decide(copy.deepcopy(snapshot))  # the cached records stay untouched
                changes = hub_reads.changes(collection, writes, removals, snapshot)
                if not changes:  # nothing changes: the snapshot is the state `value` was decided on
                    return value
                self._refuse_set_aside(collection, writes)
                if self._committed(repo, collection, changes, head, faults, attempt):
                    return value
        raise StoreError(f"{collection}: gave up after {self.max_attempts} conflicting commits to {repo}; "
                         "nothing was written")

    def put_missing(self, collection: str, records: list[Record]) -> int:
        """Write-once: ask the Hub whether each record's file exists (one HEAD each, at one commit) and commit
        the missing ones together, never listing or downloading the collection. The commit names the commit the
        answers came from as its parent, so that two replicas writing the same new id cannot both land (the
        arena's salt relies on it); a 412 asks again."""
        repo = self._repo(collection)
        latest = {check_record(collection, record): record for record in records}  # every record checked first
        faults = FaultBudget(self.fault_attempts, self.fault_budget_s, self.fault_backoff_s)
        with self._repo_locks[repo]:
            for attempt in range(1, self.max_attempts + 1):
                try:
                    head, present = hub_reads.present_at(self, repo, collection, sorted(latest))
                except HubUnreachable as error:
                    faults.wait_or_give_up(f"The Hub could not be read ({error})", None)
                    continue
                faults.maybe_written = False  # a commit that landed earlier shows as present now
                changes = {f"{collection}/{record_id}.json": dump_record(record)
                           for record_id, record in latest.items()
                           if record_id not in present and not self.set_aside.get(collection, record_id)}
                if not changes or self._committed(repo, collection, changes, head, faults, attempt):
                    return len(changes)
        raise StoreError(f"{collection}: gave up after {self.max_attempts} conflicting commits to {repo}; "
                         "nothing was written")

    def present(self, collection: str, record_ids: list[str]) -> set[str]:
        """Which of ``record_ids`` have a file (readable or not) at the branch head: one HEAD request each."""
        return hub_reads.present_at(self, self._repo(collection), collection, record_ids)[1] if record_ids else set()

    def _committed(self, repo: str, collection: str, changes: dict[str, bytes | None], head: str,
                   faults: FaultBudget, attempt: int) -> bool:
        """Commit ``changes`` on ``head``: True when done; False when the caller should decide again on a fresh
        head (a race lost to another replica, or a transient fault within the budget); StoreError otherwise."""
        try:
            self._commit(repo, changes, head)
        except HubUnreachable as error:  # the commit may have reached the Hub before the line broke
            faults.maybe_written = True
            faults.wait_or_give_up(f"The Hub could not be reached to commit to {repo} ({error})", None)
            return False
        except HfHubHTTPError as error:
            status = status_of(error)
            if status == 412:  # someone committed since `head`: decide again on the new head
                time.sleep(random.uniform(0, min(self.max_backoff_s, self.backoff_s * 2**attempt)))
                return False
            if status not in TRANSIENT_STATUS:
                raise StoreError(f"The Hub refused the commit to {repo} ({status}); nothing was written: "
                                 f"{error}") from error
            # 429 is refused before anything happens; a 5xx may come after the commit landed. Either
            # way the next attempt decides again on a fresh head, which includes it if it did.
            faults.maybe_written = faults.maybe_written or status != 429
            what = ("The Hub refused the commit for now (429 Too Many Requests)" if status == 429
                    else f"The Hub failed the commit ({status})")
            faults.wait_or_give_up(f"{what} to {repo}", retry_after_s(error))
            return False
        # (huggingface_hub drops additions equal to the branch head's files; if it dropped them
        # all, it made no commit, and the branch already holds exactly these writes.)
        with self._cache_lock:  # what we just wrote need not be downloaded again
            self._blobs.setdefault(collection, {}).update(
                {hub_reads.git_blob_sha(c): c for c in changes.values() if c is not None})
        return True

    def serves(self, collection: str) -> bool:
        return collection in self.repos

    def open_file(self, collection: str, name: str) -> BinaryIO | None:
        return hub_files.open_file(self, collection, name)

    def write_file(self, collection: str, name: str, content: bytes, keep: Callable[[BinaryIO | None], bool]) -> bool:
        return hub_files.write_file(self, collection, name, content, keep)

    # --- reading through outages --------------------------------------------------------------------------
    def _current(self, collection: str, read):  # noqa: ANN001, ANN202 - read() -> (head, records | None)
        """``read()`` from the Hub, or the last good snapshot while the Hub cannot be reached (asked again at
        most every ``recheck_s`` seconds, so visitors do not wait on a dead Hub); with no snapshot at all, an
        empty collection, which :meth:`stale_note` explains."""
        if not self._in_outage(collection):
            try:
                head, records = read()
            except HubUnreachable:
                self._note_outage(collection)
            else:
                self._confirmed(collection)
                if records is not None:
                    return head, records
                cached = self._snapshots.get(collection)
                return head, (cached[1] if cached and cached[0] == head else None)
        return self._last_good(collection) or (NOTHING_READ, {})

    def _fresh(self, repo: str, collection: str) -> tuple[str, dict[str, Record]]:
        head = self._head(repo)
        return head, hub_reads.snapshot(self, repo, collection, head)

    def _in_outage(self, collection: str) -> bool:
        outage = self._outage.get(collection)
        return outage is not None and time.monotonic() - outage[1] < self.recheck_s

    def _note_outage(self, collection: str) -> None:
        if collection not in self._outage:
            log.warning("the Hub cannot be reached; serving the last %s read", collection)
        self._outage[collection] = (datetime.now(timezone.utc), time.monotonic())

    def _confirmed(self, collection: str) -> None:
        self._outage.pop(collection, None)
        self._read_at[collection] = datetime.now(timezone.utc)

    def _cached_record(self, collection: str, record_id: str) -> Record | None:
        last = self._last_good(collection)
        record = last[1].get(record_id) if last else None
        return copy.deepcopy(record) if record is not None else None

    def _last_good(self, collection: str) -> tuple[str, dict[str, Record]] | None:
        with self._cache_lock:
            cached = self._snapshots.get(collection)
        if cached or self.cache is None:
            return cached
        kept = self.cache.load(self.repos[collection], collection)
        if kept is None:
            return None
        log.warning("serving %s from the snapshot kept at %s (head %s)", collection, kept.read_at, kept.head[:7])
        with self._cache_lock:
            self._snapshots.setdefault(collection, (kept.head, kept.records))
            self._read_at.setdefault(collection, kept.read_at)
        self.set_aside.replace(collection, kept.set_aside)
        return kept.head, kept.records

    # --- internals ------------------------------------------------------------------------------------
    def _repo(self, collection: str) -> str:
        if collection not in COLLECTIONS:
            raise StoreError(f"unknown collection {collection!r}")
        if collection not in self.repos:
            raise StoreError(f"no dataset repo is configured for the {collection!r} collection")
        return self.repos[collection]

    def _call(self, function, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202 - thin wrapper
        """Network failures become HubUnreachable (nothing was half-written); HTTP errors pass through."""
        try:
            return function(*args, **kwargs)
        except HfHubHTTPError:
            raise
        except httpx2.TransportError as error:
            raise HubUnreachable(f"the Hub could not be reached: {error or type(error).__name__}") from error

    def _commit(self, repo: str, changes: dict[str, bytes | None], head: str) -> None:
        """Commit ``changes`` (path -> content; None: delete the file) on ``head``, waiting at most
        ``commit_timeout_s`` (the client itself would wait for ever). A commit still under way when we stop
        waiting can land only on ``head``, so the next attempt, which either sees it or commits on the same
        parent, can never apply the writes twice."""
        outcome: dict[str, BaseException] = {}

        def run() -> None:
            try:
                self._call(
                    self.api.create_commit,
                    repo,
                    [CommitOperationAdd(path, content) if content is not None else CommitOperationDelete(path)
                     for path, content in changes.items()],
                    commit_message=f"Write {', '.join(changes)}"[:200],
                    repo_type="dataset",
                    revision=self.branch,
                    parent_commit=head,
                )
            except BaseException as error:  # handed to the caller's thread
                outcome["error"] = error

        thread = threading.Thread(target=run, name=f"commit-{repo}", daemon=True)
        thread.start()
        thread.join(self.commit_timeout_s)
        if thread.is_alive():
            raise HubUnreachable(f"the Hub did not answer the commit within {self.commit_timeout_s:g} s")
        if "error" in outcome:
            raise outcome["error"]

    def _read_error(self, repo: str, what: str, error: HfHubHTTPError) -> StoreError:
        if isinstance(error, RepositoryNotFoundError):
            named = " or ".join(sorted(self._settings.get(repo, ())))
            fix = f"set {named} to an existing dataset repo" if named else "configure an existing dataset repo"
            return StoreError(f"{what}: {repo} does not exist (or this token cannot read it); create it on "
                              f"the Hub, or {fix}")
        kind = HubUnreachable if status_of(error) in TRANSIENT_STATUS else StoreError
        return kind(f"{what}: {error}")

    def _head(self, repo: str) -> str:
        """The branch head, asked with a timeout (``list_repo_refs`` would wait for ever on a silent Hub)."""
        url = f"{self.api.endpoint}/api/datasets/{repo}/refs"
        try:
            response = self._call(get_session().get, url, headers=build_hf_headers(token=self.api.token),
                                  timeout=self.timeout_s)
            hf_raise_for_status(response)
        except HfHubHTTPError as error:
            raise self._read_error(repo, f"cannot read dataset {repo}", error) from error
        for branch in response.json().get("branches", []):
            if branch.get("name") == self.branch:
                return branch["targetCommit"]
        raise StoreError(f"dataset {repo} has no branch {self.branch!r}")

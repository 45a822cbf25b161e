"""The store on Hugging Face Hub dataset repos, for a Space (or several replicas) sharing one state.

Each collection lives in a dataset repo (several collections may share one) as ``{collection}/{id}.json``.
A transaction is optimistic: read the branch head, read the collection as of that commit, run ``decide``,
and commit its writes with ``parent_commit=head``. If anyone committed in between, the Hub refuses the commit
(412 Precondition Failed) and the whole step runs again on the new head, after a jittered backoff, so no write
is lost and none is applied twice on a stale view. Threads of one process also take a per-repo lock, so that
only separate replicas ever race.

File contents are cached by git blob id (an id is the hash of the content, so a cached blob is never stale);
a snapshot downloads only the records that changed since the last one.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import random
import re
import threading
import time
from collections.abc import Mapping
from typing import TypeVar

import httpx2
from huggingface_hub import CommitOperationAdd, HfApi, RepoFile, hf_hub_url
from huggingface_hub.errors import EntryNotFoundError, HfHubHTTPError
from huggingface_hub.utils import build_hf_headers, get_session, hf_raise_for_status

from submissions.store import (
    _ID_PATTERN,
    COLLECTIONS,
    Decision,
    Record,
    Store,
    StoreError,
    check_record,
    dump_record,
)

T = TypeVar("T")
_RETRY_STATUS = {412, 429, 500, 502, 503, 504}  # 412: a commit has happened since (stale parent)


def _git_blob_sha(content: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(content) + content).hexdigest()


def _matches(entry: RepoFile, content: bytes) -> bool:
    """Whether downloaded bytes are the listed file (LFS files are listed by their sha256, others by blob id),
    which is what makes caching contents by blob id safe."""
    if entry.lfs is not None:
        return hashlib.sha256(content).hexdigest() == entry.lfs.sha256
    return _git_blob_sha(content) == entry.blob_id


class HubStore(Store):
    """:class:`Store` on Hub dataset repos.

    ``repos`` maps each collection it serves to a dataset repo ID; a collection left out is unavailable
    (using it raises :class:`StoreError`), which is how a Space without a private dataset keeps contact
    details off the public ones.
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
    ):
        unknown = set(repos) - set(COLLECTIONS)
        if unknown:
            raise StoreError(f"unknown collection(s) {sorted(unknown)}")
        self.repos = dict(repos)
        self.api = HfApi(endpoint=endpoint or os.environ.get("HF_ENDPOINT") or None, token=token or False)
        self.branch = branch
        self.max_attempts, self.backoff_s, self.max_backoff_s = max_attempts, backoff_s, max_backoff_s
        self._repo_locks = {repo: threading.Lock() for repo in set(self.repos.values())}
        self._cache_lock = threading.Lock()
        self._blobs: dict[str, dict[str, bytes]] = {}  # collection -> blob id -> content (current files only)
        self._snapshots: dict[str, tuple[str, dict[str, Record]]] = {}  # collection -> (head, records)

    # --- Store interface ----------------------------------------------------------------------------------
    def all(self, collection: str) -> list[Record]:
        repo = self._repo(collection)
        records = self._snapshot(repo, collection, self._head(repo))
        return [copy.deepcopy(records[record_id]) for record_id in sorted(records)]

    def get(self, collection: str, record_id: str) -> Record | None:
        repo = self._repo(collection)
        if not _ID_PATTERN.match(record_id):
            return None
        try:
            content = self._download(repo, f"{collection}/{record_id}.json", self.branch)
        except EntryNotFoundError:
            return None
        return json.loads(content)

    def version(self, collection: str) -> str:
        return self._head(self._repo(collection))

    def transact(self, collection: str, decide: Decision[T]) -> T:
        repo = self._repo(collection)
        with self._repo_locks[repo]:
            for attempt in range(1, self.max_attempts + 1):
                head = self._head(repo)
                snapshot = self._snapshot(repo, collection, head)
                writes, value = decide(copy.deepcopy(snapshot))  # the cached records stay untouched
                changes = self._changes(collection, writes, snapshot)
                if not changes:  # nothing changes: the snapshot is the state `value` was decided on
                    return value
                try:
                    self._call(
                        self.api.create_commit,
                        repo,
                        [CommitOperationAdd(path, content) for path, content in changes.items()],
                        commit_message=f"Write {', '.join(changes)}"[:200],
                        repo_type="dataset",
                        revision=self.branch,
                        parent_commit=head,
                    )
                except HfHubHTTPError as error:
                    status = error.response.status_code if error.response is not None else None
                    if status not in _RETRY_STATUS:
                        raise StoreError(f"could not commit to {repo}: {error}") from error
                    # 412: someone committed since `head`. 429/5xx: the commit may or may not have landed;
                    # either way the next attempt decides again on a fresh head, which includes it if it did.
                else:
                    # (huggingface_hub drops additions equal to the branch head's files; if it dropped them
                    # all, it made no commit, and the branch already holds exactly these writes.)
                    with self._cache_lock:  # what we just wrote need not be downloaded again
                        self._blobs.setdefault(collection, {}).update(
                            {_git_blob_sha(c): c for c in changes.values()}
                        )
                    return value
                time.sleep(random.uniform(0, min(self.max_backoff_s, self.backoff_s * 2**attempt)))
        raise StoreError(f"{collection}: gave up after {self.max_attempts} conflicting commits to {repo}")

    def serves(self, collection: str) -> bool:
        return collection in self.repos

    # --- internals ------------------------------------------------------------------------------------
    def _repo(self, collection: str) -> str:
        if collection not in COLLECTIONS:
            raise StoreError(f"unknown collection {collection!r}")
        if collection not in self.repos:
            raise StoreError(f"no dataset repo is configured for the {collection!r} collection")
        return self.repos[collection]

    def _call(self, function, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202 - thin wrapper
        """Network failures become StoreError (nothing was half-written); HTTP errors pass through."""
        try:
            return function(*args, **kwargs)
        except HfHubHTTPError:
            raise
        except httpx2.TransportError as error:
            raise StoreError(f"the Hub could not be reached: {error}") from error

    def _head(self, repo: str) -> str:
        try:
            refs = self._call(self.api.list_repo_refs, repo, repo_type="dataset")
        except HfHubHTTPError as error:
            raise StoreError(f"cannot read dataset {repo}: {error}") from error
        for branch in refs.branches:
            if branch.name == self.branch:
                return branch.target_commit
        raise StoreError(f"dataset {repo} has no branch {self.branch!r}")

    def _snapshot(self, repo: str, collection: str, head: str) -> dict[str, Record]:
        """Records of ``collection`` at commit ``head``; downloads only blobs not seen before."""
        with self._cache_lock:
            cached = self._snapshots.get(collection)
            if cached and cached[0] == head:
                return cached[1]
            known = dict(self._blobs.get(collection, {}))
        try:
            entries = list(
                self._call(
                    self.api.list_repo_tree, repo, path_in_repo=collection, revision=head, repo_type="dataset"
                )
            )
        except EntryNotFoundError:  # the collection's folder does not exist yet
            entries = []
        except HfHubHTTPError as error:
            raise StoreError(f"cannot list {repo}/{collection}: {error}") from error
        pattern = re.compile(rf"^{re.escape(collection)}/([^/]+)\.json$")
        blobs, records = {}, {}
        for entry in entries:
            match = pattern.match(entry.path)
            if not match or not isinstance(entry, RepoFile):
                continue
            content = known.get(entry.blob_id)
            if content is None:
                content = self._download(repo, entry.path, head)
                if not _matches(entry, content):
                    raise StoreError(f"{repo}/{entry.path} at {head} does not match its listed hash")
            blobs[entry.blob_id] = content
            record = json.loads(content)
            records[record.get("id", match.group(1))] = record
        with self._cache_lock:
            self._blobs[collection] = blobs
            self._snapshots[collection] = (head, records)
        return records

    def _download(self, repo: str, path: str, revision: str) -> bytes:
        """One small file, in memory (``hf_hub_download`` would add a HEAD request and a disk write)."""
        url = hf_hub_url(repo, path, repo_type="dataset", revision=revision, endpoint=self.api.endpoint)
        headers = build_hf_headers(token=self.api.token)
        try:
            response = self._call(get_session().get, url, headers=headers, follow_redirects=True)
            hf_raise_for_status(response)
        except EntryNotFoundError:
            raise
        except HfHubHTTPError as error:
            raise StoreError(f"cannot read {repo}/{path}: {error}") from error
        return response.content

    @staticmethod
    def _changes(collection: str, writes: list[Record], snapshot: dict[str, Record]) -> dict[str, bytes]:
        """Path -> content for each record that differs from what is stored (the last write of an id wins)."""
        latest = {check_record(collection, record): record for record in writes}
        return {
            f"{collection}/{record_id}.json": dump_record(record)
            for record_id, record in sorted(latest.items())
            if snapshot.get(record_id) != record
        }


def hub_store_from_env(environ: Mapping[str, str] = os.environ) -> HubStore | None:
    """The Space's store, configured as Spaces are: through secrets and variables.

    - ``REQUESTS_DATASET``: dataset repo ID (``owner/name``) for submission requests (public);
    - ``RESULTS_DATASET``: dataset repo ID for results, arena votes and evaluation details (public);
    - ``PRIVATE_DATASET``: optional private dataset repo ID for contact details; without it the ``private``
      collection is unavailable and callers must not store e-mails (hash them instead);
    - ``HF_TOKEN``: a token with write access to those datasets (a Space secret);
    - ``HF_ENDPOINT``: optional Hub URL (defaults to https://huggingface.co).

    Returns None when neither dataset is set (the app then runs on a local folder). Setting only one of the
    two public datasets is a configuration error, reported at start-up rather than at the first write.
    """
    requests_repo = environ.get("REQUESTS_DATASET", "").strip()
    results_repo = environ.get("RESULTS_DATASET", "").strip()
    if not requests_repo and not results_repo:
        return None
    if not requests_repo or not results_repo:
        missing = "REQUESTS_DATASET" if not requests_repo else "RESULTS_DATASET"
        raise StoreError(
            f"{missing} is not set: the Hub store needs both REQUESTS_DATASET and RESULTS_DATASET"
        )
    repos = {
        "requests": requests_repo,
        "results": results_repo,
        "votes": results_repo,
        "details": results_repo,
    }
    private_repo = environ.get("PRIVATE_DATASET", "").strip()
    if private_repo:
        repos["private"] = private_repo
    return HubStore(repos, token=environ.get("HF_TOKEN") or None, endpoint=environ.get("HF_ENDPOINT") or None)

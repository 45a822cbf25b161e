"""The store: where requests, results, votes and details live.

One interface, several backends. Records are JSON objects with an ``id``; each lives in a collection
(``requests``, ``results``, ``votes``, ``details``, ``private``) as one JSON file. Every write is atomic, and
:meth:`Store.transact` runs a read-decide-write step on a consistent snapshot so that two replicas or
workers can never lose or duplicate a record (the local backend holds a file lock; the Hub backend commits
with ``parent_commit`` and retries on conflict).
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import tempfile
import time
from abc import ABC, abstractmethod
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator, TypeVar

Record = dict[str, Any]
T = TypeVar("T")
# decide(snapshot) -> (records to write, value handed back to the caller)
Decision = Callable[[dict[str, Record]], tuple[list[Record], T]]

COLLECTIONS = ("requests", "results", "votes", "details", "private")
_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")


class StoreError(RuntimeError):
    """The store could not complete an operation (after retries); nothing was half-written."""


def check_record(collection: str, record: Record) -> str:
    if collection not in COLLECTIONS:
        raise StoreError(f"unknown collection {collection!r}")
    record_id = record.get("id")
    if not isinstance(record_id, str) or not _ID_PATTERN.match(record_id):
        raise StoreError(f"record id {record_id!r} is not a safe file name")
    return record_id


def dump_record(record: Record) -> bytes:
    return (json.dumps(record, indent=1, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")


class Store(ABC):
    """What every backend offers."""

    @abstractmethod
    def all(self, collection: str) -> list[Record]:
        """Every record of a collection, in id order."""

    @abstractmethod
    def get(self, collection: str, record_id: str) -> Record | None: ...

    @abstractmethod
    def transact(self, collection: str, decide: Decision[T]) -> T:
        """Run ``decide`` on a consistent snapshot of the collection and write what it returns atomically.

        ``decide`` may run more than once (on conflict), so it must have no side effects of its own.
        """

    @abstractmethod
    def version(self, collection: str) -> str:
        """A token that changes whenever the collection changes (cheap; used for caching)."""

    def serves(self, collection: str) -> bool:
        """Whether this store is configured to keep ``collection`` (a Space may run without a private one)."""
        return collection in COLLECTIONS

    def put(self, collection: str, record: Record) -> None:
        """Create or replace one record."""
        self.transact(collection, lambda _snapshot: ([record], None))

    def put_missing(self, collection: str, records: list[Record]) -> int:
        """Write the records whose id is not stored yet; returns how many were written."""

        def decide(snapshot: dict[str, Record]) -> tuple[list[Record], int]:
            new = [r for r in records if r["id"] not in snapshot]
            return new, len(new)

        return self.transact(collection, decide)


class LocalStore(Store):
    """A folder: ``<root>/<collection>/<id>.json``. The default, needing no token and no network.

    Writes go to a temporary file that is fsynced and renamed over the target, so a crash leaves either
    the old or the new record. Transactions hold an exclusive ``flock`` on ``<collection>/.lock``, which
    serialises threads and processes (replicas on one machine) alike.
    """

    STALE_TEMP_S = 3600  # a temporary file this old was left by a writer killed mid-write

    def __init__(self, root: str | os.PathLike[str]):
        self.root = Path(root)
        for collection in COLLECTIONS:
            folder = self.root / collection
            folder.mkdir(parents=True, exist_ok=True)
            for leftover in folder.glob(".*.tmp"):
                try:
                    if time.time() - leftover.stat().st_mtime > self.STALE_TEMP_S:
                        leftover.unlink(missing_ok=True)
                except FileNotFoundError:  # a live writer renamed it into place meanwhile
                    pass

    def _dir(self, collection: str) -> Path:
        if collection not in COLLECTIONS:
            raise StoreError(f"unknown collection {collection!r}")
        return self.root / collection

    def all(self, collection: str) -> list[Record]:
        return list(self._snapshot(collection).values())

    def get(self, collection: str, record_id: str) -> Record | None:
        if not _ID_PATTERN.match(record_id):
            return None
        path = self._dir(collection) / f"{record_id}.json"
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None

    def version(self, collection: str) -> str:
        folder = self._dir(collection)
        return f"{folder.stat().st_mtime_ns}"

    def transact(self, collection: str, decide: Decision[T]) -> T:
        with self._locked(collection):
            writes, value = decide(self._snapshot(collection))
            for record in writes:
                self._write(collection, record)
            return value

    @contextmanager
    def _locked(self, collection: str) -> Iterator[None]:
        with open(self._dir(collection) / ".lock", "a+") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _snapshot(self, collection: str) -> dict[str, Record]:
        records = {}
        for path in sorted(self._dir(collection).glob("*.json")):
            try:
                record = json.loads(path.read_text(encoding="utf-8"))
            except FileNotFoundError:  # replaced between listing and reading
                continue
            records[record["id"]] = record
        return records

    def _write(self, collection: str, record: Record) -> None:
        record_id = check_record(collection, record)
        folder = self._dir(collection)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{record_id}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(dump_record(record))
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, folder / f"{record_id}.json")
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

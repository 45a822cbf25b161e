"""The store: where requests, results, votes and details live.

One interface, several backends. Records are JSON objects with an ``id``; each lives in a collection
(``requests``, ``results``, ``votes``, ``details``, ``reveals``, ``private``, ``hidden_scores``) as one JSON file.
``private`` and ``hidden_scores`` (the merging track's hidden-test scores) belong in a private store; ``reveals``
(hidden-test scores an organiser published) sits beside the results; ``boards`` holds one aggregate of the
results per challenge (:mod:`leaderboard.aggregate`). Every write is atomic, and
:meth:`Store.transact` runs a read-decide-write step on a consistent snapshot so that two replicas or
workers can never lose or duplicate a record (the local backend holds a file lock; the Hub backend commits
with ``parent_commit`` and retries on conflict; the SQL backend, ``store/sql.py``, which keeps the live
``requests`` and ``votes``, locks in the database). The queue's row-level steps (:meth:`Store.update_one`,
:meth:`Store.claim_oldest`) default to such a transaction and :meth:`Store.select` to a filtered
:meth:`Store.all`; the SQL backend touches only the rows concerned.

Every stored file is read through the record contract (:mod:`store.record_contract`). One that cannot
be read or does not fit it is *set aside*: left out of every read and snapshot, logged once, and listed by
:meth:`Store.quarantined` for the operator, so one bad file never stops the Space. A write never replaces a
set-aside file: ``transact`` refuses it with :class:`StoreError` (the operator repairs or removes the file
first) and ``put_missing`` counts it as present.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import re
import tempfile
import threading
import time
from abc import ABC, abstractmethod
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import (
    Any,
    BinaryIO,
    Callable,
    Iterable,
    Iterator,
    Mapping,
    Sequence,
    TypeVar,
)

from store.record_contract import RecordRejected, admit, read_record

Record = dict[str, Any]
T = TypeVar("T")
# decide(snapshot) -> (records to write, value handed back to the caller)
Decision = Callable[[dict[str, Record]], tuple[list[Record], T]]
# decide(snapshot) -> (records to write, ids of stored records to remove, value handed back to the caller)
Rewrite = Callable[[dict[str, Record]], tuple[list[Record], list[str], T]]
# equality filters: a record is in scope when it matches every field of at least one of them
Scopes = Sequence[Mapping[str, str]]
# change(stored record or None) -> (record to write in its place or None to leave it, value for the caller)
Change = Callable[[Record | None], tuple[Record | None, T]]

COLLECTIONS = ("requests", "results", "votes", "details", "reveals", "private", "hidden_scores", "boards")
PRIVATE_COLLECTIONS = ("private", "hidden_scores")  # kept in the private dataset, never published
_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")
log = logging.getLogger(__name__)


def keeps(keep: Callable[[BinaryIO | None], bool], stored: BinaryIO | None) -> bool:
    """``keep(stored)``, closing ``stored`` afterwards: :meth:`Store.write_file`'s decision on what is stored."""
    try:
        return keep(stored)
    finally:
        if stored is not None:
            stored.close()


class StoreError(RuntimeError):
    """The store could not complete an operation (after retries); nothing was half-written.

    ``maybe_written``: the last write may have landed although its answer was an error (a remote store that
    failed after the commit reached it), so a caller must read again before saying that nothing was written."""

    def __init__(self, message: str, maybe_written: bool = False):
        super().__init__(message)
        self.maybe_written = maybe_written


def check_record(collection: str, record: Record) -> str:
    """The id of a record about to be written; StoreError if it could not be read back as written."""
    if collection not in COLLECTIONS:
        raise StoreError(f"unknown collection {collection!r}")
    record_id = record.get("id")
    if not isinstance(record_id, str) or not _ID_PATTERN.match(record_id):
        raise StoreError(f"record id {record_id!r} is not a safe file name")
    try:
        admit(collection, record)
    except RecordRejected as rejected:
        raise StoreError(f"{collection} record {record_id} does not fit the record contract: {rejected}; "
                         "nothing was written") from None
    return record_id


def changed_record(record_id: str, before: Record | None, after: Record | None) -> list[Record]:
    """What :meth:`Store.update_one` writes: ``after`` when it differs from ``before`` (it must keep the id)."""
    if after is None or after == before:
        return []
    if after.get("id") != record_id:
        raise StoreError(f"a change of record {record_id} returned the record {after.get('id')!r}; nothing was written")
    return [after]


def in_scope(record: Record, scopes: Scopes) -> bool:
    """Whether ``record`` matches every field of at least one of ``scopes``."""
    return any(all(record.get(key) == value for key, value in scope.items()) for scope in scopes)


def dump_record(record: Record) -> bytes:
    return (json.dumps(record, indent=1, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")


def check_file_name(collection: str, name: str) -> str:
    """``<collection>/<name>`` for a file beside the records; StoreError if the name is not a safe file name or
    could be taken for a record."""
    if collection not in COLLECTIONS:
        raise StoreError(f"unknown collection {collection!r}")
    if not _ID_PATTERN.match(name) or name.endswith(".json"):
        raise StoreError(f"file name {name!r} is not a safe file name beside the {collection} records")
    return f"{collection}/{name}"


@dataclass(frozen=True)
class SetAside:
    """A stored file left out of every read: where it is and why."""

    collection: str
    record_id: str  # the file's name without ``.json``
    path: str  # in the data folder or the dataset repo
    reason: str


class SetAsideList:
    """The files set aside by the latest read of each collection (a repaired file leaves the list at the next
    read); each file and reason is logged once."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_collection: dict[str, dict[str, SetAside]] = {}
        self._logged: set[tuple[str, str]] = set()

    def replace(self, collection: str, found: Iterable[SetAside]) -> None:
        found = list(found)
        with self._lock:
            self._by_collection[collection] = {item.record_id: item for item in found}
        self._log(found)

    def add(self, item: SetAside) -> None:
        with self._lock:
            self._by_collection.setdefault(item.collection, {})[item.record_id] = item
        self._log([item])

    def discard(self, collection: str, record_id: str) -> None:
        with self._lock:
            self._by_collection.get(collection, {}).pop(record_id, None)

    def get(self, collection: str, record_id: str) -> SetAside | None:
        with self._lock:
            return self._by_collection.get(collection, {}).get(record_id)

    def all(self) -> list[SetAside]:
        with self._lock:
            return [item for c in sorted(self._by_collection) for _, item in sorted(self._by_collection[c].items())]

    def _log(self, items: list[SetAside]) -> None:
        for item in items:
            key = (item.path, item.reason)
            with self._lock:
                if key in self._logged:
                    continue
                self._logged.add(key)
            log.warning("set aside %s: it %s", item.path, item.reason)


class Store(ABC):
    """What every backend offers."""

    set_aside: SetAsideList

    @abstractmethod
    def all(self, collection: str) -> list[Record]:
        """Every record of a collection, in id order."""

    @abstractmethod
    def get(self, collection: str, record_id: str) -> Record | None: ...

    def get_at(self, collection: str, record_id: str, version: str) -> Record | None:
        """The record as of ``version`` (a token :meth:`version` gave) on a backend that keeps history; the
        others answer as :meth:`get` does."""
        return self.get(collection, record_id)

    def transact(self, collection: str, decide: Decision[T]) -> T:
        """Run ``decide`` on a consistent snapshot of the collection and write what it returns atomically.

        ``decide`` may run more than once (on conflict), so it must have no side effects of its own.
        """

        def no_removals(snapshot: dict[str, Record]) -> tuple[list[Record], list[str], T]:
            writes, value = decide(snapshot)
            return writes, [], value

        return self.rewrite(collection, no_removals)

    def transact_where(self, collection: str, scopes: Scopes, decide: Decision[T]) -> T:
        """:meth:`transact` for a step that needs only some records: ``decide`` gets the records matching at
        least one of ``scopes`` (e.g. ``[{"team_key": k, "challenge": c}, {"state": "PENDING"}]``), and its writes
        land as atomically as :meth:`transact`'s.

        A SQL store reads only those rows, by index, under the collection's lock (``transact`` hands every
        record to ``decide``); the default filters the whole snapshot.

        Example:
            store.transact_where("requests", [{"team_key": "alpha"}], lambda mine: ([], len(mine)))
        """

        def scoped(snapshot: dict[str, Record]) -> tuple[list[Record], list[str], T]:
            writes, value = decide({key: record for key, record in snapshot.items() if in_scope(record, scopes)})
            return writes, [], value

        return self.rewrite(collection, scoped)

    @abstractmethod
    def rewrite(self, collection: str, decide: Rewrite[T]) -> T:
        """:meth:`transact` that may also remove stored records: ``decide`` names ids of the snapshot to remove
        (an id it does not hold, e.g. a set-aside file, is left alone), and writes and removals land together."""

    @abstractmethod
    def version(self, collection: str) -> str:
        """A token that changes whenever the collection changes (cheap; used for caching)."""

    def select(self, collection: str, **equals: str) -> list[Record]:
        """The records of a collection whose fields equal ``equals`` (e.g. ``state=RUNNING``), in id order.

        A SQL store answers from its indexed fields; the default filters :meth:`all`."""
        return [r for r in self.all(collection) if in_scope(r, [equals])]

    def newest(self, collection: str, field: str, limit: int) -> list[Record]:
        """The ``limit`` records with the latest ``field`` (an ISO time such as ``submitted_at``), latest first,
        ties broken by id: what a view of recent activity reads instead of the whole collection.

        A SQL store answers from an index; the default sorts :meth:`all`."""
        found = sorted(self.all(collection), key=lambda r: (str(r.get(field) or ""), r["id"]), reverse=True)
        return found[:limit]

    def position(self, collection: str, record_id: str, order_fields: tuple[str, ...], **equals: str) -> int | None:
        """The 1-based place of a record among the records whose fields equal ``equals``, ordered by
        ``order_fields`` (e.g. a PENDING request's place in the queue); None when it is not among them.

        A SQL store counts the rows ahead of it by index; the default sorts :meth:`select`."""
        found = sorted(self.select(collection, **equals), key=lambda r: tuple(str(r.get(f)) for f in order_fields))
        return next((place for place, r in enumerate(found, start=1) if r["id"] == record_id), None)

    def update_one(self, collection: str, record_id: str, change: Change[T]) -> T:
        """Write ``change(record)`` in place of one record (None when it is not stored) and hand back its value;
        atomic against every other write of the record. ``change`` may run more than once, like ``decide``.
        The default is a :meth:`rewrite`; a SQL store locks the one row instead of the collection."""

        def decide(snapshot: dict[str, Record]) -> tuple[list[Record], list[str], T]:
            before = snapshot.get(record_id)
            after, value = change(before)
            return changed_record(record_id, before, after), [], value

        return self.rewrite(collection, decide)

    def claim_oldest(self, collection: str, state: str, order_fields: tuple[str, ...],
                     change: Callable[[Record], Record], *, held: dict[str, str] | None = None) -> Record | None:
        """Take the oldest record in ``state`` (ordered by ``order_fields``), write ``change(record)`` in its place
        and return what was written; None when no record is in ``state``.

        ``held``: field values of a record the caller already holds (e.g. ``{"state": RUNNING, "worker": me}``);
        such a record is taken first, in the same atomic step, so a claim retried after a lost answer resumes it
        instead of taking a second. A SQL store filters and sorts on its indexed fields and skips rows that
        another claim has locked (``FOR UPDATE SKIP LOCKED`` on PostgreSQL)."""

        def oldest(snapshot: dict[str, Record], equals: dict[str, str]) -> Record | None:
            found = [r for r in snapshot.values() if all(r.get(key) == value for key, value in equals.items())]
            return min(found, key=lambda r: tuple(str(r.get(field)) for field in order_fields), default=None)

        def decide(snapshot: dict[str, Record]) -> tuple[list[Record], list[str], Record | None]:
            taken = (oldest(snapshot, held) if held else None) or oldest(snapshot, {"state": state})
            if taken is None:
                return [], [], None
            claimed = change(taken)
            return changed_record(taken["id"], taken, claimed), [], claimed

        return self.rewrite(collection, decide)

    def serves(self, collection: str) -> bool:
        """Whether this store is configured to keep ``collection`` (a Space may run without a private one)."""
        return collection in COLLECTIONS

    def quarantined(self) -> list[SetAside]:
        """The files set aside (unreadable, or not fitting the record contract) by the latest reads."""
        return self.set_aside.all()

    def stale_note(self, collection: str) -> str | None:
        """None when reads of ``collection`` are current; otherwise a note for visitors that the data shown is
        the last that could be read (only a remote store can fall behind)."""
        return None

    def open_file(self, collection: str, name: str) -> BinaryIO | None:
        """A file kept beside the collection's records (``<collection>/<name>``, e.g. a result's Parquet details),
        open for random access at one version of it, or None when there is none. The caller closes it."""
        raise StoreError(f"this store keeps no files beside its {collection} records")

    def write_file(self, collection: str, name: str, content: bytes, keep: Callable[[BinaryIO | None], bool]) -> bool:
        """Write ``<collection>/<name>`` atomically unless ``keep(stored)`` (the stored file, open, or None) says the
        stored one stays; returns whether it wrote. ``keep`` runs on what is stored at the moment of the write
        (again, on a remote store that lost a race), so two writers never both win."""
        raise StoreError(f"this store keeps no files beside its {collection} records")

    def put(self, collection: str, record: Record) -> None:
        """Create or replace one record."""
        self.transact(collection, lambda _snapshot: ([record], None))

    def put_missing(self, collection: str, records: list[Record]) -> int:
        """Write the records whose id is not stored yet (a set-aside file counts as stored); returns how many
        were written."""

        def decide(snapshot: dict[str, Record]) -> tuple[list[Record], int]:
            new = [r for r in records if r["id"] not in snapshot and not self.set_aside.get(collection, r["id"])]
            return new, len(new)

        return self.transact(collection, decide)

    def _refuse_set_aside(self, collection: str, writes: list[Record]) -> None:
        """A write never silently replaces a file that was set aside: the operator decides what it held."""
        for record in writes:
            item = self.set_aside.get(collection, str(record.get("id")))
            if item is not None:
                raise StoreError(f"{item.path} was set aside (it {item.reason}) and is not overwritten; "
                                 "repair or remove it first. Nothing was written.")


class LocalStore(Store):
    """A folder: ``<root>/<collection>/<id>.json``. The default, needing no token and no network.

    Writes go to a temporary file that is fsynced and renamed over the target, so a crash leaves either
    the old or the new record. Transactions hold an exclusive ``flock`` on ``<collection>/.lock``, which
    serialises threads and processes (replicas on one machine) alike.
    """

    STALE_TEMP_S = 3600  # a temporary file this old was left by a writer killed mid-write

    def __init__(self, root: str | os.PathLike[str]):
        self.root = Path(root)
        self.set_aside = SetAsideList()
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
        found = self._read(collection, self._dir(collection) / f"{record_id}.json")
        if isinstance(found, SetAside):
            self.set_aside.add(found)
            return None
        if found is not None:
            self.set_aside.discard(collection, record_id)
        return found

    def version(self, collection: str) -> str:
        folder = self._dir(collection)
        return f"{folder.stat().st_mtime_ns}"

    def rewrite(self, collection: str, decide: Rewrite[T]) -> T:
        with self._locked(collection):
            snapshot = self._snapshot(collection)
            writes, removals, value = decide(snapshot)
            for record in writes:  # every write is checked before the first is made
                check_record(collection, record)
            self._refuse_set_aside(collection, writes)
            for record in writes:
                self._write(collection, record)
            written = {record["id"] for record in writes}
            for record_id in set(removals) - written:
                if record_id in snapshot:
                    (self._dir(collection) / f"{record_id}.json").unlink(missing_ok=True)
            return value

    def open_file(self, collection: str, name: str) -> BinaryIO | None:
        try:
            return open(self.root / check_file_name(collection, name), "rb")  # a later rename leaves it as it is
        except FileNotFoundError:
            return None

    def write_file(self, collection: str, name: str, content: bytes, keep: Callable[[BinaryIO | None], bool]) -> bool:
        path = self.root / check_file_name(collection, name)
        with self._locked(collection):
            if keeps(keep, self.open_file(collection, name)):
                return False
            _replace_atomically(path, content)
            return True

    @contextmanager
    def _locked(self, collection: str) -> Iterator[None]:
        with open(self._dir(collection) / ".lock", "a+") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _snapshot(self, collection: str) -> dict[str, Record]:
        records, set_aside = {}, []
        for path in sorted(self._dir(collection).glob("*.json")):
            found = self._read(collection, path)
            if isinstance(found, SetAside):
                set_aside.append(found)
            elif found is not None:
                records[found["id"]] = found
        self.set_aside.replace(collection, set_aside)
        return records

    def _read(self, collection: str, path: Path) -> Record | SetAside | None:
        """The record in ``path``; a :class:`SetAside` saying why it cannot be used; None if it is gone."""
        where = f"{collection}/{path.name}"

        def aside(reason: str) -> SetAside:
            return SetAside(collection, path.name[: -len(".json")], where, reason)

        try:
            content = path.read_bytes()
        except FileNotFoundError:
            if path.is_symlink():
                return aside("is a link to a file that does not exist")
            return None  # replaced or removed between listing and reading
        except IsADirectoryError:
            return aside("is a folder, not a file")
        except OSError as error:
            return aside(f"cannot be read ({error.strerror or error})")
        try:
            return read_record(collection, path.name[: -len(".json")], content)
        except RecordRejected as rejected:
            return aside(str(rejected))

    def _write(self, collection: str, record: Record) -> None:
        _replace_atomically(self._dir(collection) / f"{record['id']}.json", dump_record(record))  # id checked by transact


def _replace_atomically(path: Path, content: bytes) -> None:
    """Write ``content`` to a fsynced temporary file beside ``path`` and rename it over ``path``: a crash leaves the
    old file or the new one (and at worst a ``.<name>.*.tmp`` file that :class:`LocalStore` removes once old)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name.rsplit('.', 1)[0]}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise

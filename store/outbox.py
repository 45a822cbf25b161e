"""``OutboxStore``: the collections that every finished evaluation and every submission writes (``results``,
``details``, ``private``, ``hidden_scores``), staged in the queue database at once and published to their Hub
dataset in batches (:mod:`store.outbox_publish`), instead of one Hub commit per write.

A staged file is the exact file :class:`store.hub.HubStore` would have committed (``<collection>/<id>.json`` with
:func:`store.base.dump_record`'s bytes, or a file beside the records such as ``details/<id>.parquet``), kept as one
row of the ``outbox`` table (:mod:`store.sql_schema`). Reads see the staged files first, then the Hub, so a
result is on the boards, in Details and in the arena the moment its worker wrote it; what reads the Hub datasets
themselves sees it within one publishing interval, in the layout it always had.

- ``put_missing`` is write-once across both places: an id staged (or published from here) or already on the Hub
  (one HEAD request each, as HubStore asks) is not staged again; the row's primary key lets exactly one of two
  replicas staging the same new id win.
- ``put`` and ``write_file`` replace a pending row; ``write_file``'s ``keep`` sees the staged bytes, else the Hub
  file, under a lock on that one file.
- ``version`` is ``<Hub head>:<staged counter>``: it changes when anything is staged or published, and
  :meth:`OutboxStore.get_at` reads the staged rows up to that counter, then the Hub at that head.
- A published row keeps its name, seq and the commit that holds it (its body dropped) for ``PRUNE_AFTER_S``, so a
  pinned read finds the commit; a reader that misses a row removed meanwhile reads the Hub, which has had the
  file since before the removal.
- ``transact``/``rewrite`` (and the queue steps built on them) are refused: nothing rewrites these collections,
  and a snapshot of the Hub alone would not hold the staged records.
"""

from __future__ import annotations

import io
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import BinaryIO

from sqlalchemy import Connection, and_, func, select, update
from sqlalchemy.exc import DBAPIError

from store.base import (
    Record,
    Rewrite,
    SetAside,
    SetAsideList,
    Store,
    StoreError,
    T,
    check_file_name,
    check_record,
    dump_record,
    keeps,
)
from store.hub import HubStore
from store.record_contract import RecordRejected, read_record
from store.sql import SqlStore
from store.sql_schema import WRITES, counters, lock_key, outbox, upsert

STAGED_COLLECTIONS = ("results", "details", "private", "hidden_scores")
PRUNE_AFTER_S = 24 * 3600  # a published row's name and commit are kept this long, then the row goes
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Staged:
    """One staged file waiting to be published."""

    collection: str
    name: str
    seq: int
    body: bytes

    @property
    def path(self) -> str:
        return f"{self.collection}/{self.name}"


class _StagedSetAside(SetAsideList):
    """Staged files that could not be read (listed here), and the Hub's set-aside files (looked up there)."""

    def __init__(self, hub: SetAsideList):
        super().__init__()
        self.hub = hub

    def get(self, collection: str, record_id: str) -> SetAside | None:
        return super().get(collection, record_id) or self.hub.get(collection, record_id)


def _counter(collection: str) -> str:
    return f"outbox:{collection}"


class OutboxStore(Store):
    """The staged ``collections`` (those of :data:`STAGED_COLLECTIONS` that ``hub`` serves) over the queue
    database of ``live`` and the Hub datasets of ``hub``."""

    def __init__(self, live: SqlStore, hub: HubStore, collections: tuple[str, ...] = STAGED_COLLECTIONS):
        self.live, self.hub, self.engine = live, hub, live.engine
        self.collections = tuple(c for c in collections if c in STAGED_COLLECTIONS and hub.serves(c))
        self.set_aside = _StagedSetAside(hub.set_aside)
        with self._connection(writes=True) as connection:
            for collection in self.collections:
                connection.execute(upsert(self.engine, counters).values(name=_counter(collection), value=0)
                                   .on_conflict_do_nothing())

    def repos(self) -> dict[str, tuple[str, ...]]:
        """Each dataset repo holding staged collections -> those collections."""
        found: dict[str, list[str]] = {}
        for collection in self.collections:
            found.setdefault(self.hub.repos[collection], []).append(collection)
        return {repo: tuple(collections) for repo, collections in found.items()}

    # --- reads: the staged files first, then the Hub -------------------------------------------------------
    def serves(self, collection: str) -> bool:
        return collection in self.collections

    def stale_note(self, collection: str) -> str | None:
        return self.hub.stale_note(collection)

    def quarantined(self) -> list[SetAside]:
        return SetAsideList.all(self.set_aside)  # the Hub's own are listed by the Hub store

    def all(self, collection: str) -> list[Record]:
        self._check(collection)
        with self._connection() as connection:  # before the Hub: a row published meanwhile is on the Hub then
            rows = connection.execute(select(outbox.c.name, outbox.c.body).where(
                outbox.c.collection == collection, outbox.c.body.is_not(None), outbox.c.name.endswith(".json"))).all()
        records = {record["id"]: record for record in self.hub.all(collection)}
        for row in rows:
            record = self._parse(collection, row.name[: -len(".json")], row.body)
            if record is not None:
                records[record["id"]] = record
        return [records[record_id] for record_id in sorted(records)]

    def get(self, collection: str, record_id: str) -> Record | None:
        row = self._row(collection, f"{record_id}.json")
        if row is not None and row.body is not None:
            return self._parse(collection, record_id, row.body)
        return self.hub.get(collection, record_id)

    def get_at(self, collection: str, record_id: str, version: str) -> Record | None:
        """The record as of ``version`` (``<head>:<counter>`` from :meth:`version`; a bare Hub head or branch
        reads every staged row): a staged row up to the counter, else the Hub at that head."""
        head, _, counted = version.partition(":")
        row = self._row(collection, f"{record_id}.json")
        if row is not None and (not counted or row.seq <= int(counted)):
            if row.body is not None:
                return self._parse(collection, record_id, row.body)
            return self.hub.get_at(collection, record_id, row.published_in)
        return self.hub.get_at(collection, record_id, head)

    def version(self, collection: str) -> str:
        self._check(collection)
        with self._connection() as connection:  # the counter before the head: see get_at
            counted = connection.execute(select(counters.c.value).where(counters.c.name == _counter(collection))
                                         ).scalar()
        return f"{self.hub.version(collection)}:{counted or 0}"

    def open_file(self, collection: str, name: str) -> BinaryIO | None:
        row = self._row(collection, name, check=check_file_name)
        if row is not None and row.body is not None:
            return io.BytesIO(row.body)
        return self.hub.open_file(collection, name)

    # --- writes: staged ------------------------------------------------------------------------------------
    def put(self, collection: str, record: Record) -> None:
        self._check(collection)
        record_id = check_record(collection, record)
        self._refuse_set_aside(collection, [record])
        with self._connection(writes=True) as connection:
            self._stage(connection, collection, f"{record_id}.json", dump_record(record), replace=True)

    def put_missing(self, collection: str, records: list[Record]) -> int:
        """Stage the records whose id is neither staged (nor published from here) nor on the Hub (nor set aside);
        returns how many were staged."""
        self._check(collection)
        latest = {check_record(collection, record): record for record in records}  # every record checked first
        with self._connection() as connection:  # staged before the Hub: a row published meanwhile is there then
            staged = set(connection.execute(select(outbox.c.name).where(
                outbox.c.collection == collection, outbox.c.name.in_([f"{r}.json" for r in latest]))).scalars())
        wanted = sorted(r for r in latest if f"{r}.json" not in staged and not self.set_aside.get(collection, r))
        new = sorted(set(wanted) - self.hub.present(collection, wanted)) if wanted else []
        if not new:
            return 0
        with self._connection(writes=True) as connection:
            return sum(self._stage(connection, collection, f"{r}.json", dump_record(latest[r]), replace=False)
                       for r in new)

    def write_file(self, collection: str, name: str, content: bytes, keep: Callable[[BinaryIO | None], bool]) -> bool:
        path = check_file_name(collection, name)
        self._check(collection)
        with self._connection(writes=True, lock=path) as connection:
            row = connection.execute(select(outbox.c.body).where(self._where(collection, name))).first()
            stored = io.BytesIO(row.body) if row is not None and row.body is not None else \
                self.hub.open_file(collection, name)
            if keeps(keep, stored):
                return False
            return self._stage(connection, collection, name, content, replace=True)

    def rewrite(self, collection: str, decide: Rewrite[T]) -> T:
        raise StoreError(f"the {collection} collection is staged for the Hub and only written with put, put_missing "
                         "and write_file; nothing was written")

    # --- what the publisher uses ---------------------------------------------------------------------------
    def pending(self, collections: tuple[str, ...], max_files: int, max_bytes: int) -> list[Staged]:
        """The oldest staged files of ``collections`` not published yet: at most ``max_files`` and, beyond the
        first, ``max_bytes`` in all."""
        chosen, size = [], 0
        sizes = (select(outbox.c.collection, outbox.c.name, outbox.c.seq, func.length(outbox.c.body).label("size"))
                 .where(outbox.c.collection.in_(collections), outbox.c.body.is_not(None))
                 .order_by(outbox.c.created_at, outbox.c.collection, outbox.c.seq).limit(max_files))
        with self._connection() as connection:  # the sizes first: a backlog's bodies are never all in memory
            for row in connection.execute(sizes):
                if chosen and size + row.size > max_bytes:
                    break
                chosen.append(row)
                size += row.size
            batch = []
            for row in chosen:  # a row staged again since is left for the next batch
                body = connection.execute(select(outbox.c.body).where(
                    self._where(row.collection, row.name), outbox.c.seq == row.seq)).scalar()
                if body is not None:
                    batch.append(Staged(row.collection, row.name, row.seq, body))
        return batch

    def mark_published(self, batch: list[Staged], commit: str, now: float) -> None:
        """Drop the bodies of ``batch`` (the rows not staged again since) once ``commit`` holds them."""
        with self._connection(writes=True) as connection:
            for staged in batch:
                connection.execute(update(outbox).where(self._where(staged.collection, staged.name),
                                                        outbox.c.seq == staged.seq)
                                   .values(body=None, published_in=commit, published_at=now))

    def prune(self, collections: tuple[str, ...], before: float) -> int:
        """Remove the rows of ``collections`` published before ``before``; how many."""
        with self._connection(writes=True) as connection:
            return connection.execute(outbox.delete().where(outbox.c.collection.in_(collections),
                                                            outbox.c.body.is_(None),
                                                            outbox.c.published_at < before)).rowcount

    # --- the machinery ---------------------------------------------------------------------------------------
    def _check(self, collection: str) -> None:
        if collection not in self.collections:
            raise StoreError(f"the {collection!r} collection is not staged in the outbox")

    @contextmanager
    def _connection(self, *, writes: bool = False, lock: str | None = None) -> Iterator[Connection]:
        """A transaction (writing: SQLite's ``BEGIN IMMEDIATE``; ``lock``: a PostgreSQL lock on that name)."""
        try:
            with self.engine.connect().execution_options(**{WRITES: writes}) as connection, connection.begin():
                if lock is not None and self.engine.dialect.name == "postgresql":
                    connection.execute(select(func.pg_advisory_xact_lock(lock_key(f"outbox:{lock}"))))
                yield connection
        except DBAPIError as error:
            raise StoreError(f"the outbox database failed: {error.orig or error}", maybe_written=writes) from None

    def _stage(self, connection: Connection, collection: str, name: str, body: bytes, *, replace: bool) -> bool:
        """Stage one file under the collection's next counter value; False when ``replace`` is off and the file
        is staged already."""
        seq = connection.execute(update(counters).where(counters.c.name == _counter(collection))
                                 .values(value=counters.c.value + 1).returning(counters.c.value)).scalar()
        values = {"seq": seq, "body": body, "created_at": time.time(), "published_in": None, "published_at": None}
        insert = upsert(self.engine, outbox).values(collection=collection, name=name, **values)
        statement = (insert.on_conflict_do_update(index_elements=["collection", "name"], set_=values) if replace
                     else insert.on_conflict_do_nothing())
        return connection.execute(statement.returning(outbox.c.seq)).first() is not None

    def _row(self, collection: str, name: str, check: Callable[[str, str], object] | None = None):
        """The outbox row of ``<collection>/<name>`` (body, seq, published_in), or None."""
        self._check(collection)
        if check is not None:
            check(collection, name)
        with self._connection() as connection:
            return connection.execute(select(outbox.c.body, outbox.c.seq, outbox.c.published_in)
                                      .where(self._where(collection, name))).first()

    @staticmethod
    def _where(collection: str, name: str):
        return and_(outbox.c.collection == collection, outbox.c.name == name)

    def _parse(self, collection: str, record_id: str, body: bytes) -> Record | None:
        try:
            record = read_record(collection, record_id, body)
        except RecordRejected as rejected:
            self.set_aside.add(SetAside(collection, record_id, f"outbox {collection}/{record_id}.json", str(rejected)))
            return None
        self.set_aside.discard(collection, record_id)
        return record

"""``SqlStore``: the live collections (the queue's ``requests``, the arena's ``votes``) in a SQL database.

SQLite (one file, no set-up) by default; PostgreSQL (``DATABASE_URL``) for several replicas and GPU workers.
Tables are in :mod:`store.sql_schema`. Heartbeats, progress and claims are row updates
(:meth:`SqlStore.update_one`, :meth:`SqlStore.claim_oldest`), never commits to a Hub repo.

Consistency: :meth:`rewrite` holds the collection exclusively (PostgreSQL: ``pg_advisory_xact_lock``; SQLite:
``BEGIN IMMEDIATE`` serialises every writer). :meth:`transact_where` (a submission's check: it reads only the
rows of its scopes, by index) holds the collection shared and each of its scopes exclusively, so two
submissions of one team, account or repo are serialised while workers' heartbeats and claims, which hold the
collection shared, never wait behind a submission; its writes must lie in its scopes. The row-level paths hold
the collection shared and lock their row
(``SELECT ... FOR UPDATE``; the claim skips rows another claim holds, ``SKIP LOCKED``). Every write takes its
``seq`` from one counter row that stays locked until commit, so rows commit in ``seq`` order and a reader that
remembers the highest ``seq`` it has seen never misses one.

Snapshots are incremental: each store keeps the last snapshot of each collection and reads only rows whose
``seq`` is above the one it saw (a vote on a 100k-vote collection reads one row, not 100k). Records handed to a
``decide`` step are the cached ones: steps build changed records (``{**record, ...}``), never edit them.

Every request state change and every new vote is appended to ``events`` in the same transaction (the
publisher, :mod:`store.publish_log`, copies them to the Hub in batches).
"""

from __future__ import annotations

import copy
import json
import logging
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import Connection, and_, func, select, tuple_, update
from sqlalchemy.exc import DBAPIError

from store.base import (
    Change,
    Decision,
    Record,
    Rewrite,
    Scopes,
    SetAside,
    SetAsideList,
    Store,
    StoreError,
    T,
    changed_record,
    check_record,
    in_scope,
)
from store.record_contract import RecordRejected, admit, read_record
from store.sql_schema import (
    INDEXED_FIELDS,
    SEQ,
    WRITES,
    counters,
    create_schema,
    events,
    indexed_values,
    lock_key,
    make_engine,
    records,
    upsert,
)

LIVE_COLLECTIONS = ("requests", "votes")
log = logging.getLogger(__name__)


@dataclass
class _Snapshot:
    """What one store has read of one collection: every row up to ``seq``."""

    seq: int = 0
    records: dict[str, Record] = field(default_factory=dict)
    aside: dict[str, SetAside] = field(default_factory=dict)


def _event_body(collection: str, before: Record | None, after: Record | None) -> Record | None:
    """What goes to ``events`` for one write: a request whose state changed, a new vote; else None."""
    if collection == "requests" and (before or {}).get("state") != (after or {}).get("state"):
        return after if after is not None else {"id": before["id"], "removed": True}
    if collection == "votes" and before is None and after is not None:
        return after
    return None


class SqlStore(Store):
    def __init__(self, url: str, collections: Iterable[str] = LIVE_COLLECTIONS):
        self.url = url
        self.engine = make_engine(url)
        self.collections = tuple(collections)
        self.postgres = self.engine.dialect.name == "postgresql"
        self.set_aside = SetAsideList()
        self._snapshots: dict[str, _Snapshot] = {}
        self._snapshot_lock = threading.Lock()
        create_schema(self.engine)

    def serves(self, collection: str) -> bool:
        return collection in self.collections

    # reads

    def all(self, collection: str) -> list[Record]:
        with self._reading(collection) as connection:
            snapshot = self._refresh(connection, collection)
        return [copy.deepcopy(snapshot[record_id]) for record_id in sorted(snapshot)]

    def get(self, collection: str, record_id: str) -> Record | None:
        with self._reading(collection) as connection:
            row = connection.execute(select(records.c.body, records.c.deleted).where(
                self._row(collection, record_id))).first()
        if row is None or row.deleted:
            return None
        found = self._parse(collection, record_id, row.body)
        if isinstance(found, SetAside):
            self.set_aside.add(found)
            return None
        self.set_aside.discard(collection, record_id)
        return found

    def select(self, collection: str, **equals: str) -> list[Record]:
        if not set(equals) <= set(INDEXED_FIELDS):
            return super().select(collection, **equals)
        with self._reading(collection) as connection:
            rows = connection.execute(select(records.c.id, records.c.body).where(
                self._live(collection), *(records.c[key] == value for key, value in equals.items()))
                .order_by(records.c.id)).all()
        return self._readable(collection, rows)

    def _readable(self, collection: str, rows) -> list[Record]:  # noqa: ANN001 - SQLAlchemy rows (id, body)
        """The records in ``rows``, in order; an unreadable one is set aside."""
        found = [self._parse(collection, row.id, row.body) for row in rows]
        for item in found:
            if isinstance(item, SetAside):
                self.set_aside.add(item)
        return [record for record in found if not isinstance(record, SetAside)]

    def newest(self, collection: str, field: str, limit: int) -> list[Record]:
        if field not in INDEXED_FIELDS:
            return super().newest(collection, field, limit)
        column, latest = records.c[field], select(records.c.id, records.c.body).where(self._live(collection))
        with self._reading(collection) as connection:  # two queries that walk the (collection, field, id) index
            rows = connection.execute(latest.where(column.is_not(None))  # backwards: DESC NULLS LAST would sort
                                      .order_by(column.desc(), records.c.id.desc()).limit(limit)).all()
            if len(rows) < limit:  # the rows without the field come last
                rows += connection.execute(latest.where(column.is_(None)).order_by(records.c.id.desc())
                                           .limit(limit - len(rows))).all()
        return self._readable(collection, rows)

    def position(self, collection: str, record_id: str, order_fields: tuple[str, ...], **equals: str) -> int | None:
        if not set(order_fields) | set(equals) <= {"id", *INDEXED_FIELDS}:
            return super().position(collection, record_id, order_fields, **equals)
        columns = (records.c[name] for name in order_fields)  # compared by code point, as Python compares text
        order = tuple_(*(column.collate("C") if self.postgres else column for column in columns))
        matching = (self._live(collection), *(records.c[key] == value for key, value in equals.items()))
        with self._reading(collection) as connection:
            mine = connection.execute(select(*order.clauses).where(*matching, records.c.id == record_id)).first()
            if mine is None:
                return None
            ahead = connection.execute(select(func.count()).select_from(records).where(*matching, order < tuple(mine)))
            return ahead.scalar() + 1

    def version(self, collection: str) -> str:
        with self._reading(collection) as connection:
            latest = connection.execute(select(func.max(records.c.seq)).where(
                records.c.collection == collection)).scalar()
        return str(latest or 0)

    # writes

    def rewrite(self, collection: str, decide: Rewrite[T]) -> T:
        with self._reading(collection) as connection:  # catch up first, outside the lock: a replica's first
            self._refresh(connection, collection)  # read of 100k rows must not hold every writer back
        with self._writing(collection, exclusive=True) as connection:
            snapshot = self._refresh(connection, collection)
            writes, removals, value = decide(snapshot)
            for record in writes:  # every write is checked before the first is made
                check_record(collection, record)
            self._refuse_set_aside(collection, writes)
            written = {record["id"] for record in writes}
            removed = [snapshot[r] for r in set(removals) - written if r in snapshot]
            self._write(connection, collection, [(snapshot.get(r["id"]), r) for r in writes]
                        + [(before, None) for before in removed])
            return value

    def transact_where(self, collection: str, scopes: Scopes, decide: Decision[T]) -> T:
        if not {key for scope in scopes for key in scope} <= set(INDEXED_FIELDS):
            return super().transact_where(collection, scopes, decide)
        scope_keys = sorted({json.dumps(sorted(scope.items())) for scope in scopes})
        with self._writing(collection, exclusive=False, scope_keys=scope_keys) as connection:
            found: dict[str, Record] = {}
            for scope in scopes:  # one indexed query per scope
                rows = connection.execute(select(records.c.id, records.c.body).where(
                    self._live(collection), *(records.c[key] == value for key, value in scope.items()))).all()
                found.update((record["id"], record) for record in self._readable(collection, rows))
            writes, value = decide(found)
            for record in writes:  # every write is checked before the first is made
                check_record(collection, record)
                if not in_scope(record, scopes):  # only the scopes are held: a write elsewhere could race
                    raise StoreError(f"{collection} record {record['id']!r} is outside the scopes this step "
                                     "holds; nothing was written")
            stored = self._stored(connection, collection, [r["id"] for r in writes if r["id"] not in found])
            self._write(connection, collection, [(found.get(r["id"], stored.get(r["id"])), r) for r in writes])
            return value

    def _stored(self, connection: Connection, collection: str, record_ids: list[str]) -> dict[str, Record]:
        """The stored records among ``record_ids``, read under this transaction; StoreError if one is unreadable
        (a write never replaces a row that was set aside)."""
        if not record_ids:
            return {}
        rows = connection.execute(select(records.c.id, records.c.body).where(
            self._live(collection), records.c.id.in_(record_ids))).all()
        found = {row.id: self._parse(collection, row.id, row.body) for row in rows}
        for item in found.values():
            if isinstance(item, SetAside):
                self.set_aside.add(item)
                raise StoreError(f"{item.path} was set aside (it {item.reason}) and is not overwritten; "
                                 "repair or remove it first. Nothing was written.")
        return found

    def update_one(self, collection: str, record_id: str, change: Change[T]) -> T:
        with self._writing(collection, exclusive=False) as connection:
            row = connection.execute(select(records.c.body, records.c.deleted).where(
                self._row(collection, record_id)).with_for_update()).first()
            before = None if row is None or row.deleted else self._parse(collection, record_id, row.body)
            if isinstance(before, SetAside):
                raise StoreError(f"{before.path} was set aside (it {before.reason}) and is not overwritten; "
                                 "repair or remove it first. Nothing was written.")
            after, value = change(before)
            for record in changed_record(record_id, before, after):
                check_record(collection, record)
                self._write(connection, collection, [(before, record)])
            return value

    def claim_oldest(self, collection: str, state: str, order_fields: tuple[str, ...],
                     change: Callable[[Record], Record], *, held: dict[str, str] | None = None) -> Record | None:
        unknown = set(order_fields) - {"id", *INDEXED_FIELDS}
        if unknown or not set(held or {}) <= set(INDEXED_FIELDS):
            raise StoreError(f"the SQL store orders and filters only by id and {', '.join(INDEXED_FIELDS)}")
        with self._writing(collection, exclusive=False) as connection:
            for equals, skip_locked in ([(held, False)] if held else []) + [({"state": state}, True)]:
                taken = self._lock_oldest(connection, collection, equals, order_fields, skip_locked)
                if taken is not None:
                    claimed = change(taken)
                    for record in changed_record(taken["id"], taken, claimed):
                        check_record(collection, record)
                        self._write(connection, collection, [(taken, record)])
                    return claimed
            return None

    def _lock_oldest(self, connection: Connection, collection: str, equals: dict[str, str],
                     order_fields: tuple[str, ...], skip_locked: bool) -> Record | None:
        """The oldest readable row matching ``equals``, locked for this transaction (unreadable ones set aside)."""
        passed: list[str] = []
        while True:
            row = connection.execute(
                select(records.c.id, records.c.body)
                .where(self._live(collection), records.c.id.not_in(passed),
                       *(records.c[key] == value for key, value in equals.items()))
                .order_by(*(records.c[name] for name in order_fields))
                .limit(1).with_for_update(skip_locked=skip_locked)).first()
            if row is None:
                return None
            found = self._parse(collection, row.id, row.body)
            if not isinstance(found, SetAside):
                return found
            self.set_aside.add(found)
            passed.append(row.id)

    def import_once(self, collection: str, source: Store) -> int | None:
        """Copy in the records ``source`` (the JSON folder or the Hub datasets the collection lived in before
        this database) holds, once per database: how many were new; None if done before or ``source`` cannot be
        read now (then at the next open). Imported records make no events: they are published already."""
        marker = f"imported:{collection}"
        if self._marked(marker):
            return None
        try:
            found = source.all(collection)
        except StoreError as error:
            log.warning("the %s written before the SQL store are not imported yet: %s", collection, error)
            return None
        with self._writing(collection, exclusive=True) as connection:
            if self._marked(marker, connection):
                return None
            stored = self._refresh(connection, collection)
            new = [record for record in found if record["id"] not in stored]
            for record in new:
                check_record(collection, record)
            self._write(connection, collection, [(None, record) for record in new], with_events=False)
            connection.execute(counters.insert().values(name=marker, value=len(new)))
        return len(new)

    def _marked(self, name: str, connection: Connection | None = None) -> bool:
        query = select(counters.c.value).where(counters.c.name == name)
        if connection is not None:
            return connection.execute(query).first() is not None
        with self._reading(None) as reading:
            return reading.execute(query).first() is not None

    # the machinery

    def _check_served(self, collection: str | None) -> None:
        if collection is not None and not self.serves(collection):
            raise StoreError(f"unknown collection {collection!r} for the SQL store")

    @contextmanager
    def _reading(self, collection: str | None) -> Iterator[Connection]:
        """A read transaction (of ``collection``, which must be served)."""
        self._check_served(collection)
        try:
            with self.engine.connect() as connection, connection.begin():
                yield connection
        except DBAPIError as error:
            raise StoreError(f"the database could not be read: {error.orig or error}") from None

    @contextmanager
    def _writing(self, collection: str, *, exclusive: bool, scope_keys: Iterable[str] = ()) -> Iterator[Connection]:
        """A write transaction holding ``collection`` exclusively (``rewrite``) or shared (row-level paths and
        ``transact_where``, which also holds each of its ``scope_keys`` exclusively, taken in sorted order)."""
        self._check_served(collection)
        try:
            with self.engine.connect().execution_options(**{WRITES: True}) as connection, connection.begin():
                if self.postgres:
                    lock = func.pg_advisory_xact_lock if exclusive else func.pg_advisory_xact_lock_shared
                    connection.execute(select(lock(lock_key(collection))))
                    for key in scope_keys:
                        connection.execute(select(func.pg_advisory_xact_lock(lock_key(f"{collection}:{key}"))))
                yield connection
        except DBAPIError as error:  # the commit itself may have failed after landing
            raise StoreError(f"the database did not take the write: {error.orig or error}", maybe_written=True) \
                from None

    def _write(self, connection: Connection, collection: str, changes: list[tuple[Record | None, Record | None]],
               *, with_events: bool = True) -> None:
        """Write (before, after) pairs (after None: remove), each with a fresh ``seq``, and their events."""
        if not changes:
            return
        last = connection.execute(update(counters).where(counters.c.name == SEQ)
                                  .values(value=counters.c.value + len(changes)).returning(counters.c.value)).scalar()
        now = datetime.now(UTC).isoformat()
        for seq, (before, after) in enumerate(changes, start=last - len(changes) + 1):
            if after is None:
                connection.execute(update(records).where(self._row(collection, before["id"]))
                                   .values(seq=seq, deleted=True))
            else:
                values = indexed_values(admit(collection, after))
                values.update(seq=seq, body=json.dumps(after, sort_keys=True, ensure_ascii=False), deleted=False)
                connection.execute(upsert(self.engine, records).values(collection=collection, id=after["id"], **values)
                                   .on_conflict_do_update(index_elements=["collection", "id"], set_=values))
            body = _event_body(collection, before, after) if with_events else None
            if body is not None:
                connection.execute(events.insert().values(collection=collection, record_id=body["id"], at=now,
                                                          body=json.dumps(body, sort_keys=True, ensure_ascii=False)))

    def _refresh(self, connection: Connection, collection: str) -> dict[str, Record]:
        """The collection as of this transaction, reading only rows changed since this store last looked."""
        with self._snapshot_lock:
            known = self._snapshots.setdefault(collection, _Snapshot())
            rows = connection.execute(
                select(records.c.id, records.c.seq, records.c.body, records.c.deleted)
                .where(records.c.collection == collection, records.c.seq > known.seq).order_by(records.c.seq))
            for row in rows:
                known.records.pop(row.id, None)
                known.aside.pop(row.id, None)
                known.seq = row.seq
                if row.deleted:
                    continue
                found = self._parse(collection, row.id, row.body)
                (known.aside if isinstance(found, SetAside) else known.records)[row.id] = found
            self.set_aside.replace(collection, known.aside.values())
            return dict(known.records)

    @staticmethod
    def _parse(collection: str, record_id: str, body: str) -> Record | SetAside:
        try:
            return read_record(collection, record_id, body.encode("utf-8"))
        except RecordRejected as rejected:
            return SetAside(collection, record_id, f"{collection} row {record_id}", str(rejected))

    @staticmethod
    def _row(collection: str, record_id: str):
        return and_(records.c.collection == collection, records.c.id == record_id)

    @staticmethod
    def _live(collection: str):
        return and_(records.c.collection == collection, records.c.deleted.is_(False))

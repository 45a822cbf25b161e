"""The SQL store's tables and engine (SQLAlchemy Core): SQLite by default, PostgreSQL through psycopg 3.

- ``records``: one row per stored record; the JSON body as text plus the fields the queue and the votes filter
  and sort on, copied out of the body on every write. ``seq`` comes from one global counter (``counters``) and
  is bumped by every write and removal (a removal keeps the row, ``deleted`` set), so a reader that remembers
  the highest ``seq`` it saw reads only what changed since.
- ``events``: every request state change and every new vote, in commit order (published to the Hub in batches).
- ``leases``: named leases (one holder at a time, expiring) with the cursor of what the holder has done.
- ``outbox``: files staged for a Hub dataset (results, details, private, hidden scores; :mod:`store.outbox`), one
  row per ``<collection>/<name>``, so a second stage of the same file is refused (write-once) or replaces the row
  (put). ``seq`` comes from the collection's counter (``outbox:<collection>``); once published, ``body`` is
  dropped and ``published_in`` names the commit that holds it, until the row is pruned.

A ``records`` table made by an earlier version, without some of today's indexed columns, gets them at open:
``ALTER TABLE ... ADD COLUMN`` and a fill from the stored bodies, in the transaction that holds the schema lock,
so replicas opening together do it once.

``events.seq`` is assigned while the write holds the ``counters`` row, so events, too, commit in ``seq`` order.

SQLite runs in WAL mode with a busy timeout; a write transaction starts with ``BEGIN IMMEDIATE`` so that two
writers never both read and then both write (``pysqlite``'s own transaction handling is switched off for that,
as SQLAlchemy's documentation describes).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Connection,
    Engine,
    Float,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    bindparam,
    create_engine,
    event,
    func,
    inspect,
    select,
    tuple_,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from store.record_contract import Record, RecordRejected, read_record

metadata = MetaData()

QUEUE_FIELDS = ("state", "worker", "heartbeat_at", "submitted_at", "voter")
SCOPE_FIELDS = ("team_key", "account", "repo_id", "challenge", "rechecks")  # what look-ups and checks filter on
INDEXED_FIELDS = QUEUE_FIELDS + SCOPE_FIELDS  # copied out of each body (text values only)
BACKFILL_BATCH = 2000

records = Table(
    "records", metadata,
    Column("collection", String(40), primary_key=True),
    Column("id", String(200), primary_key=True),
    Column("seq", BigInteger, nullable=False),
    *(Column(name, String(200)) for name in QUEUE_FIELDS),
    *(Column(name, String) for name in SCOPE_FIELDS),  # unbounded: a team key or repo id is never cut
    Column("body", Text, nullable=False),
    Column("deleted", Boolean, nullable=False, default=False),
    Index("records_by_seq", "collection", "seq"),
    Index("records_queue", "collection", "state", "submitted_at", "id"),
    Index("records_by_worker", "collection", "worker"),
    Index("records_by_voter", "collection", "voter"),
    Index("records_by_submitted", "collection", "submitted_at", "id"),
    Index("records_by_heartbeat", "collection", "heartbeat_at", "id"),
    # the scopes filter on the challenge too: an index naming it wins over records_by_challenge in SQLite's planner
    Index("records_by_team", "collection", "team_key", "challenge"),
    Index("records_by_account", "collection", "account", "challenge"),
    Index("records_by_repo", "collection", "repo_id", "challenge"),
    Index("records_by_challenge", "collection", "challenge"),
    Index("records_by_rechecks", "collection", "rechecks"),
)

events = Table(
    "events", metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("collection", String(40), nullable=False),
    Column("record_id", String(200), nullable=False),
    Column("at", String(40), nullable=False),
    Column("body", Text, nullable=False),
    Index("events_by_collection", "collection", "seq"),
)

leases = Table(
    "leases", metadata,
    Column("name", String(100), primary_key=True),
    Column("holder", String(200)),
    Column("expires_at", Float, nullable=False, default=0.0),
    Column("cursor", BigInteger, nullable=False, default=0),  # the last event seq the holder's work covers
    Column("pending", BigInteger),  # the last event seq of a batch being published (the same batch on a retry)
)

outbox = Table(
    "outbox", metadata,
    Column("collection", String(40), primary_key=True),
    Column("name", String(210), primary_key=True),  # the file's name in the collection's folder
    Column("seq", BigInteger, nullable=False),
    Column("body", LargeBinary),  # the file's bytes; NULL once published
    Column("created_at", Float, nullable=False),
    Column("published_in", String(64)),  # the commit that published this seq's body
    Column("published_at", Float),
    Index("outbox_by_created", "collection", "created_at", "seq"),
)

counters = Table(
    "counters", metadata,
    Column("name", String(100), primary_key=True),
    Column("value", BigInteger, nullable=False),
)

SEQ = "seq"  # the counters row every write bumps
WRITES = "writes"  # execution option: this transaction writes (SQLite: BEGIN IMMEDIATE)


def make_engine(url: str) -> Engine:
    """An engine for ``url`` (``sqlite:///path`` or ``postgresql+psycopg://...``), set up for this store."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 60, "check_same_thread": False})
        if engine.url.database and engine.url.database != ":memory:":
            Path(engine.url.database).parent.mkdir(parents=True, exist_ok=True)
        event.listen(engine, "connect", _sqlite_connect)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    if url.startswith("postgresql"):
        return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)
    raise ValueError(f"DATABASE_URL must be a sqlite:/// or postgresql+psycopg:// URL, not {url.split(':')[0]}:")


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # SQLAlchemy's "begin" event below starts transactions instead
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=60000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _sqlite_begin(connection: Any) -> None:
    connection.exec_driver_sql("BEGIN IMMEDIATE" if connection.get_execution_options().get(WRITES) else "BEGIN")


def upsert(engine: Engine, table: Table) -> Any:
    """``INSERT`` with ``on_conflict_do_update`` / ``on_conflict_do_nothing`` for the engine's dialect."""
    return (postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert)(table)


def lock_key(name: str) -> int:
    """A stable signed 64-bit key for a PostgreSQL advisory lock named ``name``."""
    return int.from_bytes(hashlib.sha256(f"store:{name}".encode()).digest()[:8], "big", signed=True)


def indexed_values(record: Record) -> dict[str, str | None]:
    """The indexed columns of a stored record (as admitted by the record contract): its text values, else NULL."""
    return {name: record.get(name) if isinstance(record.get(name), str) else None for name in INDEXED_FIELDS}


def create_schema(engine: Engine) -> None:
    """The tables (if missing), the columns and indexes added since a table was created (filled from the stored
    bodies) and the counter row; replicas opening the database together do it once."""
    with engine.connect().execution_options(**{WRITES: True}) as connection, connection.begin():
        if engine.dialect.name == "postgresql":
            connection.execute(select(func.pg_advisory_xact_lock(lock_key("schema"))))
        metadata.create_all(connection)
        _add_missing_columns(connection)
        for index in records.indexes:  # an index added since the table was created
            index.create(connection, checkfirst=True)
        connection.execute(upsert(engine, counters).values(name=SEQ, value=0).on_conflict_do_nothing())


def _add_missing_columns(connection: Connection) -> None:
    """Upgrade a ``records`` table made by an earlier version: add the indexed columns it lacks, then fill them
    from every stored body in the same transaction (so a crash leaves the old table, and the next open does it)."""
    present = {column["name"] for column in inspect(connection).get_columns(records.name)}
    missing = [name for name in INDEXED_FIELDS if name not in present]
    if not missing:
        return
    quote = connection.dialect.identifier_preparer.quote
    for name in missing:
        column_type = records.c[name].type.compile(dialect=connection.dialect)
        connection.exec_driver_sql(f"ALTER TABLE {quote(records.name)} ADD COLUMN {quote(name)} {column_type}")
    _backfill(connection, missing)


def _backfill(connection: Connection, names: list[str]) -> None:
    """Copy ``names`` out of every stored body, in key order, a batch at a time (a body that does not fit the
    record contract leaves them NULL, as it is left out of every read)."""
    key = tuple_(records.c.collection, records.c.id)
    fill = update(records).where(records.c.collection == bindparam("at_collection"),
                                 records.c.id == bindparam("at_id")).values({name: bindparam(f"new_{name}") for name in names})
    after: tuple[str, str] | None = None
    while True:
        batch = select(records.c.collection, records.c.id, records.c.body).order_by(*key.clauses).limit(BACKFILL_BATCH)
        rows = connection.execute(batch.where(key > after) if after else batch).all()
        if not rows:
            return
        filled = []
        for row in rows:
            try:
                values = indexed_values(read_record(row.collection, row.id, row.body.encode("utf-8")))
            except (RecordRejected, KeyError):  # unreadable, or a collection the contract no longer has
                values = dict.fromkeys(names)
            filled.append({"at_collection": row.collection, "at_id": row.id, **{f"new_{n}": values[n] for n in names}})
        connection.execute(fill, filled)
        after = (rows[-1].collection, rows[-1].id)

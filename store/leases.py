"""Named leases in the SQL store: one holder at a time across replicas and workers, expiring when the holder
stops renewing (it died), each with a cursor of the work done and the batch under way (``store.sql_schema``)."""

from __future__ import annotations

import os
import secrets
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import Connection, select, update

from store.sql import SqlStore
from store.sql_schema import WRITES, leases, upsert


@dataclass(frozen=True)
class Lease:
    name: str
    holder: str
    cursor: int
    pending: int | None


def new_holder() -> str:
    """A holder name unique to this process: the machine, the process id and a random part (a restarted process
    with the same pid is a new holder)."""
    return f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(4)}"


@contextmanager
def _writing(store: SqlStore) -> Iterator[Connection]:
    with store.engine.connect().execution_options(**{WRITES: True}) as connection, connection.begin():
        yield connection


def acquire(store: SqlStore, name: str, holder: str, *, now: float, ttl_s: float) -> Lease | None:
    """Take or renew lease ``name`` for ``holder`` until ``now + ttl_s``; None while another holder's is live."""
    with _writing(store) as connection:
        connection.execute(upsert(store.engine, leases).values(name=name, holder=None, expires_at=0.0, cursor=0)
                           .on_conflict_do_nothing())
        row = connection.execute(select(leases).where(leases.c.name == name).with_for_update()).one()
        if row.holder not in (None, holder) and row.expires_at > now:
            return None
        connection.execute(update(leases).where(leases.c.name == name)
                           .values(holder=holder, expires_at=now + ttl_s))
        return Lease(name, holder, row.cursor, row.pending)


def record(store: SqlStore, lease: Lease, *, cursor: int | None = None, pending: int | None = None) -> bool:
    """Store the lease's ``cursor`` and ``pending`` batch end, if ``lease.holder`` still holds it."""
    with _writing(store) as connection:
        done = connection.execute(update(leases).where(leases.c.name == lease.name, leases.c.holder == lease.holder)
                                  .values(cursor=lease.cursor if cursor is None else cursor, pending=pending))
        return done.rowcount == 1


def release(store: SqlStore, lease: Lease) -> None:
    with _writing(store) as connection:
        connection.execute(update(leases).where(leases.c.name == lease.name, leases.c.holder == lease.holder)
                           .values(holder=None, expires_at=0.0))

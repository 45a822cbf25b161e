"""A result's per-sample details: one Parquet file per result (``details/<result id>.parquet``, format in
:mod:`store.details_parquet`), written whole once per attempt and read by slice.

Writing never lists or reads the other results' details: it reads the footer of the one file it replaces (on
the Hub, a ranged read) and leaves it when it holds a newer attempt. Details stored before the Parquet files, as
one JSON record per result in the ``details`` collection, are still read when a result has no Parquet file
(and their attempt still counts), so nothing stored is lost.
"""

from __future__ import annotations

from contextlib import AbstractContextManager, closing, nullcontext
from typing import Any, BinaryIO

from store.base import Record, Store, StoreError
from store.details_parquet import (
    DetailsInfo,
    DetailsUnreadable,
    encode,
    read_info,
    read_rows,
)

COLLECTION = "details"
Samples = dict[str, list[dict[str, Any]]]  # column key -> that column's per-sample records, in order


def _name(result_id: str) -> str:
    return f"{result_id}.parquet"


def _unreadable(result_id: str, error: DetailsUnreadable) -> StoreError:
    return StoreError(f"the details of {result_id} ({COLLECTION}/{_name(result_id)}) {error}; the operator must "
                      "repair or remove the file")


def write_details(store: Store, result_id: str, attempt: int, worker: str | None, samples: Samples, *,
                  request_id: str | None = None) -> bool:
    """Store ``samples`` as the details of ``result_id`` unless a newer attempt's details are stored; returns
    whether it wrote. StoreError when the samples cannot be stored (nothing is written) or the stored file
    cannot be read (it is never replaced unread)."""
    try:
        content = encode(samples, result_id=result_id, request_id=request_id, attempt=attempt, worker=worker)
    except (TypeError, ValueError) as error:
        raise StoreError(f"the details of {result_id} cannot be stored: {error}; nothing was written") from None

    def keep(stored: BinaryIO | None) -> bool:
        if stored is not None:
            try:
                return read_info(stored).attempt > attempt
            except DetailsUnreadable as error:
                raise _unreadable(result_id, error) from None
        legacy = store.get(COLLECTION, result_id)
        return legacy is not None and _attempt(legacy) > attempt

    return store.write_file(COLLECTION, _name(result_id), content, keep)


def details_info(store: Store, result_id: str) -> DetailsInfo | None:
    """Which attempt and worker wrote the stored details, and the sample count of each column; None without any."""
    with _opened(store, result_id) as stored:
        if stored is not None:
            try:
                return read_info(stored)
            except DetailsUnreadable as error:
                raise _unreadable(result_id, error) from None
    legacy = store.get(COLLECTION, result_id)
    if legacy is None:
        return None
    return DetailsInfo(result_id, legacy.get("request_id"), _attempt(legacy), legacy.get("worker"),
                       {key: len(rows) for key, rows in _legacy_samples(legacy).items()})


def details_columns(store: Store, result_id: str) -> dict[str, int]:
    """Column key -> number of samples stored (from the Parquet footer alone); empty without details."""
    info = details_info(store, result_id)
    return dict(info.columns) if info else {}


def read_details_slice(store: Store, result_id: str, column: str | None = None, offset: int = 0,
                       limit: int = 50) -> tuple[list[dict[str, Any]], int]:
    """Samples ``offset`` to ``offset + limit`` of ``column`` (None: of every column, in order) as rows
    ``{"column", "index", <the sample's fields>}``, and how many samples ``column`` has. Reads only the part of
    the file that holds them. KeyError for a column the details do not have; ([], 0) without details."""
    if offset < 0 or limit < 0:
        raise ValueError("offset and limit must be 0 or more")
    with _opened(store, result_id) as stored:
        if stored is not None:
            try:
                return read_rows(stored, column, offset, limit)
            except DetailsUnreadable as error:
                raise _unreadable(result_id, error) from None
    legacy = store.get(COLLECTION, result_id)
    samples = _legacy_samples(legacy) if legacy else {}
    if column is not None and legacy is not None and column not in samples:
        raise KeyError(column)
    rows = [{"column": key, "index": index, **(record if isinstance(record, dict) else {"value": record})}
            for key, records in samples.items() if column in (None, key) for index, record in enumerate(records)]
    return rows[offset:offset + limit], len(rows)


def _opened(store: Store, result_id: str) -> AbstractContextManager[BinaryIO | None]:
    stored = store.open_file(COLLECTION, _name(result_id))
    return closing(stored) if stored is not None else nullcontext()


def _attempt(legacy: Record) -> int:
    attempt = legacy.get("attempt")
    return attempt if isinstance(attempt, int) and not isinstance(attempt, bool) else 0


def _legacy_samples(legacy: Record) -> Samples:
    samples = legacy.get("samples") or {}
    return {str(key): rows for key, rows in samples.items() if isinstance(rows, list)}

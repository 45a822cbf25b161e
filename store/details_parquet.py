"""A result's per-sample details as one Parquet file: the format, with no storage in it.

One row per sample: ``column`` (the board column / task key), ``index`` (the sample's place in its column) and
the sample's fields, as lm-eval's details datasets keep them. A field whose values are all of one plain type
(text, whole number, number, true/false) and never missing is stored as that type; any other field (lists,
objects, mixed types, missing in some samples) is stored as JSON text and marked so in its schema metadata, so
every sample reads back exactly as written.

Rows are in column order, and no row group holds two columns or more than :data:`ROW_GROUP_ROWS` rows, so a page
of one column reads only the row groups it needs. The footer's key-value metadata says which result and
attempt the file holds, which worker wrote it, and how many samples each column has (``details_info``), so the
counts and the attempt are known from the footer alone.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from typing import Any, BinaryIO

import pyarrow as pa
import pyarrow.parquet as pq

ROW_GROUP_ROWS = 64  # a page of samples reads one or two row groups
INFO_KEY = b"flowertune.details"  # the footer entry this module writes and reads
JSON_FIELD = {b"encoding": b"json"}  # schema metadata of a field stored as JSON text
RESERVED = ("column", "index")
_PLAIN_TYPES = {str: pa.string(), bool: pa.bool_(), int: pa.int64(), float: pa.float64()}


class DetailsUnreadable(ValueError):
    """The bytes are not a details file this module wrote (not Parquet, or no details footer)."""


@dataclass(frozen=True)
class DetailsInfo:
    """What a details file's footer says."""

    result_id: str
    request_id: str | None
    attempt: int
    worker: str | None
    columns: dict[str, int]  # column key -> number of samples, in the file's order


def encode(samples: dict[str, list[dict[str, Any]]], *, result_id: str, request_id: str | None, attempt: int,
           worker: str | None) -> bytes:
    """The Parquet file of ``samples`` (column key -> that column's sample records, in order).

    Raises TypeError when a sample is not a JSON object, ValueError when it uses a reserved field name
    (``column``, ``index``)."""
    rows = []
    for column, records in samples.items():
        for index, record in enumerate(records):
            if not isinstance(record, dict):
                raise TypeError(f"sample {index} of {column!r} is not a JSON object")
            clash = [name for name in RESERVED if name in record]
            if clash:
                raise ValueError(f"sample {index} of {column!r} has a field named {clash[0]!r}, which is reserved")
            rows.append(record)
    names = list(dict.fromkeys(name for record in rows for name in record))
    fields = [pa.field("column", pa.string()), pa.field("index", pa.int32())]
    arrays = [pa.array([c for c, records in samples.items() for _ in records], pa.string()),
              pa.array([i for records in samples.values() for i in range(len(records))], pa.int32())]
    for name in names:
        plain = _plain_type(rows, name)
        if plain is not None:
            fields.append(pa.field(name, plain))
            arrays.append(pa.array([record[name] for record in rows], plain))
        else:
            fields.append(pa.field(name, pa.string(), metadata=JSON_FIELD))
            arrays.append(pa.array([json.dumps(record[name], ensure_ascii=False) if name in record else None
                                    for record in rows], pa.string()))
    info = {"result_id": result_id, "request_id": request_id, "attempt": attempt, "worker": worker,
            "columns": [[column, len(records)] for column, records in samples.items()]}
    schema = pa.schema(fields, metadata={INFO_KEY: json.dumps(info).encode(), b"attempt": str(attempt).encode(),
                                         b"worker": (worker or "").encode()})
    table = pa.Table.from_arrays(arrays, schema=schema)
    out = io.BytesIO()
    with pq.ParquetWriter(out, schema, compression="zstd", write_statistics=list(RESERVED)) as writer:  # small footer
        start = 0
        for records in samples.values():
            for first in range(0, len(records), ROW_GROUP_ROWS):
                size = min(ROW_GROUP_ROWS, len(records) - first)
                writer.write_table(table.slice(start + first, size), row_group_size=size)
            start += len(records)
    return out.getvalue()


def _plain_type(rows: list[dict[str, Any]], name: str) -> pa.DataType | None:
    """The Arrow type of field ``name`` when every sample has it with one plain type, else None (JSON text)."""
    kinds = {type(record.get(name)) for record in rows}
    if len(kinds) != 1 or not all(name in record for record in rows):
        return None
    plain = _PLAIN_TYPES.get(kinds.pop())
    if plain == pa.int64() and not all(-2**63 <= record[name] < 2**63 for record in rows):
        return None
    return plain


def _open(file: BinaryIO) -> pq.ParquetFile:
    try:
        return pq.ParquetFile(file, pre_buffer=True)
    except (pa.ArrowException, OSError) as error:
        raise DetailsUnreadable(f"is not a Parquet file ({error})") from None


def _info(parquet: pq.ParquetFile) -> DetailsInfo:
    raw = (parquet.metadata.metadata or {}).get(INFO_KEY)  # the footer's own key-value pairs
    try:
        info = json.loads(raw)
        return DetailsInfo(info["result_id"], info.get("request_id"), int(info["attempt"]), info.get("worker"),
                           {str(column): int(count) for column, count in info["columns"]})
    except (TypeError, ValueError, KeyError) as error:
        raise DetailsUnreadable(f"has no readable details footer ({error!r})") from None


def read_info(file: BinaryIO) -> DetailsInfo:
    """The footer of a details file (one read of its end)."""
    return _info(_open(file))


def read_rows(file: BinaryIO, column: str | None, offset: int, limit: int) -> tuple[list[dict[str, Any]], int]:
    """Rows ``offset`` to ``offset + limit`` of ``column`` (None: of all columns, in order) and how many there are,
    reading only the row groups that hold them. KeyError when the file has no such column."""
    parquet = _open(file)
    info = _info(parquet)
    if column is not None and column not in info.columns:
        raise KeyError(column)
    # (row group, its first row's place in the rows asked for) for each row group of the rows asked for
    groups, place, group = [], 0, 0
    for key, count in info.columns.items():
        first = 0
        while first < count:
            size = parquet.metadata.row_group(group).num_rows if group < parquet.metadata.num_row_groups else 0
            if not 0 < size <= count - first:
                raise DetailsUnreadable(f"has row groups that do not match its footer's count for {key!r}")
            if column in (None, key):
                groups.append((group, place))
                place += size
            first, group = first + size, group + 1
    total = place
    wanted = [(g, start) for g, start in groups
              if start < offset + limit and start + parquet.metadata.row_group(g).num_rows > offset]
    if not wanted or limit <= 0:
        return [], total
    table = parquet.read_row_groups([g for g, _ in wanted])
    skip = offset - wanted[0][1]
    table = table.slice(max(0, skip), limit)
    json_fields = {field.name for field in table.schema if field.metadata == JSON_FIELD}
    rows = []
    for raw in table.to_pylist():
        row = {"column": raw.pop("column"), "index": raw.pop("index")}
        for name, value in raw.items():
            if name not in json_fields:
                row[name] = value
            elif value is not None:  # None: the sample has no such field
                row[name] = json.loads(value)
        rows.append(row)
    return rows, total

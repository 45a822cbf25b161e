"""Read the published boards (``leaderboard/published/*.csv``) as result records.

The published numbers are self-reported and copied as published; each becomes one result record with
``source: "published"`` keyed by the row's ``id`` column (a stable name, never its line number), so inserting a
row shifts nothing. The boards job (:mod:`leaderboard.aggregate`) makes each aggregate's published rows exactly
the CSV rows: an edited row replaces its row, a removed row goes away.
"""

from __future__ import annotations

import csv
import logging
import re
from datetime import datetime
from pathlib import Path

from challenges.definitions import Challenge, challenges
from store.base import Record

PUBLISHED_DIR = Path(__file__).parent / "published"
ROW_ID = re.compile(r"^[a-z0-9][a-z0-9._-]{0,120}$")
log = logging.getLogger(__name__)


def parse_published_date(text: str) -> str | None:
    """``14.01.26`` (dd.mm.yy, as on the published boards) -> ``2026-01-14``; empty -> None."""
    text = text.strip()
    if not text:
        return None
    return datetime.strptime(text, "%d.%m.%y").date().isoformat()


def _number(text: str) -> float | None:
    text = text.strip()
    return float(text) if text else None


def published_records(challenge: Challenge, csv_path: Path, unreadable: set[str] | None = None) -> list[Record]:
    """One record per row; a row that cannot be read, or whose id is missing or taken by an earlier row, is left
    out with a logged reason (the others still show). The record ids of rows left out are added to
    ``unreadable`` (when their id can be read), so an import keeps what it stored for them."""
    records: list[Record] = []
    first_row: dict[str, int] = {}
    with csv_path.open(newline="", encoding="utf-8") as handle:
        for line_no, row in enumerate(csv.DictReader(handle), start=1):
            try:
                record = _record(challenge, row)
                if record["id"] in first_row:
                    raise ValueError(f"id {row['id']!r} is already used by row {first_row[record['id']]}")
            except (ValueError, KeyError, TypeError) as error:
                log.warning("published row %d of %s left out: %s", line_no, csv_path.name, error)
                row_id = (row.get("id") or "").strip()
                if unreadable is not None and ROW_ID.match(row_id):
                    unreadable.add(f"published-{challenge.id}-{row_id}")
                continue
            first_row[record["id"]] = line_no
            records.append(record)
    return records


def _row_id(row: dict[str, str]) -> str:
    row_id = (row.get("id") or "").strip()
    if not ROW_ID.match(row_id):
        raise ValueError(f"id {row_id!r} is not a stable row id (lower-case letters, digits, '.', '_', '-')")
    return row_id


def _record(challenge: Challenge, row: dict[str, str]) -> Record:
    return {
        "id": f"published-{challenge.id}-{_row_id(row)}",
        "request_id": None,
        "challenge": challenge.id,
        "source": "published",
        "team": row.get("team") or None,
        "name": row.get("name") or None,
        "model_repo": None,
        "model_commit": None,
        "base_model": row.get("base_model") or None,
        "code_url": row.get("code_url") or None,
        "comm_gb": _number(row.get("comm_gb", "")),
        "scores": {
            key: value
            for key in challenge.score_keys
            if (value := _number(row.get(key, ""))) is not None
        },
        "average": float(row["average"]),
        "date": parse_published_date(row.get("date", "")),
        "provenance": {
            "imported_from": challenge.published_url,
            "published_rank": int(row["rank"]) if row.get("rank") else None,
        },
    }


def all_published_records(directory: Path = PUBLISHED_DIR, unreadable: set[str] | None = None) -> list[Record]:
    records = []
    for challenge in challenges().values():
        path = directory / f"{challenge.id}.csv"
        if path.exists():
            records.extend(published_records(challenge, path, unreadable))
    return records

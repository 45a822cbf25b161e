"""Import the published boards (``leaderboard/published/*.csv``) as result records.

The published numbers are self-reported and copied as published; each becomes one result record with
``source: "published"`` and a deterministic id, so importing again never duplicates a row.
"""

from __future__ import annotations

import csv
import logging
from datetime import datetime
from pathlib import Path

from leaderboard.challenges import Challenge, challenges
from submissions.store import Record, Store

PUBLISHED_DIR = Path(__file__).parent / "published"
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


def published_records(challenge: Challenge, csv_path: Path) -> list[Record]:
    """One record per row; a row that cannot be read is left out with a logged reason (the others still show)."""
    records = []
    with csv_path.open(newline="", encoding="utf-8") as handle:
        for line_no, row in enumerate(csv.DictReader(handle), start=1):
            try:
                records.append(_record(challenge, line_no, row))
            except (ValueError, KeyError, TypeError) as error:
                log.warning("published row %d of %s left out: %s", line_no, csv_path.name, error)
    return records


def _record(challenge: Challenge, line_no: int, row: dict[str, str]) -> Record:
    return {
        "id": f"published-{challenge.id}-{line_no:03d}",
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
            "published_row": line_no,
        },
    }


def all_published_records(directory: Path = PUBLISHED_DIR) -> list[Record]:
    records = []
    for challenge in challenges().values():
        path = directory / f"{challenge.id}.csv"
        if path.exists():
            records.extend(published_records(challenge, path))
    return records


def import_published(store: Store) -> int:
    """Write the published rows that are not in the results store yet; returns how many were added."""
    return store.put_missing("results", all_published_records())

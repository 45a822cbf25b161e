"""Timestamps in records are ISO 8601 text written by us or by anyone with write access to a dataset, so
they are read defensively: :func:`parse_utc` gives an aware UTC datetime, reading a time without an offset as
UTC (so it compares with everything else) and anything unreadable as ``None``."""

from __future__ import annotations

from datetime import datetime, timezone


def parse_utc(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


def utc_stamp(moment: datetime) -> str:
    """How records write a moment: ISO 8601 with its offset, to the second."""
    return moment.isoformat(timespec="seconds")

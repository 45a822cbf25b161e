"""Record timestamps: naive ones read as UTC, garbage as None, all comparable."""

from datetime import datetime, timedelta, timezone

from store.timestamps import parse_utc


def test_offsets_naive_times_and_garbage():
    aware = parse_utc("2026-11-29T10:00:00+02:00")
    naive = parse_utc("2026-11-29T08:00:00")
    assert aware == naive == datetime(2026, 11, 29, 8, tzinfo=timezone.utc)
    assert naive.tzinfo is not None and naive < datetime.now(timezone.utc) + timedelta(days=1)
    for bad in ("soon", "yesterday", "", None, 5, ["2026-01-01"], "2026-13-40"):
        assert parse_utc(bad) is None

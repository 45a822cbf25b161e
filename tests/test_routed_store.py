"""``RoutedStore`` hands every store operation to the backend its collection is routed to, so a backend's own
fast path (a Hub store's write-once ``put_missing``, a SQL store's one-row ``update_one``, Parquet files beside
the records) is never replaced by the base class's generic version built on ``rewrite``."""

from __future__ import annotations

import inspect

from store.base import LocalStore, Store
from store.routed import RoutedStore
from store.sql import SqlStore


def public_operations(cls: type) -> set[str]:
    return {name for name, member in inspect.getmembers(cls, inspect.isfunction) if not name.startswith("_")}


def test_every_store_operation_is_forwarded_not_inherited() -> None:
    inherited = {name for name in public_operations(Store) if "RoutedStore" not in getattr(RoutedStore, name).__qualname__}
    assert inherited == {"quarantined"}, f"RoutedStore inherits {sorted(inherited)} instead of forwarding them"


def test_operations_reach_the_routed_backend(tmp_path) -> None:
    live, files = SqlStore(f"sqlite:///{tmp_path / 'live.sqlite3'}"), LocalStore(tmp_path / "files")
    store = RoutedStore({"requests": live}, default=files)
    request = {"id": "r1", "state": "PENDING", "submitted_at": "2026-01-01T00:00:00+00:00", "challenge": "general_nlp"}
    assert store.put_missing("requests", [request]) == 1
    store.put("results", {"id": "x1", "challenge": "general_nlp", "scores": {}, "source": "evaluated"})
    assert live.get("requests", "r1")["state"] == "PENDING" and files.get("requests", "r1") is None
    assert files.get("results", "x1") is not None
    assert store.update_one("requests", "r1", lambda r: ({**r, "state": "RUNNING"}, True)) is True
    assert live.get("requests", "r1")["state"] == "RUNNING"
    assert store.write_file("details", "x1.bin", b"abc", keep=lambda stored: False) is True
    with store.open_file("details", "x1.bin") as handle:
        assert handle.read() == b"abc"
    assert (tmp_path / "files" / "details" / "x1.bin").read_bytes() == b"abc"

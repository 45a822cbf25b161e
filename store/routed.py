"""``RoutedStore``: one :class:`Store` made of several, each collection kept by the backend it is routed to.

The factory routes the live collections (``requests``, ``votes``) to the SQL store, and the published record to
the local folder, or on the Hub: results, details, private and hidden_scores to the outbox (staged in the SQL
database, published in batches), reveals and boards to the Hub store itself.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import BinaryIO

from store.base import Change, Decision, Record, Rewrite, Scopes, SetAside, Store, T


class _RoutedSetAside:
    """The set-aside lists of the backends, read as one."""

    def __init__(self, routed: RoutedStore):
        self.routed = routed

    def get(self, collection: str, record_id: str) -> SetAside | None:
        return self.routed.backend(collection).set_aside.get(collection, record_id)

    def all(self) -> list[SetAside]:
        return [item for store in self.routed.backends() for item in store.quarantined()]


class RoutedStore(Store):
    def __init__(self, routes: Mapping[str, Store], default: Store):
        self.routes, self.default = dict(routes), default
        self.set_aside = _RoutedSetAside(self)  # type: ignore[assignment] - read-only view, same lookups

    def backend(self, collection: str) -> Store:
        return self.routes.get(collection, self.default)

    def backends(self) -> list[Store]:
        return list({id(store): store for store in [*self.routes.values(), self.default]}.values())

    def all(self, collection: str) -> list[Record]:
        return self.backend(collection).all(collection)

    def get(self, collection: str, record_id: str) -> Record | None:
        return self.backend(collection).get(collection, record_id)

    def get_at(self, collection: str, record_id: str, version: str) -> Record | None:
        return self.backend(collection).get_at(collection, record_id, version)

    def select(self, collection: str, **equals: str) -> list[Record]:
        return self.backend(collection).select(collection, **equals)

    def rewrite(self, collection: str, decide: Rewrite[T]) -> T:
        return self.backend(collection).rewrite(collection, decide)

    def newest(self, collection: str, field: str, limit: int) -> list[Record]:
        return self.backend(collection).newest(collection, field, limit)

    def position(self, collection: str, record_id: str, order_fields: tuple[str, ...], **equals: str) -> int | None:
        return self.backend(collection).position(collection, record_id, order_fields, **equals)

    def update_one(self, collection: str, record_id: str, change: Change[T]) -> T:
        return self.backend(collection).update_one(collection, record_id, change)

    def claim_oldest(self, collection: str, state: str, order_fields: tuple[str, ...],
                     change: Callable[[Record], Record], *, held: dict[str, str] | None = None) -> Record | None:
        return self.backend(collection).claim_oldest(collection, state, order_fields, change, held=held)

    def version(self, collection: str) -> str:
        return self.backend(collection).version(collection)

    def put(self, collection: str, record: Record) -> None:
        self.backend(collection).put(collection, record)

    def put_missing(self, collection: str, records: list[Record]) -> int:
        return self.backend(collection).put_missing(collection, records)

    def transact(self, collection: str, decide: Decision[T]) -> T:
        return self.backend(collection).transact(collection, decide)

    def transact_where(self, collection: str, scopes: Scopes, decide: Decision[T]) -> T:
        return self.backend(collection).transact_where(collection, scopes, decide)

    def open_file(self, collection: str, name: str) -> BinaryIO | None:
        return self.backend(collection).open_file(collection, name)

    def write_file(self, collection: str, name: str, content: bytes, keep: Callable[[BinaryIO | None], bool]) -> bool:
        return self.backend(collection).write_file(collection, name, content, keep)

    def serves(self, collection: str) -> bool:
        return self.backend(collection).serves(collection)

    def stale_note(self, collection: str) -> str | None:
        return self.backend(collection).stale_note(collection)

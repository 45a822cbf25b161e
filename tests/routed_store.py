"""A store that keeps the requests in one backend and every other collection in another: the shape the app's
store takes once the requests are a database table (cheap to read whole) and the Hub datasets the published
record. The boards' scale tests use it with a local folder standing in for the table."""

from __future__ import annotations

from store.base import Record, Rewrite, SetAsideList, Store, T


class RoutedStore(Store):
    def __init__(self, requests: Store, published: Store):
        self.requests, self.published = requests, published

    @property
    def set_aside(self) -> SetAsideList:  # what the published record's reads set aside
        return self.published.set_aside

    def _for(self, collection: str) -> Store:
        return self.requests if collection == "requests" else self.published

    def all(self, collection: str) -> list[Record]:
        return self._for(collection).all(collection)

    def get(self, collection: str, record_id: str) -> Record | None:
        return self._for(collection).get(collection, record_id)

    def get_at(self, collection: str, record_id: str, version: str) -> Record | None:
        return self._for(collection).get_at(collection, record_id, version)

    def rewrite(self, collection: str, decide: Rewrite[T]) -> T:
        return self._for(collection).rewrite(collection, decide)

    def put_missing(self, collection: str, records: list[Record]) -> int:
        return self._for(collection).put_missing(collection, records)

    def version(self, collection: str) -> str:
        return self._for(collection).version(collection)

    def serves(self, collection: str) -> bool:
        return self._for(collection).serves(collection)

    def stale_note(self, collection: str) -> str | None:
        return self._for(collection).stale_note(collection)

    def quarantined(self) -> list:
        return [*self.requests.quarantined(), *self.published.quarantined()]

"""Handing each side's increments from the decoding threads to the consumer, without a lock per token.

``queue.Queue`` takes its lock on every put and get and wakes the consumer for each item. Here a put is a deque
append (atomic in CPython), and the lock is taken only to wake a consumer that is asleep waiting for that very
side: while the consumer keeps up, or is busy with the previous increment, decoding never touches a lock.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterable
from typing import Any


class Handoff:
    """One FIFO per side; any number of producer threads, one consumer."""

    def __init__(self, sides: Iterable[str]):
        self._items: dict[str, deque] = {side: deque() for side in sides}
        self._wake = threading.Condition(threading.Lock())
        self._waiting_for: str | None = None

    def put(self, side: str, item: Any) -> None:
        self._items[side].append(item)
        if self._waiting_for == side:  # read after the append: a consumer that missed the item is asleep
            with self._wake:
                self._wake.notify()

    def get(self, side: str) -> Any:
        """The side's next item, waiting for it if needed."""
        items = self._items[side]
        if not items:
            with self._wake:
                self._waiting_for = side
                while not items:
                    self._wake.wait()
                self._waiting_for = None
        return items.popleft()

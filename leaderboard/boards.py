"""The boards' data: result records from the store, one ranked frame per challenge, rebuilt only when the
results collection changes (checked with the store's cheap version token)."""

from __future__ import annotations

import threading

import pandas as pd

from leaderboard.challenges import Challenge, challenges
from leaderboard.table import board_frame
from submissions.store import Record, Store


class Boards:
    def __init__(self, store: Store | None = None, records: list[Record] | None = None):
        """Read results from ``store``, or serve a fixed list of ``records`` (benchmarks, previews)."""
        if (store is None) == (records is None):
            raise ValueError("give either a store or a list of records")
        self.store = store
        self._fixed = records
        self._lock = threading.Lock()
        self._version: str | None = None
        self._frames: dict[str, pd.DataFrame] = {}

    @property
    def challenges(self) -> dict[str, Challenge]:
        return challenges()

    def frame(self, challenge_id: str) -> pd.DataFrame:
        with self._lock:
            version = "fixed" if self.store is None else self.store.version("results")
            if version != self._version:
                records = self._fixed if self.store is None else self.store.all("results")
                self._frames = {cid: board_frame(c, records) for cid, c in self.challenges.items()}
                self._version = version
            return self._frames[challenge_id]

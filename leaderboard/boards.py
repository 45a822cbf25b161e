"""The boards' data: result records from the store, one ranked frame per challenge, rebuilt only when the
results collection or the revealed hidden-test scores change. The store's version token is asked at most every ``recheck_s`` seconds (on the
Hub it is an HTTP call), or at once when a visitor presses Refresh, so sorting and filtering never wait on
the store."""

from __future__ import annotations

import threading
import time

import pandas as pd

from leaderboard.challenges import Challenge, challenges
from leaderboard.hidden_test import REVEALS, Revealed, read_revealed
from leaderboard.table import board_frame
from submissions.store import Record, Store


class Boards:
    def __init__(self, store: Store | None = None, records: list[Record] | None = None, recheck_s: float = 10.0):
        """Read results from ``store``, or serve a fixed list of ``records`` (benchmarks, previews)."""
        if (store is None) == (records is None):
            raise ValueError("give either a store or a list of records")
        self.store = store
        self._fixed = records
        self._lock = threading.Lock()
        self.recheck_s = recheck_s
        self._version: str | None = None
        self._checked_at = -float("inf")
        self._frames: dict[str, pd.DataFrame] = {}
        self._revealed: dict[str, Revealed] = {}

    @property
    def challenges(self) -> dict[str, Challenge]:
        return challenges()

    def frame(self, challenge_id: str, refresh: bool = False) -> pd.DataFrame:
        return self.view(challenge_id, refresh)[0]

    def revealed(self, challenge_id: str, refresh: bool = False) -> Revealed | None:
        """The challenge's revealed hidden-test scores (None before a reveal)."""
        return self.view(challenge_id, refresh)[1]

    def view(self, challenge_id: str, refresh: bool = False) -> tuple[pd.DataFrame, Revealed | None]:
        """The challenge's ranked frame and the revealed hidden-test scores it was built with."""
        with self._lock:
            if refresh or time.monotonic() - self._checked_at >= self.recheck_s:
                self._rebuild_if_changed()
            return self._frames[challenge_id], self._revealed.get(challenge_id)

    def _rebuild_if_changed(self) -> None:
        version = "fixed" if self.store is None else self._store_version()
        self._checked_at = time.monotonic()
        if version != self._version:
            records = self._fixed if self.store is None else self.store.all("results")
            self._revealed = {} if self.store is None else read_revealed(self.store)
            self._frames = {cid: board_frame(c, records, self._revealed.get(cid))
                            for cid, c in self.challenges.items()}
            self._version = version

    def _store_version(self) -> str:
        reveals = self.store.version(REVEALS) if self.store.serves(REVEALS) else ""
        return f"{self.store.version('results')}/{reveals}"

    def notice(self) -> str | None:
        """A note for visitors when the results shown may be out of date (the store could not be reached)."""
        return None if self.store is None else self.store.stale_note("results")

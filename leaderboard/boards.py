"""The boards' data: result records from the store, one ranked frame per challenge, rebuilt only when the
results collection or the revealed hidden-test scores change.

Reads never wait on the store once there is something to show (stale-while-revalidate): a read serves the
frames built last, and when they are older than ``recheck_s`` seconds it starts one refresh in the background
(the store's version token, and the records if it changed; on the Hub these are HTTP calls). Only the first
read, with nothing built yet, waits for the store. A visitor's Refresh waits for the new frames at most
``refresh_wait_s`` seconds, then is served what there is."""

from __future__ import annotations

import logging
import threading
import time

import pandas as pd

from challenges.definitions import Challenge, challenges
from leaderboard.hidden_test import REVEALS, Revealed, read_revealed
from leaderboard.table import board_frame
from store.base import Record, Store

log = logging.getLogger(__name__)


class Boards:
    def __init__(self, store: Store | None = None, records: list[Record] | None = None, recheck_s: float = 10.0,
                 refresh_wait_s: float = 2.0):
        """Read results from ``store``, or serve a fixed list of ``records`` (benchmarks, previews)."""
        if (store is None) == (records is None):
            raise ValueError("give either a store or a list of records")
        self.store = store
        self._fixed = records
        self.recheck_s, self.refresh_wait_s = recheck_s, refresh_wait_s
        self._lock = threading.Lock()  # guards the fields below; never held while the store is asked
        self._first_read = threading.Lock()  # the one read that may block: nothing is built yet
        self._version: str | None = None
        self._checked_at = -float("inf")
        self._frames: dict[str, pd.DataFrame] = {}
        self._revealed: dict[str, Revealed] = {}
        self._refreshing: threading.Event | None = None  # set when the refresh under way ends

    @property
    def challenges(self) -> dict[str, Challenge]:
        return challenges()

    def frame(self, challenge_id: str, refresh: bool = False) -> pd.DataFrame:
        return self.view(challenge_id, refresh)[0]

    def revealed(self, challenge_id: str, refresh: bool = False) -> Revealed | None:
        """The challenge's revealed hidden-test scores (None before a reveal)."""
        return self.view(challenge_id, refresh)[1]

    def view(self, challenge_id: str, refresh: bool = False) -> tuple[pd.DataFrame, Revealed | None]:
        """The ranked frame of ``challenge_id`` as last built and the revealed hidden-test scores it was built
        with; ``refresh``: a visitor asked for new data."""
        with self._lock:
            built = bool(self._frames)
            due = self.store is not None and (refresh or time.monotonic() - self._checked_at >= self.recheck_s)
            refreshing = self._refreshing
            if built and due and refreshing is None:
                refreshing = self._refreshing = threading.Event()
                threading.Thread(target=self._refresh_in_background, args=(refreshing,), name="boards-refresh",
                                 daemon=True).start()
        if not built:
            with self._first_read:
                if not self._frames:
                    self._read()
        elif refresh and refreshing is not None:
            refreshing.wait(self.refresh_wait_s)
        with self._lock:
            return self._frames[challenge_id], self._revealed.get(challenge_id)

    def notice(self) -> str | None:
        """A note for visitors when the results shown may be out of date (the store could not be reached)."""
        return None if self.store is None else self.store.stale_note("results")

    def _read(self) -> None:
        """Ask the store (the slow part) and rebuild the frames if the results changed."""
        version = "fixed" if self.store is None else self._store_version()
        if version != self._version:
            records = self._fixed if self.store is None else self.store.all("results")
            revealed = {} if self.store is None else read_revealed(self.store)
            frames = {cid: board_frame(c, records, revealed.get(cid)) for cid, c in self.challenges.items()}
            with self._lock:
                self._frames, self._revealed, self._version = frames, revealed, version
        with self._lock:
            self._checked_at = time.monotonic()

    def _store_version(self) -> str:
        reveals = self.store.version(REVEALS) if self.store.serves(REVEALS) else ""
        return f"{self.store.version('results')}/{reveals}"

    def _refresh_in_background(self, done: threading.Event) -> None:
        try:
            self._read()
        except Exception:  # visitors keep the frames they have; the log says why
            log.exception("refreshing the boards failed; serving the results read before")
            with self._lock:
                self._checked_at = time.monotonic()  # asked again after recheck_s, not on every read
        finally:
            with self._lock:
                self._refreshing = None
            done.set()

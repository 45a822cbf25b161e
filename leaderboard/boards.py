"""The boards' data: one ranked frame per challenge, from the aggregated boards (:mod:`store.aggregates`, one
record per challenge, built by :mod:`leaderboard.aggregate`) plus an overlay of the results finished since
they were built, so that a finished evaluation shows at once, without waiting for the job.

A refresh asks the boards collection's version (and re-reads the aggregates, one file per challenge, only when
it changed; every ``HUB_EVERY_RECHECKS``-th refresh, as the revealed scores), the latest active requests (a
cheap indexed query: the FINISHED ones name their ``result_id``) and fetches each result not in an aggregate
once (results are written once, so a fetched one is kept; at most ``overlay_fetch``
per refresh). A challenge's frame is rebuilt only when its aggregate, its overlay or its revealed hidden-test
scores changed. Nothing lists the results collection.

Reads never wait on the store once there is something to show (stale-while-revalidate): a read serves the
frames built last, and when they are older than ``recheck_s`` seconds it starts one refresh in the background.
Only the first read, with nothing built yet, waits for the store. A visitor's Refresh waits for the new frames
at most ``refresh_wait_s`` seconds, then is served what there is."""

from __future__ import annotations

import logging
import threading
import time

import pandas as pd

from challenges.definitions import Challenge, challenges
from leaderboard.hidden_test import REVEALS, Revealed, read_revealed
from leaderboard.table import board_frame
from store.aggregates import BOARDS, finished_results, read_aggregates
from store.base import Record, Store

OVERLAY_FETCH = 200  # results fetched per refresh for the overlay; the job folds the rest into the aggregates
# The requests a refresh looks at for results finished since the aggregates were built: the latest active (a
# request's last beat is its finish), far more than finish between two runs of the boards job, and a few indexed
# rows instead of every request ever made.
OVERLAY_WINDOW = 2000
# The aggregates change once per run of the boards job (BOARDS_REFRESH_S, 300 s) and reveals rarely, so the Hub is
# asked for their versions every HUB_EVERY_RECHECKS-th refresh only (every 60 s by default), while the overlay
# (the queue database) is read at every one: 10 replicas asking the Hub every 10 s would spend 60 % of the
# token's 1,000 API calls per 5 minutes on version checks alone.
HUB_EVERY_RECHECKS = 6
log = logging.getLogger(__name__)


class Boards:
    def __init__(self, store: Store | None = None, records: list[Record] | None = None, recheck_s: float = 10.0,
                 refresh_wait_s: float = 2.0, overlay_fetch: int = OVERLAY_FETCH):
        """Read the aggregated boards of ``store``, or serve a fixed list of ``records`` (benchmarks, previews)."""
        if (store is None) == (records is None):
            raise ValueError("give either a store or a list of records")
        self.store = store
        self._fixed = records
        self.recheck_s, self.refresh_wait_s, self.overlay_fetch = recheck_s, refresh_wait_s, overlay_fetch
        self._lock = threading.Lock()  # guards the fields below; never held while the store is asked
        self._first_read = threading.Lock()  # the one read that may block: nothing is built yet
        self._checked_at = -float("inf")
        self._hub_checked_at = -float("inf")  # when the refresh last asked the Hub (the aggregates, the reveals)
        self._hub_asked = False  # recheck_hub() was called: the next refresh asks the Hub whenever it last did
        self._frames: dict[str, pd.DataFrame] = {}
        self._revealed: dict[str, Revealed] = {}
        self._refreshing: threading.Event | None = None  # set when the refresh under way ends
        # only the refresh (one at a time) touches these:
        self._aggregates: dict[str, Record | None] = {}
        self._results: dict[str, Record] = {}  # overlay results fetched (written once: never fetched again)
        self._reveals_version: str | None = None
        self._revealed_read: dict[str, Revealed] = {}
        self._built_from: dict[str, tuple] = {}  # challenge -> what its frame was built from
        self._records: dict[str, Record] = {}  # result id -> record, of every row read

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

    def recheck_hub(self) -> None:
        """Make the next refresh ask the Hub (this replica just wrote there, e.g. an organiser's reveal)."""
        with self._lock:
            self._hub_asked = True

    def record(self, result_id: str) -> Record | None:
        """A result as the boards last read it (an aggregated row or a finished result); no store call."""
        with self._lock:
            return self._records.get(result_id)

    def records_of(self, challenge_id: str) -> list[Record]:
        """The challenge's result records as the boards last read them (aggregated rows and results finished
        since); reads the store only when nothing was read yet."""
        self.view(challenge_id)
        with self._lock:
            return [record for record in self._records.values() if record.get("challenge") == challenge_id]

    def rechecks_of(self, published_id: str) -> list[Record]:
        """The re-checks of a published row among the records the boards last read."""
        with self._lock:
            return [record for record in self._records.values() if record.get("rechecks") == published_id]

    def notice(self) -> str | None:
        """A note for visitors when the results shown may be out of date (the store could not be reached)."""
        if self.store is None:
            return None
        return self.store.stale_note(BOARDS) if self.store.serves(BOARDS) else self.store.stale_note("requests")

    def _read(self) -> None:
        """Ask the store (the slow part) and rebuild the frames whose inputs changed."""
        if self.store is None:
            frames = {cid: board_frame(c, self._fixed) for cid, c in self.challenges.items()}
            with self._lock:
                self._frames, self._checked_at = frames, time.monotonic()
            return
        with self._lock:
            hub_due = self._hub_asked or time.monotonic() - self._hub_checked_at >= self.recheck_s * HUB_EVERY_RECHECKS
            self._hub_asked = False  # a recheck_hub() from now on is for the next refresh
        if hub_due:
            try:
                found = read_aggregates(self.store)
                self._aggregates = {cid: found.get(cid) for cid in self.challenges}
                self._revealed_read = self._read_revealed()
            except BaseException:
                self.recheck_hub()  # asked again at the next refresh
                raise
            self._hub_checked_at = time.monotonic()
        rows = {cid: list((found or {}).get("rows", ())) for cid, found in self._aggregates.items()}
        overlay = self._overlay({row["id"] for found in rows.values() for row in found})
        revealed = self._revealed_read
        frames = {}
        for cid, challenge in self.challenges.items():
            own = [record for record in overlay if record.get("challenge") == cid]
            inputs = ((self._aggregates.get(cid) or {}).get("built_at"), tuple(r["id"] for r in own),
                      self._reveals_version)
            if self._built_from.get(cid) != inputs or cid not in self._frames:
                frames[cid] = board_frame(challenge, [*rows.get(cid, ()), *own], revealed.get(cid))
                self._built_from[cid] = inputs
        records = {record["id"]: record for found in rows.values() for record in found}
        records.update({record["id"]: record for record in overlay})
        with self._lock:
            self._frames = {**self._frames, **frames}
            self._revealed, self._records, self._checked_at = revealed, records, time.monotonic()

    def _overlay(self, aggregated: set[str]) -> list[Record]:
        """The results finished that no aggregate holds yet, each fetched once."""
        recent = self.store.newest("requests", "heartbeat_at", OVERLAY_WINDOW)  # a FINISHED one beat last then
        waiting = sorted(set(finished_results(recent)) - aggregated)
        for result_id in [rid for rid in waiting if rid not in self._results][: self.overlay_fetch]:
            record = self.store.get("results", result_id)
            if record is not None:  # else asked again at the next refresh
                self._results[result_id] = record
        self._results = {rid: record for rid, record in self._results.items() if rid not in aggregated}
        return [self._results[rid] for rid in waiting if rid in self._results]

    def _read_revealed(self) -> dict[str, Revealed]:
        if not self.store.serves(REVEALS):
            return {}
        version = self.store.version(REVEALS)
        if version != self._reveals_version:
            self._reveals_version, self._revealed_read = version, read_revealed(self.store)
        return self._revealed_read

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

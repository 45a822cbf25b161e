"""Keeps a claim alive while its request is evaluated, and stops the evaluation as soon as the claim is lost.

A claim is lost when another worker re-queued the request as stale and claimed it again (this worker looked
dead: a long pause, a network split). From then on this worker must write nothing: the request, its details
and its result belong to the newer attempt. :class:`ClaimWatch` beats from a background thread every
``interval`` seconds and synchronously at each progress report (between datasets); a beat that finds the
claim gone sets ``lost``, and :meth:`ClaimWatch.check` raises :class:`ClaimLost`. The worker calls ``check``
from a forward pre-hook on the model (so a running dataset stops at its next batch) and :meth:`confirm`
right before its final writes.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime

from evaluator import queue
from store.base import Store

log = logging.getLogger(__name__)


class ClaimLost(Exception):
    """This worker no longer holds the request: a newer attempt owns it."""


class ClaimWatch:
    def __init__(self, store: Store, claim: queue.Claim, clock: Callable[[], datetime], interval: float):
        self.store, self.claim, self.clock, self.interval = store, claim, clock, interval
        self.lost = threading.Event()
        self._halt = threading.Event()
        self._beat_lock = threading.Lock()
        self._reported: dict | None = None
        self._thread = threading.Thread(target=self._run, daemon=True, name=f"heartbeat-{claim.request_id}")

    def __enter__(self) -> "ClaimWatch":
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._halt.set()
        self._thread.join(10)

    def check(self) -> None:
        if self.lost.is_set():
            raise ClaimLost(f"{self.claim.request_id}: attempt {self.claim.attempt} lost its claim")

    def report(self, progress: dict) -> None:
        """Publish progress (one beat), unless the claim is lost: then stop the evaluation. The final report
        (all done) makes no beat of its own: the confirming beat before the writes follows at once."""
        self.check()
        if progress != self._reported and progress.get("done") != progress.get("total"):  # the end: confirm() beats
            self._reported = progress
            self._beat(progress)
        self.check()

    def confirm(self) -> None:
        """Beat once and raise :class:`ClaimLost` unless the claim is still ours. A store that cannot be
        reached raises :class:`StoreError`: nothing may be written on a claim that was not confirmed."""
        self.check()
        with self._beat_lock:
            if not queue.heartbeat(self.store, self.claim, self.clock()):
                self.lost.set()
        self.check()

    def stop_beating(self) -> None:
        """No beat from here on: the worker is about to end the claim (FINISHED), after which a beat would find
        the request no longer RUNNING and report a claim lost that was in fact completed. A beat under way ends
        first."""
        with self._beat_lock:
            self._halt.set()

    def _beat(self, progress: dict | None = None) -> None:
        try:
            with self._beat_lock:
                if self._halt.is_set():  # the claim is being ended (stop_beating) or the watch closed
                    return
                if not queue.heartbeat(self.store, self.claim, self.clock(), progress):
                    self.lost.set()
                    log.warning("%s: claim lost (attempt %d); stopping", self.claim.request_id, self.claim.attempt)
        except Exception:  # noqa: BLE001 - a missed beat (store unreachable) is retried at the next one
            log.exception("heartbeat for %s failed", self.claim.request_id)

    def _run(self) -> None:
        while not self._halt.wait(self.interval) and not self.lost.is_set():
            self._beat()

"""The Hub side of ``bench/scale.py``: the local Hub in a process of its own, on a clock both processes share,
counting what its callers *asked* for as well as what it let through.

The Hub runs in a child process (forked before the bench starts any thread) so that its work (a tree listing of 100k files is ~0.4 s of Python per page)
does not take the interpreter lock from the app replicas whose latencies the bench measures: on the real Hub
that work happens on other machines.

Time is compressed: :class:`SharedClock` runs at ``speed`` virtual seconds per wall second, and a phase can
re-anchor it (the replica start runs in real time, the busy hour fast). The Hub's own waits are virtual
seconds; a client sleeps them in wall seconds (huggingface_hub sleeps a 429's ``RateLimit`` reset, the store
honours ``Retry-After``), so :class:`MeasuredLimits` advertises them divided by the clock's speed.
"""

from __future__ import annotations

import math
import multiprocessing
import threading
import time
from collections import defaultdict
from collections.abc import Callable

from localhub.limits import HUB_LIMITS, LimitNumbers, Limits, caller_of
from localhub.repos import HubError
from localhub.server import HubServer


class SharedClock:
    """Virtual seconds shared between processes: ``anchor_virtual + speed * (monotonic() - anchor_wall)``
    (``time.monotonic`` is one clock for every process of the machine)."""

    def __init__(self, cells=None):
        self.cells = cells if cells is not None else multiprocessing.get_context("fork").Array("d", 3)
        if cells is None:
            self.set(0.0, 0.0)

    @property
    def speed(self) -> float:
        return self.cells.get_obj()[2]

    def __call__(self) -> float:
        """Read without the lock (every thread of every actor process asks, often; only a phase change
        writes): two equal reads in a row are a consistent one."""
        raw = self.cells.get_obj()
        while True:
            first = raw[:]
            if raw[:] == first:
                anchor_wall, anchor_virtual, speed = first
                return anchor_virtual + speed * (time.monotonic() - anchor_wall)

    def set(self, virtual_s: float, speed: float) -> None:
        """Jump to ``virtual_s`` (never backwards: the Hub's windows only move on) and run at ``speed``."""
        with self.cells.get_lock():
            anchor_wall, anchor_virtual, old_speed = self.cells[:]
            now = anchor_virtual + old_speed * (time.monotonic() - anchor_wall)
            self.cells[:] = [time.monotonic(), max(now, virtual_s), speed]

    def advance(self, seconds: float) -> None:
        self.set(self() + seconds, self.speed)

    def wall_s(self, virtual_s: float) -> float:
        """How long ``virtual_s`` virtual seconds take on the wall clock now (no time at all when it stands)."""
        speed = self.speed
        return virtual_s / speed if speed > 0 else 0.0


class MeasuredLimits(Limits):
    """:class:`Limits` that also counts every call and commit *asked for* (refused ones and retries included),
    by virtual time, so a phase's demand can be set against the Hub's quotas, and that advertises its waits in
    wall seconds (see the module docstring)."""

    def __init__(self, numbers: LimitNumbers, clock: SharedClock):
        super().__init__(numbers, clock)
        self._asked_lock = threading.Lock()
        self.asked: dict[tuple[str, str, int], int] = defaultdict(int)  # (bucket, caller, window) -> calls
        self.admitted: dict[tuple[str, str, int], int] = defaultdict(int)
        self.refused_at: dict[str, list[float]] = defaultdict(list)  # bucket or "commits" -> virtual times
        self.commit_asked: dict[str, list[float]] = defaultdict(list)  # repo -> virtual times
        self.commit_landed: dict[str, list[float]] = defaultdict(list)

    def admit(self, bucket: str, token: str | None, address: str) -> dict[str, str]:
        now = self.clock()
        key = (bucket, caller_of(token, address), int(now // self.numbers.window_s))
        with self._asked_lock:
            self.asked[key] += 1
        try:
            headers = super().admit(bucket, token, address)
        except HubError as refused:
            with self._asked_lock:
                self.refused_at[bucket].append(now)
            raise self._in_wall_seconds(refused) from None
        with self._asked_lock:
            self.admitted[key] += 1
        return headers

    def check_commit(self, repo: str) -> None:
        now = self.clock()
        with self._asked_lock:
            self.commit_asked[repo].append(now)
        try:
            super().check_commit(repo)
        except HubError as refused:
            with self._asked_lock:
                self.refused_at["commits"].append(now)
            raise self._in_wall_seconds(refused) from None

    def note_commit(self, repo: str) -> None:
        super().note_commit(repo)
        with self._asked_lock:
            self.commit_landed[repo].append(self.clock())

    def _in_wall_seconds(self, error: HubError) -> HubError:
        speed = self.clock.speed
        if speed <= 1:
            return error
        headers = dict(error.headers)
        if "Retry-After" in headers:
            headers["Retry-After"] = str(max(1, math.ceil(float(headers["Retry-After"]) / speed)))
        if "RateLimit" in headers:
            name, left, reset = headers["RateLimit"].split(";")
            headers["RateLimit"] = f"{name};{left};t={max(1, math.ceil(int(reset[2:]) / speed))}"
        return HubError(error.status, error.message, error.code, headers)

    def phase(self, start_s: float, end_s: float) -> dict:
        """What was asked, admitted and refused between two virtual times: per repo its commits (the phase
        lasts at most an hour, so these are commits per repo per hour), per bucket the busiest token's busiest
        5-minute window (anonymous calls, the bench's own baseline, are left out)."""
        def within(times: list[float]) -> int:
            return sum(start_s <= t < end_s for t in times)

        first, last = int(start_s // self.numbers.window_s), math.ceil(end_s / self.numbers.window_s)
        with self._asked_lock:
            commits = {repo: {"asked": within(self.commit_asked[repo]), "landed": within(self.commit_landed[repo])}
                       for repo in sorted(set(self.commit_asked) | set(self.commit_landed))}
            buckets = {}
            for bucket in ("api", "resolvers"):
                windows = [(n, key) for key, n in self.asked.items()
                           if key[0] == bucket and key[1].startswith("token:") and first <= key[2] < last]
                peak, key = max(windows, default=(0, None))
                buckets[bucket] = {"asked_peak": peak, "admitted_in_that_window": self.admitted.get(key, 0),
                                   "caller": key[1] if key else None, "asked_total": sum(n for n, _ in windows)}
            refused = {what: within(times) for what, times in self.refused_at.items()}
        return {"commits": commits, **buckets, "refused_429": refused}


def _serve(conn, cells, seed: Callable[[HubServer], None]) -> None:
    """The child process: a local Hub enforcing the Hub's limits, seeded by ``seed`` (set-up pushes, not
    counted), answering the parent's commands until it says ``stop``."""
    limits = MeasuredLimits(HUB_LIMITS, SharedClock(cells))
    with HubServer(limits=limits) as server:
        # a listen backlog of 5 (http.server's default) resets connections when hundreds of clients arrive at
        # once, which the Hub's front end does not do
        server._httpd.socket.listen(1024)
        seed(server)
        conn.send({"url": server.url, "token": server.token})
        while True:
            command, args = conn.recv()
            if command == "stop":
                conn.send(None)
                return
            if command == "phase":
                conn.send(limits.phase(*args))
            if command == "cpu_s":
                conn.send(time.process_time())


class HubProcess:
    """The local Hub in a child process (see the module docstring); ``url``, ``token``, ``clock``."""

    def __init__(self, seed: Callable[[HubServer], None], start_timeout_s: float):
        """``seed`` runs in the child on the started server (forked: its data is shared, not pickled)."""
        if threading.active_count() > 1:
            raise RuntimeError("start the local Hub before any thread: it runs in a forked process")
        context = multiprocessing.get_context("fork")  # the seed is shared, not pickled; nothing is imported again
        self.clock = SharedClock()
        self._conn, child = context.Pipe()
        self._process = context.Process(target=_serve, args=(child, self.clock.cells, seed), daemon=True,
                                        name="local-hub")
        self._process.start()
        if not self._conn.poll(start_timeout_s):
            self._process.kill()
            raise TimeoutError(f"the local Hub did not start within {start_timeout_s:g} s")
        ready = self._conn.recv()
        self.url, self.token = ready["url"], ready["token"]
        self._lock = threading.Lock()

    def ask(self, command: str, *args: object) -> object:
        with self._lock:
            self._conn.send((command, args))
            return self._conn.recv()

    def phase(self, start_s: float, end_s: float) -> dict:
        return self.ask("phase", start_s, end_s)

    def cpu_s(self) -> float:
        """CPU seconds the Hub's process has used so far."""
        return self.ask("cpu_s")

    def stop(self) -> None:
        try:
            self.ask("stop")
        except (OSError, EOFError):
            pass
        self._process.join(10)
        if self._process.is_alive():
            self._process.kill()


__all__ = ["HUB_LIMITS", "HubProcess", "MeasuredLimits", "SharedClock"]

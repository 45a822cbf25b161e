"""The actors of ``bench/scale.py``, each driving the deployment only through its public entry points:

- :class:`Replica`: an app replica's store (``store.factory.open_store``), the start-up steps of
  ``app.build_app`` that touch it (``refresh_boards``, then ``Boards`` and the first board read), and the jobs
  ``app.main`` starts beside it (the publisher of the queue's and votes' events, the boards job);
- :class:`SimulatedWorker`: the real ``evaluator.worker.Worker`` (claim, heartbeats with progress through its
  ``ClaimWatch``, details, write-once result, FINISHED) with only the evaluation faked: a virtual duration and
  a result shaped like a real one;
- :func:`submit`, :func:`vote`, :func:`poll_queue`, :func:`read_board`: a submission as
  ``submissions.service`` queues it, a vote through ``arena.votes.record_vote``, the Queue tab's poll
  (``queue_page``, what the tab's timer calls) and a board read.

Time is the Hub's virtual clock (:class:`bench.scale_hub.SharedClock`); :class:`Run` turns it into datetimes
and waits.
"""

from __future__ import annotations

import hashlib
import random
import statistics
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta

from arena.ratings import OUTCOMES
from arena.votes import VoteRefused, VoteRules, make_vote, record_vote, voter_id
from bench.scale_hub import SharedClock
from challenges.definitions import Challenge
from evaluator.claim_watch import ClaimLost
from evaluator.worker import Worker, WorkerConfig, result_id_for
from leaderboard.aggregate import refresh_boards, start_boards_refresh
from leaderboard.boards import Boards
from store.base import Record, Store, StoreError
from store.factory import open_store
from store.publish_log import start_publishing
from store.states import FINISHED
from submissions.queue_view import queue_page
from submissions.rules import SubmissionForm
from submissions.service import new_request, queue_request

START = datetime(2026, 3, 10, tzinfo=UTC)  # virtual second 0


class Run:
    """The shared clock, the stop signal, and waiting in virtual time."""

    def __init__(self, clock: SharedClock):
        self.clock = clock
        self.stop = threading.Event()

    def now(self) -> datetime:
        return START + timedelta(seconds=self.clock())

    def sleep_until(self, virtual_s: float) -> bool:
        """Wait for virtual second ``virtual_s``; False when the run stopped first."""
        while not self.stop.is_set():
            left = virtual_s - self.clock()
            if left <= 0:
                return True
            self.stop.wait(min(0.2, max(0.005, self.clock.wall_s(left))))
        return False


class Timings:
    """Wall-clock durations of calls, thread-safe; calls still under way count with their time so far."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.done: list[float] = []
        self.flags: Counter = Counter()
        self._open: dict[int, float] = {}
        self._next = 0
        self._absorbed_open: list[float] = []  # calls under way in another process when it reported

    def start(self) -> int:
        with self._lock:
            self._next += 1
            self._open[self._next] = time.monotonic()
            return self._next

    def end(self, token: int, flag: str | None = None) -> float:
        with self._lock:
            elapsed = time.monotonic() - self._open.pop(token)
            self.done.append(elapsed)
            if flag:
                self.flags[flag] += 1
            return elapsed

    def export(self) -> dict:
        """Plain data for another process: the durations, the calls still under way (their time so far), flags."""
        with self._lock:
            now = time.monotonic()
            return {"done": list(self.done), "open": [now - started for started in self._open.values()]
                    + self._absorbed_open, "flags": dict(self.flags)}

    def absorb(self, exported: dict) -> None:
        """Add another process's :meth:`export`."""
        with self._lock:
            self.done += exported["done"]
            self._absorbed_open += exported["open"]
            self.flags.update(exported["flags"])

    def summary(self) -> dict:
        """count, p50 / p95 / max in ms (``lower_bound``: some calls had not returned, and count as their time
        so far), the flags counted."""
        with self._lock:
            now = time.monotonic()
            unfinished = [now - started for started in self._open.values()] + self._absorbed_open
            values = sorted(self.done + unfinished)
            flags = dict(self.flags)
        if not values:
            return {"count": 0, "p50_ms": None, "p95_ms": None, "max_ms": None, "unfinished": 0, **flags}

        def ms(q: float) -> float:
            return round(1000 * values[min(len(values) - 1, int(q * len(values)))], 2)

        return {"count": len(values), "p50_ms": round(1000 * statistics.median(values), 2), "p95_ms": ms(0.95),
                "max_ms": round(1000 * values[-1], 2), "unfinished": len(unfinished), **flags}


class Replica:
    """One app replica: its own store (own Hub cache folder) and its own ``Boards``."""

    def __init__(self, environ: Mapping[str, str]):
        self.environ = dict(environ)
        self.store: Store | None = None
        self.boards: Boards | None = None
        self.first_board_s: float | None = None  # start -> the first board served, whatever it held
        self.first_rows: int | None = None
        self.complete_s: float | None = None  # start -> every board holds every seeded row
        self._pace_lock = threading.Lock()
        self._speed = 1.0
        self._recheck_s: float | None = None  # the app's wall-clock recheck of the boards

    def pace(self, speed: float) -> None:
        """Run the boards' recheck in virtual time: ``speed`` times as often as the app does."""
        with self._pace_lock:
            self._speed = speed
            if self.boards is not None:
                self.boards.recheck_s = self._recheck_s / speed

    def start_figures(self) -> dict:
        """What :meth:`start` measured so far, as plain data (None: not reached)."""
        return {"first_board_s": self.first_board_s, "first_rows": self.first_rows, "complete_s": self.complete_s}

    def start(self, expected: Mapping[str, int], run: Run, cap_s: float) -> None:
        """As ``app.build_app`` starts: the store, the boards job once (a Hub error is logged and the start goes
        on), the boards and a first read; then reads again until every board holds its seeded rows."""
        started = time.monotonic()
        self.store = open_store(self.environ)
        try:
            refresh_boards(self.store)
        except StoreError:
            pass
        boards = Boards(self.store)
        with self._pace_lock:
            self.boards, self._recheck_s = boards, boards.recheck_s
        self.pace(self._speed)
        first = next(iter(expected))
        self.first_rows = len(boards.frame(first))
        self.first_board_s = time.monotonic() - started
        while time.monotonic() - started < cap_s and not run.stop.is_set():
            if all(len(self.boards.frame(cid)) >= rows for cid, rows in expected.items()):
                self.complete_s = time.monotonic() - started
                return
            run.stop.wait(0.5)


class BackgroundJobs:
    """The scheduled jobs a replica (``app.main``) or a worker (``python -m evaluator``) runs beside its store,
    on the timers of ``environ`` (the bench passes them divided by its speed)."""

    def __init__(self) -> None:
        self._schedulers: list = []
        self._lock = threading.Lock()

    def start(self, store: Store, environ: Mapping[str, str], *, boards: bool) -> None:
        """The publisher of the SQL store's events (every ``PUBLISH_EVERY_S``) and, for a replica (``boards``),
        the boards job (every ``BOARDS_REFRESH_S``)."""
        started = [start_publishing(store, environ), start_boards_refresh(store, environ) if boards else None]
        with self._lock:
            self._schedulers += [scheduler for scheduler in started if scheduler is not None]

    def count(self) -> int:
        with self._lock:
            return len(self._schedulers)

    def stop(self) -> None:
        with self._lock:
            schedulers, self._schedulers = self._schedulers, []
        for scheduler in schedulers:
            scheduler.shutdown(wait=False)


class Evaluations:
    """Which requests the simulated workers started and finished evaluating (the bench's own log, beside the
    store's account)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.started: Counter = Counter()
        self.completed: Counter = Counter()

    def note(self, counter: Counter, request_id: str) -> None:
        with self._lock:
            counter[request_id] += 1

    def export(self) -> dict:
        with self._lock:
            return {"started": dict(self.started), "completed": dict(self.completed)}

    def absorb(self, exported: dict) -> None:
        """Add another process's :meth:`export`."""
        with self._lock:
            self.started.update(exported["started"])
            self.completed.update(exported["completed"])


class SimulatedWorker(Worker):
    """A GPU worker whose evaluation takes ``eval_s`` virtual seconds (±20 %) and scores nothing real."""

    def __init__(self, store: Store, config: WorkerConfig, run: Run, eval_s: float, log: Evaluations, seed: int):
        super().__init__(store, config=config, clock=run.now)
        self.run, self.eval_s, self.log = run, eval_s, log
        self.rng = random.Random(seed)

    def evaluate(self, request: Record, report_progress: Callable[[dict], None],
                 check: Callable[[], None] = lambda: None) -> tuple[Record, Record, None]:
        challenge = self.definitions[request["challenge"]]
        self.log.note(self.log.started, request["id"])
        columns, began = challenge.columns, self.run.clock()
        duration = self.eval_s * self.rng.uniform(0.8, 1.2)
        for done, column in enumerate(columns):
            report_progress({"done": done, "total": len(columns), "column": column.label})
            end = began + duration * (done + 1) / len(columns)
            while self.run.clock() < end:
                check()  # as the worker's forward hook does: a lost claim stops the evaluation
                if not self.run.sleep_until(min(end, self.run.clock() + 30)):
                    raise ClaimLost(f"{request['id']}: the bench stopped mid-evaluation")
        report_progress({"done": len(columns), "total": len(columns), "column": None})
        result = fake_result(challenge, request, self.rng, self.clock(), self.config.worker_id, duration)
        details = {"id": result["id"], "request_id": request["id"],
                   "samples": {c.key: [{"doc_id": n, "target": "A", "response": "A", "correct": True}
                                       for n in range(20)] for c in columns}}
        self.log.note(self.log.completed, request["id"])
        return result, details, None


def fake_result(challenge: Challenge, request: Record, rng: random.Random, now: datetime, worker: str,
                duration_s: float) -> Record:
    """A result record with the fields ``Worker.evaluate`` writes, random scores."""
    scores = {c.key: round(rng.uniform(10, 80), 2) for c in challenge.columns}
    return {
        "id": result_id_for(request["id"]), "request_id": request["id"], "challenge": challenge.id,
        "source": "evaluated", "team": request.get("team"), "name": request["repo_id"],
        "model_repo": request["repo_id"], "model_commit": request.get("commit"),
        "base_model": request.get("base_model"), "base_commit": request.get("base_commit"),
        "code_url": request.get("code_url"), "comm_gb": request.get("comm_gb"), "scores": scores,
        "average": round(sum(scores.values()) / len(scores), 2), "date": now.date().isoformat(),
        "provenance": {"worker": worker, "duration_s": round(duration_s, 1), "device": "simulated",
                       "precision_official": True, "sample_counts": {c.key: 20 for c in challenge.columns}},
    }


def work(worker: SimulatedWorker, run: Run, poll_s: float) -> None:
    """The worker's scheduler: ``run_once`` again at once after an evaluation, after ``poll_s`` otherwise."""
    while not run.stop.is_set():
        if worker.run_once() is None:
            run.sleep_until(run.clock() + poll_s)


def _sha(*parts: object) -> str:
    return hashlib.sha1(repr(parts).encode()).hexdigest()


def submit(store: Store, challenge: Challenge, n: int, now: datetime) -> tuple[str, str]:
    """Submission ``n`` (its own team, adapter and commit) queued as ``submissions.service.submit`` queues a
    checked one (the Hub look-ups of the adapter are not simulated); returns (status, request id)."""
    team = f"scale-team-{n:05d}"
    form = SubmissionForm(challenge.id, f"{team}/adapter", team=team, code_url="https://github.com/scale/fl",
                          comm_gb="1.5", base_model="bench/base-7b", contact_email=f"{team}@example.org")
    facts = {"repo_id": form.repo_id, "commit": _sha("adapter", n), "base_model": form.base_model,
             "base_commit": _sha("base"), "base_params": 7_000_000_000}
    request = new_request(challenge, form, facts, None, now)
    outcome = queue_request(store, challenge, request, form.contact_email, now)
    return outcome.status, request["id"]


def vote(store: Store, board: str, n: int, voters: int, now: datetime) -> str:
    """Vote ``n`` on ``board`` by one of ``voters`` signed-in accounts; stored | duplicate | refused | unsaved."""
    rng = random.Random(n)
    turn = {"user": f"question {n}", "a": f"answer a {n}", "b": f"answer b {n}"}
    record = make_vote(board=board, conversation_id=f"conversation-{n}", a={"entry": f"{board}-entry-{n % 7}"},
                       b={"entry": f"{board}-entry-{n % 7 + 1}"}, conversation=[turn], outcome=rng.choice(OUTCOMES),
                       voter=voter_id(f"account-{n % voters}", None), now=now)
    try:
        return "duplicate" if record_vote(store, record, VoteRules()).duplicate else "stored"
    except VoteRefused:
        return "refused"
    except StoreError:
        return "unsaved"


def poll_queue(store: Store, timings: Timings) -> None:
    token = timings.start()
    page = queue_page(store)
    timings.end(token, "error_note" if "cannot be read" in page else None)


def read_board(boards: Boards, challenge_id: str, expected: int, timings: Timings) -> None:
    token = timings.start()
    rows = len(boards.frame(challenge_id))
    timings.end(token, "complete" if rows >= expected else "incomplete")


class Scheduled:
    """``jobs`` (virtual time, call) run in time order on ``threads`` threads; a job whose threads are all busy
    past its time runs late. :meth:`counts` tells each job's outcome (what the call returned), ``in_flight``
    for jobs still running and ``not_attempted`` for jobs not started when the run stopped."""

    def __init__(self, run: Run, jobs: list[tuple[float, Callable[[], object]]], threads: int, name: str):
        self.run, self._jobs = run, sorted(jobs, key=lambda job: job[0])
        self._lock, self._next, self._running, self._outcomes = threading.Lock(), 0, 0, Counter()
        self.threads = [threading.Thread(target=self._loop, name=f"{name}-{i}", daemon=True) for i in range(threads)]
        for thread in self.threads:
            thread.start()

    def _loop(self) -> None:
        while True:
            with self._lock:
                if self._next >= len(self._jobs):
                    return
                when, job = self._jobs[self._next]
                self._next += 1
                self._running += 1
            outcome = "not_attempted"
            if self.run.sleep_until(when):
                try:
                    outcome = str(job())
                except Exception as error:  # noqa: BLE001 - counted and shown, the run goes on
                    outcome = f"error: {type(error).__name__}"
            with self._lock:
                self._running -= 1
                self._outcomes[outcome] += 1
            if outcome == "not_attempted":
                return

    def counts(self) -> Counter:
        with self._lock:
            counts = Counter(self._outcomes)
            counts["not_attempted"] += len(self._jobs) - self._next
            counts["in_flight"] += self._running
        return +counts  # without the zeros


def account(store: Store, queued: set[str], log: Evaluations, seeded: frozenset[str] = frozenset()) -> dict:
    """Requests lost and evaluated twice, read back from the store: a submission answered "queued" that the
    store does not hold, a request FINISHED without its result; a request claimed more than once (``attempts``
    > 1: a second worker started it again). The ``seeded`` requests (finished before the bench) are left out.
    The bench's own log of evaluations is given beside it."""
    requests = {r["id"]: r for r in store.all("requests") if r["id"] not in seeded}
    stale = store.stale_note("requests")
    if stale:  # an empty or old read would count every request as lost
        raise StoreError(f"the requests could not be read back: {stale}")
    finished = [r for r in requests.values() if r.get("state") == FINISHED]
    without_result = sorted(r["id"] for r in finished
                            if store.get("results", r.get("result_id") or result_id_for(r["id"])) is None)
    missing = sorted(queued - set(requests))
    twice = sorted(r["id"] for r in requests.values() if (r.get("attempts") or 0) > 1)
    return {
        "requests_in_store": len(requests),
        "states": dict(Counter(str(r.get("state")) for r in requests.values())),
        "lost": len(missing) + len(without_result),
        "lost_queued_but_missing": missing,
        "lost_finished_without_result": without_result,
        "evaluated_twice": len(twice),
        "evaluated_twice_ids": twice,
        "set_aside": [f"{item.path}: {item.reason}" for item in store.quarantined()],
        "bench_log": {"evaluations_started": sum(log.started.values()),
                      "evaluations_completed": sum(log.completed.values()),
                      "started_more_than_once": sum(n > 1 for n in log.started.values()),
                      "completed_more_than_once": sum(n > 1 for n in log.completed.values())},
    }

"""The processes of ``bench/scale.py``, laid out as production runs them: each app replica in a process of its
own (its store, boards and jobs, and its share of the submissions, votes, board reads and Queue tabs), the GPU
workers in a few processes (they mostly sleep).

Every process is forked from the bench while the bench runs no thread (the shared clock's Array, the imported
modules and the :class:`Plan` are inherited: nothing is pickled or imported again), waits on :class:`Control`'s
events, and sends what it measured back through :attr:`Control.reports` as plain data: timings, outcomes,
evaluations, and a tally of the warnings and errors its loggers wrote (:class:`LogTally`).
"""

from __future__ import annotations

import argparse
import gc
import logging
import math
import multiprocessing
import queue
import random
import threading
import time
import traceback
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from bench.scale_actors import (
    BackgroundJobs,
    Evaluations,
    Replica,
    Run,
    Scheduled,
    SimulatedWorker,
    Timings,
    poll_queue,
    read_board,
    submit,
    vote,
    work,
)
from bench.scale_hub import SharedClock
from challenges.definitions import challenges
from evaluator.scheduler import DEFAULT_INTERVAL_S
from evaluator.worker import WorkerConfig
from leaderboard.aggregate import refresh_interval_s
from store.factory import open_store
from store.publish_log import publish_every_s
from submissions.ui import queue_refresh_s

SUBMIT_THREADS = 4  # per replica: the Submit button's concurrency_limit in submissions/ui.py
VOTE_THREADS = 4  # per replica
BOARD_READ_THREADS = 2  # per replica
JOIN_S = 30.0  # how long a process waits for its threads once the hour is over
KINDS = ("submissions", "votes", "board_reads")


@dataclass(frozen=True)
class Plan:
    """What every actor process is given: the scenario, the environment every actor gets (``DATABASE_URL``,
    the datasets, ``HF_ENDPOINT``, ``HF_TOKEN``), the rows each board should show, the folder of Hub caches."""

    args: argparse.Namespace
    environ: Mapping[str, str]
    expected: Mapping[str, int]
    folder: Path


def compressed_timers(environ: Mapping[str, str], speed: float) -> dict[str, str]:
    """The publisher's and the boards job's intervals, as the app reads them, divided by the bench's speed."""
    return {**environ, "PUBLISH_EVERY_S": f"{publish_every_s(environ) / speed:g}",
            "BOARDS_REFRESH_S": f"{refresh_interval_s(environ) / speed:g}"}


class LogTally(logging.Handler):
    """Counts the warnings and errors of a process by logger and level, and keeps the first few messages of
    each."""

    KEEP = 2

    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)
        self.counts: Counter = Counter()
        self.first: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        key = f"{record.name} {record.levelname}"
        self.counts[key] += 1
        if self.counts[key] <= self.KEEP:
            self.first.append(f"{key}: {record.getMessage()[:300]}")

    def export(self) -> dict:
        return {"counts": dict(self.counts), "first": list(self.first)}


class Flag:
    """A flag shared with forked processes, which poll it. (A ``multiprocessing.Event`` is no use here: its
    ``set`` waits for every process that ever waited on it to wake, and hangs once one of them has exited.)"""

    def __init__(self, context) -> None:
        self._value = context.Value("b", 0, lock=False)  # one byte, set once: no lock needed

    def set(self) -> None:
        self._value.value = 1

    def is_set(self) -> bool:
        return bool(self._value.value)

    def wait(self, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while not self.is_set() and time.monotonic() < deadline:
            time.sleep(min(0.1, max(0.0, deadline - time.monotonic())))
        return self.is_set()


class Control:
    """The bench's side of its actor processes: forks them, tells them when the hour begins (``hour``,
    ``hour_start``) and when to stop, and collects their reports."""

    def __init__(self, clock: SharedClock, verbose: bool):
        self._context = multiprocessing.get_context("fork")
        self.clock, self.verbose = clock, verbose
        self.hour, self.stop = Flag(self._context), Flag(self._context)
        self.hour_start = self._context.Value("d", 0.0)
        self.reports = self._context.Queue()
        self.processes: dict[str, multiprocessing.process.BaseProcess] = {}
        self._inbox: dict[tuple[str, str], dict] = {}

    def fork(self, name: str, target: Callable[..., dict], *args: object) -> str:
        """Start ``target(control, run, *args)`` in a forked process; what it returns is its "done" report."""
        if threading.active_count() > 1:
            raise RuntimeError("fork the actor processes before the bench starts any thread")
        gc.freeze()  # the children's collector then leaves the inherited objects alone (no copy-on-write)
        process = self._context.Process(target=_child, args=(self, name, target, args), daemon=True, name=name)
        process.start()
        self.processes[name] = process
        return name

    def send(self, name: str, kind: str, data: dict) -> None:
        """(In a child) report ``data`` as ``kind`` ("started", "ready", "done")."""
        self.reports.put({"name": name, "kind": kind, **data})

    def collect(self, kind: str, names: list[str], deadline: float) -> dict[str, dict]:
        """The ``kind`` report of each of ``names`` that came by the monotonic ``deadline``; a process that
        died without it is reported with an ``error``."""
        got = {name: self._inbox.pop((name, kind)) for name in names if (name, kind) in self._inbox}
        while len(got) < len(names) and time.monotonic() < deadline:
            try:
                message = self.reports.get(timeout=max(0.01, min(0.5, deadline - time.monotonic())))
            except queue.Empty:
                for name in set(names) - set(got):
                    if self.processes[name].exitcode is not None and self.reports.empty():
                        got[name] = {"name": name, "kind": kind,
                                     "error": f"the process ended (exit code {self.processes[name].exitcode}) "
                                              f"without its {kind} report"}
                continue
            if message["kind"] == kind and message["name"] in names:
                got[message["name"]] = message
            else:
                self._inbox[(message["name"], message["kind"])] = message
        return got

    def end(self, names: list[str], timeout_s: float) -> None:
        """Wait for ``names`` to exit; kill those that do not."""
        deadline = time.monotonic() + timeout_s
        for name in names:
            process = self.processes[name]
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                process.kill()
                process.join(5)


def _child(control: Control, name: str, target: Callable[..., dict], args: tuple) -> None:
    """A forked actor process: tallies its warnings (shown on stderr only with ``--verbose``), follows the
    bench's stop signal, and sends ``target``'s report, or the error that ended it."""
    tally, root = LogTally(), logging.getLogger()
    if not control.verbose:
        for handler in root.handlers:
            handler.setLevel(logging.CRITICAL)
    root.setLevel(logging.WARNING)
    root.addHandler(tally)
    run = Run(SharedClock(control.clock.cells))

    def follow_stop() -> None:
        while not control.stop.wait(1.0):
            pass
        run.stop.set()

    threading.Thread(target=follow_stop, daemon=True, name="follow-stop").start()
    try:
        report = target(control, run, name, *args)
    except Exception:  # noqa: BLE001 - reported to the bench, which shows it
        report = {"error": traceback.format_exc(limit=8)}
    control.send(name, "done", {**report, "log": tally.export()})
    control.reports.close()
    control.reports.join_thread()


def _wait_for_hour(control: Control, run: Run) -> float | None:
    """The hour's first virtual second once the bench starts it; None when the bench stopped first."""
    while not control.hour.wait(0.2):
        if run.stop.is_set():
            return None
    return control.hour_start.value


def replica_process(control: Control, run: Run, name: str, plan: Plan, index: int | None) -> dict:
    """An app replica: starts as ``app.build_app`` does ("started" report), then, unless ``index`` is None (the
    replica started alone), serves its share of the hour."""
    replica = Replica({**plan.environ, "HUB_CACHE_DIR": str(plan.folder / name)})
    starting = threading.Thread(target=replica.start, args=(plan.expected, run, plan.args.cap_s), daemon=True,
                                name="start")
    starting.start()
    while starting.is_alive() and not control.hour.is_set() and not run.stop.is_set():
        starting.join(0.2)
    control.send(name, "started", {"start": replica.start_figures()})
    if index is None:
        return {"start": replica.start_figures()}
    hour_start = _wait_for_hour(control, run)
    hour = {} if hour_start is None else replica_hour(plan, replica, run, index, hour_start)
    return {**hour, "start": replica.start_figures()}


def replica_hour(plan: Plan, replica: Replica, run: Run, index: int, hour_start: float) -> dict:
    """Replica ``index``'s share of the hour: every ``replicas``-th submission, vote, board read and Queue tab,
    and the publisher and boards jobs beside its store."""
    args = plan.args
    flowertune = [c for c in challenges().values() if c.limits.submission_kind == "adapter"]
    boards, end, step = list(plan.expected), hour_start + args.hour_s, args.replicas
    interval = queue_refresh_s(plan.environ)
    queue_timings, board_timings, queued = Timings(), Timings(), set()
    replica.pace(args.speed)
    cpu_s = time.process_time()
    jobs = BackgroundJobs()
    if replica.store is not None:  # a replica still starting has no store yet, nor jobs
        jobs.start(replica.store, compressed_timers(plan.environ, args.speed), boards=True)

    def submission(n: int) -> Callable[[], str]:
        def job() -> str:
            status, request_id = submit(replica.store, flowertune[n % len(flowertune)], n, run.now())
            if status == "queued":
                queued.add(request_id)
            return status
        return job

    def board_read(n: int) -> Callable[[], str]:
        def job() -> str:
            if replica.boards is None:
                return "replica_not_started"
            board = boards[random.Random(n).randrange(len(boards))]
            read_board(replica.boards, board, plan.expected[board], board_timings)
            return "read"
        return job

    def tab(offset: float) -> None:
        when = hour_start + offset
        while run.sleep_until(when) and run.clock() < end:
            poll_queue(replica.store, queue_timings)
            when += interval
            while when < run.clock():  # a tick while the last poll was still under way is dropped
                when += interval

    votes, reads = int(args.votes_per_min * args.hour_s / 60), int(args.board_reads_per_min * args.hour_s / 60)
    groups = {
        "submissions": Scheduled(run, [(hour_start + n * args.hour_s / args.submissions, submission(n))
                                       for n in range(index, args.submissions, step)], SUBMIT_THREADS, "submit"),
        "votes": Scheduled(run, [(hour_start + n * 60 / args.votes_per_min,
                                  lambda n=n: vote(replica.store, boards[n % len(boards)], n, 1000, run.now()))
                                 for n in range(index, votes, step)], VOTE_THREADS, "vote"),
        "board_reads": Scheduled(run, [(hour_start + n * 60 / args.board_reads_per_min, board_read(n))
                                       for n in range(index, reads, step)], BOARD_READ_THREADS, "boards"),
    }
    tabs = [threading.Thread(target=tab, args=(random.Random(t).uniform(0, interval),), daemon=True,
                             name=f"tab-{t}") for t in range(index, args.tabs, step)]
    for thread in tabs:
        thread.start()
    run.sleep_until(end)
    run.stop.set()
    scheduled_jobs = jobs.count()
    jobs.stop()
    still = _join(tabs + [thread for group in groups.values() for thread in group.threads], JOIN_S)
    # counted once the calls under way have returned (or JOIN_S passed)
    return {"outcomes": {kind: dict(group.counts()) for kind, group in groups.items()},
            "queued": sorted(queued), "queue_poll": queue_timings.export(), "board_read": board_timings.export(),
            "scheduled_jobs": scheduled_jobs, "threads_still_busy": still, "cpu_s": round(time.process_time() - cpu_s, 1)}


def worker_process(control: Control, run: Run, name: str, plan: Plan, indices: list[int]) -> dict:
    """GPU workers ``indices`` (each its own store and Hub cache, opened before the hour: a worker machine is up
    before it begins; "ready" report), each with its publisher job, claiming and evaluating through the hour."""
    args, log = plan.args, Evaluations()
    workers = []
    for index in indices:
        store = open_store({**plan.environ, "HUB_CACHE_DIR": str(plan.folder / f"worker-{index}")})
        config = WorkerConfig(worker_id=f"gpu-{index:02d}", heartbeat_s=WorkerConfig.heartbeat_s / args.speed,
                              write_backoff_s=WorkerConfig.write_backoff_s / args.speed)
        workers.append(SimulatedWorker(store, config, run, args.eval_s, log, seed=index))
    control.send(name, "ready", {})
    hour_start = _wait_for_hour(control, run)
    if hour_start is None:
        return {}
    jobs, timers = BackgroundJobs(), compressed_timers(plan.environ, args.speed)
    threads, cpu_s = [], time.process_time()
    for worker in workers:
        jobs.start(worker.store, timers, boards=False)
        threads.append(threading.Thread(target=work, args=(worker, run, DEFAULT_INTERVAL_S), daemon=True,
                                        name=worker.config.worker_id))
    for thread in threads:
        thread.start()
    run.sleep_until(hour_start + args.hour_s)
    run.stop.set()
    scheduled_jobs = jobs.count()
    jobs.stop()
    still = _join(threads, JOIN_S)
    return {"evaluations": log.export(), "scheduled_jobs": scheduled_jobs, "threads_still_busy": still,
            "cpu_s": round(time.process_time() - cpu_s, 1)}


def worker_groups(workers: int, processes: int) -> list[list[int]]:
    """The workers' indices split evenly over at most ``processes`` processes."""
    size = math.ceil(workers / max(1, min(processes, workers)))
    return [list(range(first, min(first + size, workers))) for first in range(0, workers, size)]


def _join(threads: list[threading.Thread], timeout_s: float) -> int:
    """Wait up to ``timeout_s`` for ``threads``; how many are still running."""
    deadline = time.monotonic() + timeout_s
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    return sum(thread.is_alive() for thread in threads)


def merge_hour(reports: dict[str, dict]) -> dict:
    """The hour's figures of every process together: outcomes, queued ids, timings, evaluations."""
    outcomes = {kind: Counter() for kind in KINDS}
    queue_timings, board_timings, log, queued = Timings(), Timings(), Evaluations(), set()
    for report in reports.values():
        for kind, counts in report.get("outcomes", {}).items():
            outcomes[kind].update(counts)
        queued.update(report.get("queued", ()))
        for timings, key in ((queue_timings, "queue_poll"), (board_timings, "board_read")):
            if key in report:
                timings.absorb(report[key])
        if "evaluations" in report:
            log.absorb(report["evaluations"])
    return {"outcomes": {kind: dict(counts) for kind, counts in outcomes.items()}, "queued": queued, "log": log,
            "queue_poll": queue_timings.summary(), "board_read": board_timings.summary(),
            "scheduled_jobs": sum(r.get("scheduled_jobs", 0) for r in reports.values()),
            "threads_still_busy": sum(r.get("threads_still_busy", 0) for r in reports.values()),
            "processes": {name: {key: r[key] for key in ("error", "log", "cpu_s") if key in r}
                          for name, r in sorted(reports.items())}}

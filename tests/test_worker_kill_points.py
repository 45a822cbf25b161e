"""Kill points: the worker dies at every write boundary (and at seeded random ones), and the queue still ends
with every request FINISHED exactly once with exactly one result, or FAILED for its own reason; nothing lost,
nothing duplicated, no temporary files.

In process (CI, deterministic): a queue of four requests (two good adapters, one without effect, one that cannot
be loaded) is drained through a store on which the worker dies at its k-th write transaction, just before the
write (it died anywhere since the previous write: claim, evaluation, progress) or just after it (the write
landed, nothing after it did), for every k of a clean drain (16 writes, so 32 points). A second worker takes
over once the first one's claim is stale and dies in turn at a seeded random write of its own; a third drains
the queue. Death is :class:`Killed` (a BaseException nothing in the worker catches) in the worker's thread and
a dead store for anything else, as in a process that is gone.

Real processes (``RELIABILITY_SWEEP=1``, heavier): ``python -m evaluator`` is SIGKILLed after seeded random
delays (``RELIABILITY_KILLS`` times, default 50; one in five at any moment from its start, the others within
three seconds of its first claim), then one more worker drains the queue. They open the store as ``python -m
evaluator`` does (the queue in the data folder's SQLite database, whose transactions a kill rolls back; results
and details as JSON files). A kill inside a LocalStore write leaves that write's temporary file (readers ignore it); the test checks that the store's own
clean-up removes every such file once it is old, and reports how many there were. Without the option it
makes ``DEFAULT_REAL_KILLS`` kills (tests/test_worker_crash.py holds three more, at chosen moments).
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
import torch

from evaluator.worker import Worker, WorkerConfig
from models.loading import LoadOptions, ModelPool
from store.base import LocalStore, Store, StoreError
from store.details_files import details_info
from store.factory import open_store
from tests.eval_helpers import FIXTURES, write_jsonl
from tests.sweep import sweep_size
from tests.test_worker import models, request  # noqa: F401  (the module-scoped tiny models fixture)
from tests.worker_helpers import (
    TickingClock,
    one_column_challenge,
    queue_outcome,
    stored_details,
)

ROOT = Path(__file__).resolve().parent.parent
SEED = 20261130
STALE_AFTER_S = 600.0
QUEUE = (("good-1", "lora"), ("no-effect", "zero"), ("good-2", "lora"), ("unloadable", None))
CLEAN_DRAIN_WRITES = 16  # good: claim, progress, confirm, details, result, FINISHED; bad: claim, FAILED
DEFAULT_REAL_KILLS = 2


class Killed(BaseException):
    """The worker process died here."""


class KillSwitchStore(LocalStore):
    """A LocalStore through which its worker dies at the ``kill_at``-th write step (a ``rewrite`` that
    writes something), before or after the write. Labels every write, to report which boundaries were reached."""

    def __init__(self, root, kill_at: int | None, after: bool):
        super().__init__(root)
        self.kill_at, self.after = kill_at, after
        self.writes: list[str] = []
        self.died_at: str | None = None
        self._owner = threading.current_thread()

    def _dead(self) -> None:
        if threading.current_thread() is self._owner:
            raise Killed(self.died_at)
        raise StoreError("the worker process is gone")

    def get(self, collection, record_id):
        if self.died_at:
            self._dead()
        return super().get(collection, record_id)

    def rewrite(self, collection, decide):
        if self.died_at:
            self._dead()

        def recording(snapshot):
            writes, removals, value = decide(snapshot)
            if writes:
                self.writes.append(label(collection, writes, snapshot))
                if len(self.writes) == self.kill_at and not self.after:
                    self.died_at = f"before {self.writes[-1]}"
                    self._dead()
            return writes, removals, value

        value = super().rewrite(collection, recording)
        self._die_after_the_kill_point()
        return value

    def write_file(self, collection, name, content, keep):
        if self.died_at:
            self._dead()

        def recording(stored):
            if keep(stored):
                return True
            self.writes.append(collection)
            if len(self.writes) == self.kill_at and not self.after:
                self.died_at = f"before {self.writes[-1]}"
                self._dead()
            return False

        wrote = super().write_file(collection, name, content, recording)
        self._die_after_the_kill_point()
        return wrote

    def _die_after_the_kill_point(self) -> None:
        if self.kill_at is not None and len(self.writes) == self.kill_at and self.after and not self.died_at:
            self.died_at = f"after {self.writes[-1]}"
            self._dead()


def label(collection: str, writes: list[dict], snapshot: dict) -> str:
    if collection != "requests":
        return collection
    record = writes[-1]
    before = snapshot.get(record["id"], {})
    if record["state"] != before.get("state"):
        return {"RUNNING": "claim", "FINISHED": "mark finished", "FAILED": "mark failed",
                "PENDING": "re-queue"}[record["state"]]
    return "progress heartbeat" if record.get("progress") != before.get("progress") else "confirming heartbeat"


@pytest.fixture(scope="module")
def pool():
    return ModelPool(options=LoadOptions("cpu", torch.float32, False))


def seed_queue(root: Path, models) -> LocalStore:
    store = LocalStore(root)
    for minute, (rid, adapter) in enumerate(QUEUE):
        path = models[adapter] if adapter else root / "no-such-adapter"
        store.put("requests", request(rid, models["base"], path, challenge="general_nlp",
                                      submitted=f"2026-03-10T10:{minute:02d}:00+00:00"))
    return store


def worker_on(store: LocalStore, pool: ModelPool, worker_id: str, clock: TickingClock) -> Worker:
    config = WorkerConfig(worker_id=worker_id, data_dir=FIXTURES, limit=1, heartbeat_s=60.0,
                          stale_after_s=STALE_AFTER_S, max_attempts=5, write_backoff_s=0.0)
    return Worker(store, pool, config, definitions=one_column_challenge(), clock=clock)


def drain(worker: Worker) -> None:
    while worker.run_once():
        pass


def check_store(root: Path) -> dict:
    store = LocalStore(root)
    requests = store.all("requests")
    results = store.all("results")
    details = stored_details(store, results)
    figures = queue_outcome(requests, results, details)
    figures["temp_files"] = sorted(p.name for p in root.rglob("*.tmp"))
    assert figures["lost"] == [] and figures["duplicated"] == [] and figures["without_details"] == [], figures
    assert figures["temp_files"] == [], figures
    by_id = {r["id"]: r for r in requests}
    assert {rid for rid, r in by_id.items() if r["state"] == "FINISHED"} == {"good-1", "good-2"}, by_id
    for rid in ("no-effect", "unloadable"):
        assert by_id[rid]["state"] == "FAILED" and by_id[rid]["failure"]["cause"] == "submission", by_id[rid]
    for detail in details:
        assert detail["attempt"] <= by_id[detail["request_id"]]["attempts"]
    return figures


def run_killed(root: Path, pool: ModelPool, worker_id: str, clock: TickingClock, kill_at: int, after: bool) -> str | None:
    store = KillSwitchStore(root, kill_at, after)
    try:
        drain(worker_on(store, pool, worker_id, clock))
    except Killed:
        pass
    return store.died_at


def test_a_clean_drain_makes_the_writes_the_sweep_counts(tmp_path, models, pool):
    store = KillSwitchStore(tmp_path, kill_at=None, after=False)
    seed_queue(tmp_path, models)
    store.writes.clear()
    drain(worker_on(store, pool, "w1", TickingClock()))
    good = ["claim", "progress heartbeat", "confirming heartbeat", "details", "results", "mark finished"]
    assert store.writes == good + ["claim", "mark failed"] + good + ["claim", "mark failed"]
    assert len(store.writes) == CLEAN_DRAIN_WRITES
    check_store(tmp_path)


def test_killed_at_every_write_boundary_and_at_random_ones(tmp_path, models, pool, capsys):
    rng = random.Random(SEED)
    points, boundaries, lost, duplicated, requests = [], set(), 0, 0, 0
    for k in range(1, CLEAN_DRAIN_WRITES + 1):
        for after in (False, True):
            root = tmp_path / f"k{k}-{'after' if after else 'before'}"
            seed_queue(root, models)
            clock = TickingClock()
            first = run_killed(root, pool, "w1", clock, k, after)
            assert first is not None, f"write {k} was not reached"
            clock.jump(STALE_AFTER_S + 60)  # w1's claim is stale by the time w2 looks
            second = run_killed(root, pool, "w2", clock, rng.randint(1, 12), rng.random() < 0.5)
            clock.jump(STALE_AFTER_S + 60)
            drain(worker_on(LocalStore(root), pool, "w3", clock))
            figures = check_store(root)
            lost, duplicated = lost + len(figures["lost"]), duplicated + len(figures["duplicated"])
            requests += figures["requests"]
            points += [first] + ([second] if second else [])
            boundaries.add(first)
    figures = {"kill_points": len(points), "distinct_boundaries": len(boundaries), "scenarios": 2 * CLEAN_DRAIN_WRITES,
               "requests": requests, "lost": lost, "duplicated": duplicated}
    with capsys.disabled():
        print(f"\nin-process kill sweep: {figures}; boundaries: {sorted(boundaries)}")
    assert len(points) >= 50
    assert len(boundaries) == 2 * len({"claim", "progress heartbeat", "confirming heartbeat", "details", "results",
                                        "mark finished", "mark failed"})


# --- real processes -------------------------------------------------------------------------------------
def _mmlu_rows() -> list[dict]:
    return [{"question": f"Question {i} about {subject}: which option is right", "subject": subject,
             "choices": [f"option {i}", f"option {i + 1}", f"option {i + 2}", f"option {i + 3}"], "answer": i % 4}
            for subject in ("abstract_algebra", "econometrics", "formal_logic") for i in range(40)]


def _worker_env(store_dir: Path, data_dir: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("EVALUATOR_", "REQUESTS_", "RESULTS_"))}
    env.update({"LEADERBOARD_DATA_DIR": str(store_dir), "EVALUATOR_DATA_DIR": str(data_dir),
                "EVALUATOR_HEARTBEAT_S": "0.2", "EVALUATOR_STALE_AFTER_S": "1.5", "EVALUATOR_MAX_ATTEMPTS": "1000",
                "EVALUATOR_BATCH_SIZE": "1", "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT),
                "TOKENIZERS_PARALLELISM": "false", "OMP_NUM_THREADS": "1"})
    return env


def wait_until(condition, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def phase_of(store: Store) -> str:
    """Where the (frozen) worker is, as the store shows it."""
    running = [r for r in store.all("requests") if r["state"] == "RUNNING"]
    if not running:
        return "starting, or between requests"
    request = running[0]
    if store.get("results", f"result-{request['id']}") is not None:
        return "result written, not yet FINISHED"
    details = details_info(store, f"result-{request['id']}")
    if details is not None and details.attempt == request["attempts"]:
        return "details written"
    progress = request.get("progress")
    return f"evaluating {progress['done']}/{progress['total']}" if progress else "claimed, loading"


def orphaned_temp_files(store_dir: Path) -> list[str]:
    """Temporary files of writes cut by a SIGKILL (readers never see them). They are aged past the store's
    limit and a store is opened, which must remove every one of them; returns what there was."""
    orphans = sorted(store_dir.rglob(".*.tmp"))
    for path in orphans:
        old = time.time() - 2 * LocalStore.STALE_TEMP_S
        os.utime(path, (old, old))
    LocalStore(store_dir)
    return [p.relative_to(store_dir).as_posix() for p in orphans]


def test_real_workers_killed_at_random_moments(tmp_path, models):
    kills = sweep_size("RELIABILITY_KILLS", DEFAULT_REAL_KILLS, 50)
    rng = random.Random(SEED)
    data_dir = write_jsonl(tmp_path / "data" / "mmlu.jsonl", _mmlu_rows()).parent
    store_dir = tmp_path / "store"
    store = open_store({"LEADERBOARD_DATA_DIR": str(store_dir)})  # as the workers open it: the queue in SQLite
    env = _worker_env(store_dir, data_dir)
    command = [sys.executable, "-m", "evaluator", "--interval", "0.2"]
    submitted = 0

    def top_up() -> None:  # keep requests waiting, so that kills land on work rather than on an idle worker
        nonlocal submitted
        while sum(r["state"] in ("PENDING", "RUNNING") for r in store.all("requests")) < 6:
            adapter = models["zero"] if submitted % 5 == 4 else models["lora"]
            store.put("requests", request(f"r{submitted:03d}", models["base"], adapter, challenge="general_nlp",
                                          submitted=f"2026-03-10T10:00:{submitted:02d}+00:00"[:19] + "+00:00"))
            submitted += 1

    phases = []
    log = open(tmp_path / "workers.log", "wb")
    try:
        for _ in range(kills):
            top_up()
            proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
            if rng.random() < 0.2:  # any moment, start-up included
                time.sleep(rng.uniform(0.5, 8.0))
            else:  # a moment of its work: after its first claim
                wait_until(lambda: any(f"-{proc.pid}-" in (r.get("worker") or "") for r in store.all("requests")), 120)
                time.sleep(rng.uniform(0.0, 3.0))
            proc.send_signal(signal.SIGSTOP)  # freeze it, see where it is, then kill it there
            phases.append(phase_of(store))
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
        final = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 300 + 20 * submitted
        while any(r["state"] in ("PENDING", "RUNNING") for r in store.all("requests")):
            assert time.monotonic() < deadline, (tmp_path / "workers.log").read_text(errors="replace")[-3000:]
            time.sleep(0.5)
        final.send_signal(signal.SIGKILL)
        final.wait(10)
    finally:
        log.close()
    requests = store.all("requests")
    results = store.all("results")
    figures = queue_outcome(requests, results, stored_details(store, results))
    figures["orphaned_temp_files"] = orphaned_temp_files(store_dir)
    figures.update(kills=kills, killed_at=dict(Counter(phases)))
    print(f"\nreal-process kill sweep: {figures}")
    assert figures["lost"] == [] and figures["duplicated"] == [] and figures["without_details"] == [], figures
    assert figures["finished"] + figures["failed"] == submitted == figures["requests"]
    assert figures["results"] == figures["finished"]
    for r in requests:
        assert r["state"] == "FINISHED" or r["failure"]["cause"] == "submission", r
    assert sorted(p.relative_to(store_dir).as_posix() for p in store_dir.rglob("*.tmp")) == [], figures

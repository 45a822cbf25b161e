"""Crash test: ``python -m evaluator`` processes are SIGKILLed in the middle of one evaluation, three times,
and the request still ends FINISHED exactly once, with exactly one result.

Real processes on the store ``open_store`` builds on a data folder (the queue in its SQLite database, results and
details as JSON files; tiny Llama + LoRA, local MMLU-format data). Four workers start together,
so that their start-ups (imports) overlap; whichever holds the claim is killed, and one of the others takes
the request over once the killed holder's heartbeat is stale. The three kills land at different moments:

1. right after the claim (model loading, adapter probe), before any column was scored;
2. after the first column was scored (progress 1/3), while the suite is still running;
3. after the result record was written but before the request was marked FINISHED. To land there every time,
   the test holds the store's own locks, as another replica would: first the details collection's (``flock``),
   until the worker (having confirmed its claim with a last beat) waits for it, which the test sees as the
   worker process holding ``details/.lock`` open; then the queue database's write lock (``BEGIN IMMEDIATE``),
   and lets the details go: the worker writes details and result (other collections) and blocks in
   ``mark_finished``.

Every kill is made while holding the database's write lock, so it never lands inside a write of the request
record itself.
The fourth claim finds the result and only marks the request FINISHED.
"""

from __future__ import annotations

import fcntl
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest

from store.details_files import details_info
from store.factory import LIVE_DATABASE, open_store
from tests.eval_helpers import write_jsonl
from tests.tiny_models import build_lora, build_tiny_llama

ROOT = Path(__file__).resolve().parent.parent
RID = "crash-1"
RESULT = f"result-{RID}"
SUBJECTS = {"stem": "abstract_algebra", "social_sciences": "econometrics", "humanities": "formal_logic"}
PER_COLUMN = 12
STALE_AFTER_S = 3
DEADLINE_S = 240  # a guard against hangs only: ~30 s on an idle 2-core machine, ~70 s under load 10


def _mmlu_rows() -> list[dict]:
    return [{"question": f"Question {i} about {subject}: which option is right", "subject": subject,
             "choices": [f"option {i}", f"option {i + 1}", f"option {i + 2}", f"option {i + 3}"], "answer": i % 4}
            for subject in SUBJECTS.values() for i in range(PER_COLUMN)]


class Workers:
    """``python -m evaluator`` processes on one store; finds the one holding the claim by its worker id."""

    def __init__(self, store_dir: Path, data_dir: Path, logs: Path):
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("EVALUATOR_", "REQUESTS_", "RESULTS_"))}
        self.env.update({
            "LEADERBOARD_DATA_DIR": str(store_dir), "EVALUATOR_DATA_DIR": str(data_dir),
            "EVALUATOR_HEARTBEAT_S": "0.2", "EVALUATOR_STALE_AFTER_S": str(STALE_AFTER_S),
            "EVALUATOR_MAX_ATTEMPTS": "10", "EVALUATOR_BATCH_SIZE": "4", "HF_HUB_OFFLINE": "1",
            "PYTHONPATH": str(ROOT), "TOKENIZERS_PARALLELISM": "false", "OMP_NUM_THREADS": "1",
        })
        self.logs = logs
        self.procs: dict[int, subprocess.Popen] = {}

    def start(self) -> None:
        log = open(self.logs / f"worker-{len(self.procs)}.log", "wb")
        proc = subprocess.Popen([sys.executable, "-m", "evaluator", "--interval", "0.2"], cwd=ROOT, env=self.env,
                                stdout=log, stderr=subprocess.STDOUT)
        log.close()
        self.procs[proc.pid] = proc

    def holder(self, request: dict) -> subprocess.Popen:
        proc = self.procs[int(request["worker"].rsplit("-", 2)[1])]  # <host>-<pid>-<random>
        assert proc.poll() is None, "the worker holding the claim is not alive"
        return proc

    def kill(self, proc: subprocess.Popen) -> None:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)

    def stop_all(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)

    def tails(self) -> str:
        return "\n".join(f"--- {p.name}\n" + p.read_text(errors="replace")[-1500:] for p in sorted(self.logs.glob("*.log")))


@contextmanager
def queue_locked(store_dir: Path):
    """Hold the queue database's write lock: no worker can claim, beat or finish meanwhile (reads go on)."""
    connection = sqlite3.connect(store_dir / LIVE_DATABASE, isolation_level=None, timeout=60)
    try:
        connection.execute("BEGIN IMMEDIATE")
        yield
        connection.execute("ROLLBACK")
    finally:
        connection.close()


@contextmanager
def collection_locked(store_dir: Path, collection: str):
    """Hold the JSON folder's lock on a collection: no worker can write it meanwhile."""
    with open(store_dir / collection / ".lock", "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def has_open(proc: subprocess.Popen, path: Path) -> bool:
    """Whether the process holds ``path`` open (a LocalStore opens a collection's lock file only to take it)."""
    try:
        fds = list(Path(f"/proc/{proc.pid}/fd").iterdir())
    except FileNotFoundError:
        return False
    for fd in fds:
        try:
            if os.readlink(fd) == str(path):
                return True
        except OSError:
            continue
    return False


def wait_for(what: str, check, workers: Workers, started: float):
    while time.monotonic() - started < DEADLINE_S:
        value = check()
        if value:
            return value
        time.sleep(0.02)
    pytest.fail(f"timed out waiting for {what}\n{workers.tails()}")


@pytest.fixture
def setup(tmp_path):
    base = build_tiny_llama(tmp_path / "base")
    adapter = build_lora(base, tmp_path / "lora")
    data_dir = write_jsonl(tmp_path / "data" / "mmlu.jsonl", _mmlu_rows()).parent
    store_dir = tmp_path / "store"
    store = open_store({"LEADERBOARD_DATA_DIR": str(store_dir)})
    store.put("requests", {
        "id": RID, "challenge": "general_nlp", "kind": "adapter", "repo_id": str(adapter), "commit": None,
        "base_model": str(base), "base_commit": None, "team": "Crash Team", "comm_gb": 1.0,
        "code_url": "https://github.com/t/t", "submitted_at": "2026-03-10T10:00:00+00:00", "state": "PENDING",
        "attempts": 0, "rules_version": "v1"})
    (tmp_path / "logs").mkdir()
    workers = Workers(store_dir, data_dir, tmp_path / "logs")
    yield store, store_dir, workers
    workers.stop_all()


def test_killed_workers_leave_one_finished_request_and_one_result(setup):
    store, store_dir, workers = setup
    started = time.monotonic()
    request = lambda: store.get("requests", RID)  # noqa: E731
    has_result = lambda: store.get("results", RESULT) is not None  # noqa: E731
    for _ in range(4):  # all start at once, so that their start-up (imports) overlaps
        workers.start()
    killed: list[str] = []

    def running(attempt: int, done: int | None = None):
        def check():
            r = request()
            if r["state"] == "RUNNING" and r["attempts"] == attempt:
                progress = (r.get("progress") or {}).get("done", 0)
                return r if done is None or progress >= done else None
            assert r["state"] in ("PENDING", "RUNNING"), f"request ended {r['state']} early: {r.get('failure')}"
            return None
        return check

    # 1. right after the claim, before any column was scored
    held = wait_for("the first claim", running(1), workers, started)
    with queue_locked(store_dir):
        r = request()
        assert (r["attempts"], (r.get("progress") or {}).get("done", 0)) == (1, 0)
        workers.kill(workers.holder(r))
    killed.append(held["worker"])
    assert not has_result()
    print(f"kill 1 at {time.monotonic() - started:.1f} s")

    # 2. in the middle of the suite: one column of three scored, no result yet
    wait_for("the second claim to score a column", running(2, done=1), workers, started)
    with queue_locked(store_dir):
        r = request()
        assert r["progress"]["done"] in (1, 2) and not has_result()
        workers.kill(workers.holder(r))
    killed.append(r["worker"])
    assert not has_result()
    print(f"kill 2 at {time.monotonic() - started:.1f} s")

    # 3. between writing the result and marking the request FINISHED
    third = wait_for("the third claim", running(3), workers, started)
    holder = workers.holder(third)
    with ExitStack() as locks:
        details_lock = ExitStack()
        details_lock.enter_context(collection_locked(store_dir, "details"))
        wait_for("the worker to wait for the details lock",
                 lambda: has_open(holder, store_dir / "details" / ".lock"), workers, started)
        locks.enter_context(queue_locked(store_dir))
        details_lock.close()
        wait_for("the result record", has_result, workers, started)
        assert request()["state"] == "RUNNING"  # the worker waits for the lock to mark it FINISHED
        workers.kill(holder)
    killed.append(third["worker"])
    print(f"kill 3 at {time.monotonic() - started:.1f} s")

    finished = wait_for("FINISHED", lambda: request()["state"] == "FINISHED" and request(), workers, started)
    time.sleep(1.0)  # the last worker keeps polling: nothing may change any more
    final = request()
    assert final == finished
    assert final["result_id"] == RESULT and final["failure"] is None
    assert final["attempts"] == 4  # three killed claims + the one that finished
    assert final["worker"] not in killed and len(set(killed)) == 3
    assert final["progress"] is None  # the fourth claim found the result and evaluated nothing
    results = store.all("results")
    assert [r["id"] for r in results] == [RESULT]
    assert results[0]["request_id"] == RID and set(results[0]["scores"]) == set(SUBJECTS)
    assert results[0]["provenance"]["worker"] == third["worker"]  # written once, by the third claim
    assert results[0]["provenance"]["sample_counts"] == {key: PER_COLUMN for key in SUBJECTS}
    assert details_info(store, RESULT).worker == third["worker"]
    files = sorted(p.relative_to(store_dir).as_posix() for p in store_dir.rglob("*")
                   if p.is_file() and not p.name.startswith(LIVE_DATABASE))
    assert files == ["details/.lock", f"details/{RESULT}.parquet", "results/.lock", f"results/{RESULT}.json"], \
        files  # no temporary files left; the request lives in the database
    assert json.loads((store_dir / "results" / f"{RESULT}.json").read_text())["id"] == RESULT

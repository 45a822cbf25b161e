"""Issue #15's internet-scale simulation: does the deployment stay inside the Hub's limits at 50 GPU workers,
1,000 submissions, 100,000 results, 10 app replicas, 100 open Queue tabs and 200 votes a minute?

It drives the deployment only through its public entry points (``store.factory.open_store`` with the Space's
environment, ``refresh_boards`` and ``Boards`` as ``app.build_app`` starts them, the publisher and boards jobs
``app.main`` and ``python -m evaluator`` schedule, the worker, the submit service's store writes, the Queue
tab's ``queue_page``, ``record_vote``; see ``bench/scale_actors.py``), against a local Hub in a process of its
own that enforces the Hub's limits on a virtual clock (``bench/scale_hub.py``) and a throwaway PostgreSQL
server (the queue database every actor is given as ``DATABASE_URL``, unless ``--env DATABASE_URL=...``).

Phases, each with a wall-clock cap (``--cap-s``; what does not finish in it is reported as "> cap"):

1. seed: the results in the results dataset and the aggregated boards in the boards dataset (one set-up commit
   each), the FINISHED requests behind the results in the queue database (one transaction);
2. baseline: a plain download of one small file from the same Hub (the yardstick for board latency);
3. start: one replica alone, then every replica at once, in real time: first board served, then every seeded
   row shown (the replicas share this process and its cores, which machines of their own would not);
4. hour: one simulated hour at ``--speed`` virtual seconds per wall second: workers claim and evaluate
   (a virtual ``--eval-s``), submissions and votes arrive evenly, tabs poll every ``QUEUE_REFRESH_S``,
   visitors read boards, every replica and worker runs the publisher every ``PUBLISH_EVERY_S`` and every
   replica the boards job every ``BOARDS_REFRESH_S`` (both divided by the speed);
5. account: an hour later (fresh quotas), requests lost and evaluated twice are read back from the store.

    .venv/bin/python bench/scale.py                       # the issue's numbers
    .venv/bin/python bench/scale.py --workers 5 --submissions 50 --results 2000 --replicas 2 --tabs 10 \\
        --votes-per-min 20 --json /tmp/scale.json         # a quick run
    .venv/bin/python bench/scale.py --env DATABASE_URL=postgresql+psycopg://...   # instead of its own server
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import random
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from huggingface_hub.utils import logging as hf_logging

from bench.scale_actors import (
    BackgroundJobs,
    Evaluations,
    Replica,
    Run,
    Scheduled,
    SimulatedWorker,
    Timings,
    account,
    poll_queue,
    read_board,
    submit,
    vote,
    work,
)
from bench.scale_hub import HUB_LIMITS, HubProcess
from bench.scale_report import figures, print_table
from bench.scale_seed import (
    board_rows,
    expected_rows,
    finished_requests,
    seed_hub,
    seed_queue,
    synthetic_results,
)
from challenges.definitions import challenges
from evaluator.scheduler import DEFAULT_INTERVAL_S
from evaluator.worker import WorkerConfig
from leaderboard.aggregate import refresh_interval_s
from store.factory import DERIVED_COLLECTIONS, open_store
from store.publish_log import publish_every_s
from submissions.ui import queue_refresh_s
from tests.postgres import PostgresServer

HOUR_S = 3600.0
SUBMIT_THREADS = 4  # per replica: the Submit button's concurrency_limit in submissions/ui.py
VOTE_THREADS = 4  # per replica
ACCOUNT_TOKEN = "hf_scale_bench_reader"  # reads the public datasets; counted apart from the app's token
PG_CONNECTIONS = 1000  # 10 replicas and 50 workers, each with its own pool of connections


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workers", type=int, default=50)
    parser.add_argument("--submissions", type=int, default=1000, help="arriving evenly over the hour")
    parser.add_argument("--results", type=int, default=100_000, help="pre-seeded synthetic results")
    parser.add_argument("--replicas", type=int, default=10)
    parser.add_argument("--tabs", type=int, default=100, help="open browser tabs polling the Queue tab")
    parser.add_argument("--votes-per-min", type=float, default=200)
    parser.add_argument("--board-reads-per-min", type=float, default=600, help="board reads by visitors")
    parser.add_argument("--hour-s", type=float, default=HOUR_S, help="simulated seconds of the busy phase")
    parser.add_argument("--eval-s", type=float, default=20 * 60, help="virtual seconds of one evaluation")
    parser.add_argument("--speed", type=float, default=20, help="virtual seconds per wall second in the hour")
    parser.add_argument("--cap-s", type=float, default=300, help="wall-clock cap of each phase")
    parser.add_argument("--env", action="append", default=[], metavar="K=V",
                        help="more settings for every actor (DATABASE_URL, *_DATASET, PUBLISH_EVERY_S, ...)")
    parser.add_argument("--json", type=Path, help="write the figures here as JSON")
    parser.add_argument("--verbose", action="store_true", help="show the app's log (warnings from every actor)")
    args = parser.parse_args(argv)
    if any("=" not in item for item in args.env):
        parser.error("--env takes K=V")
    if args.speed <= 0 or args.cap_s <= 0 or args.hour_s <= 0 or min(args.workers, args.replicas, args.tabs) < 1:
        parser.error("--speed, --cap-s, --hour-s must be positive; --workers, --replicas, --tabs at least 1")
    return args


def base_environment(args: argparse.Namespace) -> dict[str, str]:
    environ = {"REQUESTS_DATASET": "bench/requests", "RESULTS_DATASET": "bench/results"}
    environ.update(item.split("=", 1) for item in args.env)
    return environ


def dataset_repos(environ: dict[str, str]) -> dict[str, str]:
    """Collection -> dataset repo, as ``store.factory.hub_store_from_env`` names them (private left out)."""
    results = environ["RESULTS_DATASET"]
    return {"requests": environ["REQUESTS_DATASET"], "results": results,
            **{c: environ.get(f"{c.upper()}_DATASET", "").strip() or f"{results}-{c}" for c in DERIVED_COLLECTIONS}}


def compressed_timers(environ: dict[str, str], speed: float) -> dict[str, str]:
    """The publisher's and the boards job's intervals, as the app reads them, divided by the bench's speed."""
    return {**environ, "PUBLISH_EVERY_S": f"{publish_every_s(environ) / speed:g}",
            "BOARDS_REFRESH_S": f"{refresh_interval_s(environ) / speed:g}"}


def tree_commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                             timeout=10, check=True)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                               capture_output=True, text=True, timeout=10, check=True).stdout.strip()
        return out.stdout.strip() + (" (with uncommitted changes)" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def join_all(threads: list[threading.Thread], deadline: float) -> int:
    """Wait for ``threads`` until the monotonic ``deadline``; how many are still running."""
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    return sum(thread.is_alive() for thread in threads)


def baseline(hub: HubProcess, repo: str, count: int = 30) -> Timings:
    """Plain downloads of one small file (anonymous, so they count against no token), as the store reads."""
    from huggingface_hub import hf_hub_url
    from huggingface_hub.utils import get_session

    timings = Timings()
    url = hf_hub_url(repo, ".gitattributes", repo_type="dataset", endpoint=hub.url)
    for _ in range(count):
        token = timings.start()
        get_session().get(url, timeout=10).raise_for_status()
        timings.end(token)
    return timings


def start_replicas(replicas: list[Replica], expected: dict[str, int], run: Run, cap_s: float) -> dict:
    threads = [threading.Thread(target=r.start, args=(expected, run, cap_s), daemon=True, name=f"replica-{i}")
               for i, r in enumerate(replicas)]
    began = time.monotonic()
    for thread in threads:
        thread.start()
    busy = join_all(threads, began + cap_s)
    return {"wall_s": round(time.monotonic() - began, 1), "still_starting": busy}


def busy_hour(args, environ, run, replicas, expected, folder) -> dict:
    """Phase 4: every actor at once on the compressed clock, for ``--hour-s`` virtual seconds."""
    flowertune = [c for c in challenges().values() if c.limits.submission_kind == "adapter"]
    boards = list(expected)
    rng = random.Random(15)
    log, kinds, queued = Evaluations(), ("submissions", "votes", "board_reads"), set()
    queue_timings, board_timings, threads, to_start = Timings(), Timings(), [], []
    poll_s, interval = DEFAULT_INTERVAL_S, queue_refresh_s(environ)
    workers = []
    for index in range(args.workers):  # opened before the hour: a worker machine is up before it begins
        store = open_store({**environ, "HUB_CACHE_DIR": str(folder / f"worker-{index}")})
        config = WorkerConfig(worker_id=f"gpu-{index:02d}", heartbeat_s=WorkerConfig.heartbeat_s / args.speed,
                              write_backoff_s=WorkerConfig.write_backoff_s / args.speed)
        workers.append(SimulatedWorker(store, config, run, args.eval_s, log, seed=index))

    hour_start = math.ceil((run.clock() + 1) / HOUR_S) * HOUR_S  # fresh windows and a fresh rolling hour
    run.clock.set(hour_start, args.speed)
    jobs, timers = BackgroundJobs(), compressed_timers(environ, args.speed)
    for replica in replicas:
        replica.pace(args.speed)
        if replica.store is not None:  # a replica still starting has no store yet, nor jobs
            jobs.start(replica.store, timers, boards=True)
    for index, worker in enumerate(workers):
        jobs.start(worker.store, timers, boards=False)
        to_start.append(threading.Thread(target=work, args=(worker, run, poll_s), daemon=True, name=f"gpu-{index}"))
    end = hour_start + args.hour_s

    def submission(n: int, replica: Replica):
        def job() -> str:
            status, request_id = submit(replica.store, flowertune[n % len(flowertune)], n, run.now())
            if status == "queued":
                queued.add(request_id)
            return status
        return job

    def tab(replica: Replica, offset: float) -> None:
        when = hour_start + offset
        while run.sleep_until(when) and run.clock() < end:
            poll_queue(replica.store, queue_timings)
            when += interval
            while when < run.clock():  # a tick while the last poll was still under way is dropped
                when += interval

    def board_read(replica: Replica, board: str):
        def job() -> str | None:
            if replica.boards is None:
                return "replica_not_started"
            read_board(replica.boards, board, expected[board], board_timings)
            return None
        return job

    groups: dict[str, list[Scheduled]] = {name: [] for name in kinds}
    for r, replica in enumerate(replicas):
        mine = range(r, args.submissions, len(replicas))
        groups["submissions"].append(Scheduled(run, [(hour_start + n * args.hour_s / args.submissions,
                                                      submission(n, replica)) for n in mine],
                                               SUBMIT_THREADS, f"submit-{r}"))
        votes = int(args.votes_per_min * args.hour_s / 60)
        groups["votes"].append(Scheduled(run, [(hour_start + n * 60 / args.votes_per_min,
                                                lambda n=n, s=replica.store: vote(s, boards[n % len(boards)], n, 1000,
                                                                                  run.now()))
                                               for n in range(r, votes, len(replicas))], VOTE_THREADS, f"vote-{r}"))
        reads = int(args.board_reads_per_min * args.hour_s / 60)
        groups["board_reads"].append(Scheduled(run, [(hour_start + n * 60 / args.board_reads_per_min,
                                                      board_read(replica, boards[rng.randrange(len(boards))]))
                                                     for n in range(r, reads, len(replicas))], 2, f"boards-{r}"))
    threads += [thread for group in groups.values() for scheduled in group for thread in scheduled.threads]
    for t in range(args.tabs):
        to_start.append(threading.Thread(target=tab, args=(replicas[t % len(replicas)], rng.uniform(0, interval)),
                                         daemon=True, name=f"tab-{t}"))
    began = time.monotonic()
    for thread in to_start:
        thread.start()
    threads += to_start
    while run.clock() < end and time.monotonic() - began < args.cap_s:
        time.sleep(0.2)
    reached = run.clock() - hour_start
    run.stop.set()
    scheduled_jobs = jobs.count()
    jobs.stop()
    still = join_all(threads, time.monotonic() + min(30.0, args.cap_s))
    counted = {name: sum((group.counts() for group in groups[name]), Counter()) for name in kinds}
    # the Hub's counts run to here: calls the hour started and that were still retrying when it ended count too
    return {"start_s": hour_start, "end_s": run.clock(), "virtual_s": round(reached, 1),
            "wall_s": round(time.monotonic() - began, 1), "capped": reached < args.hour_s - 1,
            "threads_still_busy": still, "log": log, "queued": set(queued),  # calls still under way go on
            "outcomes": {name: dict(counter) for name, counter in counted.items()},
            "queue_poll": queue_timings.summary(), "board_read": board_timings.summary(),
            "queue_refresh_s": interval, "worker_poll_s": poll_s, "scheduled_jobs": scheduled_jobs,
            "publish_every_s": float(timers["PUBLISH_EVERY_S"]), "boards_refresh_s": float(timers["BOARDS_REFRESH_S"])}


def settle_accounts(environ, hub, hour: dict, folder: Path, cap_s: float, seeded: frozenset[str]) -> dict:
    """Phase 5, on a clock standing two hours later (fresh quotas), with a store of its own and a read-only token
    of its own, so that calls of the hour still retrying cannot spend its quota."""
    hub.clock.set(hour["end_s"] + 2 * HOUR_S, 0.0)
    answer: dict = {}
    reader = {**environ, "HUB_CACHE_DIR": str(folder / "account"), "HF_TOKEN": ACCOUNT_TOKEN}

    def read() -> None:
        try:
            answer.update(account(open_store(reader), hour["queued"], hour["log"], seeded))
        except Exception as error:  # noqa: BLE001 - reported instead of a figure
            answer["error"] = f"{type(error).__name__}: {error}"

    thread = threading.Thread(target=read, daemon=True, name="account")
    thread.start()
    thread.join(cap_s)
    return answer if not thread.is_alive() else {"error": "> cap"}


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING if args.verbose else logging.CRITICAL)
    if not args.verbose:  # huggingface_hub logs each retried 429 through a handler of its own
        hf_logging.set_verbosity_error()
    environ = base_environment(args)
    repos = dataset_repos(environ)
    results = synthetic_results(args.results)
    expected = expected_rows(board_rows(results))
    phases: dict = {}
    began = time.monotonic()
    hub = HubProcess(lambda server: seed_hub(server, sorted(set(repos.values())), repos["results"], repos["boards"],
                                             results), start_timeout_s=args.cap_s)
    environ.update(HF_ENDPOINT=hub.url, HF_TOKEN=hub.token)
    postgres = None
    try:
        if not environ.get("DATABASE_URL"):
            postgres = PostgresServer(max_connections=PG_CONNECTIONS)
            postgres.start()
            environ["DATABASE_URL"] = postgres.new_database()
        requests = finished_requests(results)
        seed_queue(environ["DATABASE_URL"], requests)
        phases["seed"] = {"wall_s": round(time.monotonic() - began, 1)}
        with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp:
            folder = Path(tmp)
            run = Run(hub.clock)
            hub.clock.set(0.0, 1.0)
            base = baseline(hub, repos["results"])
            alone = Replica({**environ, "HUB_CACHE_DIR": str(folder / "replica-alone")})
            phases["start_alone"] = start_replicas([alone], expected, run, args.cap_s)  # nothing else running
            replicas = [Replica({**environ, "HUB_CACHE_DIR": str(folder / f"replica-{i}")})
                        for i in range(args.replicas)]
            phases["start"] = start_replicas(replicas, expected, run, args.cap_s)
            start_end = hub.clock()
            hour = busy_hour(args, environ, run, replicas, expected, folder)
            phases["hour"] = {k: hour[k] for k in ("virtual_s", "wall_s", "capped", "threads_still_busy")}
            hub_start, hub_hour = hub.phase(0.0, start_end), hub.phase(hour["start_s"], hour["end_s"])
            began = time.monotonic()
            accounts = settle_accounts(environ, hub, hour, folder, args.cap_s, frozenset(r["id"] for r in requests))
            phases["account"] = {"wall_s": round(time.monotonic() - began, 1)}
    finally:
        hub.stop()
        if postgres is not None:
            postgres.stop()
    report = figures(args, HUB_LIMITS, replicas, alone, base.summary(), hour, hub_start, hub_hour, accounts,
                     expected, sorted(set(repos.values())))
    report.update(commit=tree_commit(), phases=phases, environment=sorted(environ))
    print_table(report)
    if args.json:
        args.json.write_text(json.dumps(report, indent=1, default=str) + "\n")
    return report


if __name__ == "__main__":
    main()

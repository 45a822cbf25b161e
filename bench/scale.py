"""Issue #15's internet-scale simulation: does the deployment stay inside the Hub's limits at 50 GPU workers,
1,000 submissions, 100,000 results, 10 app replicas, 100 open Queue tabs and 200 votes a minute?

It drives the deployment only through its public entry points (``store.factory.open_store`` with the Space's
environment, ``refresh_boards`` and ``Boards`` as ``app.build_app`` starts them, the publisher and boards jobs
``app.main`` and ``python -m evaluator`` schedule, the worker, the submit service's store writes, the Queue
tab's ``queue_page``, ``record_vote``; see ``bench/scale_actors.py``), against a local Hub in a process of its
own that enforces the Hub's limits on a virtual clock (``bench/scale_hub.py``) and a throwaway PostgreSQL
server (the queue database every actor is given as ``DATABASE_URL``, unless ``--env DATABASE_URL=...``).
As in production, every replica runs in a process of its own and the workers in ``--worker-processes``
processes (``bench/scale_procs.py``); they report back to this one, which prints the figures.

Phases, each but the hour (``--hour-s`` / ``--speed`` of wall clock) with a wall-clock cap (``--cap-s``; what
does not finish in it is reported as "> cap"); a full-size run takes ~16 minutes:

1. seed: the results in the results dataset and the aggregated boards in the boards dataset (one set-up commit
   each), the FINISHED requests behind the results in the queue database (one transaction);
2. baseline: a plain download of one small file from the same Hub (the yardstick for board latency);
3. start: one replica alone, then every replica at once, in real time: first board served, then every seeded
   row shown (each replica in its process, but the crowd shares this machine's cores);
4. hour: one simulated hour at ``--speed`` virtual seconds per wall second (``DEFAULT_SPEED``: what this
   2-core machine delivers in full; the table says how much of the load was delivered): workers claim and evaluate
   (a virtual ``--eval-s``), submissions and votes arrive evenly, tabs poll every ``QUEUE_REFRESH_S``,
   visitors read boards, every replica and worker runs the publisher every ``PUBLISH_EVERY_S`` and every
   replica the boards job every ``BOARDS_REFRESH_S`` (both divided by the speed);
5. account: an hour later (fresh quotas), requests lost and evaluated twice are read back from the store.

Every dataset the factory names has its commits counted, the private one (``PRIVATE_DATASET``, where each
queued submission's contact e-mail goes) included.

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
import os
import subprocess
import sys
import tempfile
import threading
import time
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from huggingface_hub.utils import logging as hf_logging

from bench.scale_actors import Timings, account
from bench.scale_hub import HUB_LIMITS, HubProcess
from bench.scale_procs import (
    JOIN_S,
    Control,
    Plan,
    compressed_timers,
    merge_hour,
    replica_process,
    worker_groups,
    worker_process,
)
from bench.scale_report import figures, print_table
from bench.scale_seed import (
    board_rows,
    expected_rows,
    finished_requests,
    seed_hub,
    seed_queue,
    synthetic_results,
)
from evaluator.scheduler import DEFAULT_INTERVAL_S
from store.factory import DERIVED_COLLECTIONS, open_store
from submissions.ui import queue_refresh_s
from tests.postgres import PostgresServer

HOUR_S = 3600.0
DEFAULT_SPEED = 4.0  # the hour in 15 min of wall clock; see BENCHMARKS.md "busy hour delivered"
ALONE = "replica-alone"  # the replica that starts before the others, with nothing else running
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
    parser.add_argument("--speed", type=float, default=DEFAULT_SPEED,
                        help="virtual seconds per wall second in the hour")
    parser.add_argument("--worker-processes", type=int, default=5, help="processes the workers are spread over")
    parser.add_argument("--cap-s", type=float, default=300, help="wall-clock cap of each phase")
    parser.add_argument("--env", action="append", default=[], metavar="K=V",
                        help="more settings for every actor (DATABASE_URL, *_DATASET, PUBLISH_EVERY_S, ...)")
    parser.add_argument("--json", type=Path, help="write the figures here as JSON")
    parser.add_argument("--verbose", action="store_true", help="show the app's log (warnings from every actor)")
    args = parser.parse_args(argv)
    if any("=" not in item for item in args.env):
        parser.error("--env takes K=V")
    if args.speed <= 0 or args.cap_s <= 0 or args.hour_s <= 0 or min(args.workers, args.replicas, args.tabs,
                                                                      args.worker_processes) < 1:
        parser.error("--speed, --cap-s, --hour-s must be positive; --workers, --replicas, --tabs, "
                     "--worker-processes at least 1")
    return args


def base_environment(args: argparse.Namespace) -> dict[str, str]:
    environ = {"REQUESTS_DATASET": "bench/requests", "RESULTS_DATASET": "bench/results",
               "PRIVATE_DATASET": "bench/private"}
    environ.update(item.split("=", 1) for item in args.env)
    return environ


def dataset_repos(environ: dict[str, str]) -> dict[str, str]:
    """Collection -> dataset repo, as ``store.factory.hub_store_from_env`` names them."""
    results = environ["RESULTS_DATASET"]
    return {"requests": environ["REQUESTS_DATASET"], "results": results, "private": environ["PRIVATE_DATASET"],
            **{c: environ.get(f"{c.upper()}_DATASET", "").strip() or f"{results}-{c}" for c in DERIVED_COLLECTIONS}}


def tree_commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                             timeout=10, check=True)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                               capture_output=True, text=True, timeout=10, check=True).stdout.strip()
        return out.stdout.strip() + (" (with uncommitted changes)" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


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


def start_replicas(control: Control, plan: Plan, names: list[str], cap_s: float) -> dict:
    """Phase 3: the replicas ``names`` start at once, each in its process (the crowd serves the hour after)."""
    began = time.monotonic()
    for name in names:
        control.fork(name, replica_process, plan, None if name == ALONE else int(name.rsplit("-", 1)[1]))
    started = control.collect("started", names, began + cap_s)
    return {"wall_s": round(time.monotonic() - began, 1), "still_starting": len(names) - len(started)}


def postgres_cpu_s(postgres: PostgresServer | None) -> float:
    """CPU seconds of the bench's PostgreSQL server so far (its postmaster, the backends it reaped, the live
    ones), from /proc; 0 for a server the bench did not start."""
    try:
        postmaster = int((postgres.data / "postmaster.pid").read_text().split()[0])
    except (AttributeError, OSError, ValueError, IndexError):
        return 0.0
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid, ppid = int(stat.parent.name), int(fields[1])
        if pid == postmaster:
            total += sum(int(value) for value in fields[11:15])  # utime stime cutime cstime
        elif ppid == postmaster:
            total += int(fields[11]) + int(fields[12])
    return total / ticks


def busy_hour(control: Control, plan: Plan, replicas: list[str], hub: HubProcess,
              postgres: PostgresServer | None) -> dict:
    """Phase 4: every actor at once on the compressed clock, for ``--hour-s`` virtual seconds: the replicas'
    processes (started) and the workers' (forked and ready first: a worker machine is up before the hour)."""
    args, clock = plan.args, control.clock
    workers = [control.fork(f"workers-{g}", worker_process, plan, indices)
               for g, indices in enumerate(worker_groups(args.workers, args.worker_processes))]
    ready = control.collect("ready", workers, time.monotonic() + args.cap_s)
    hour_start = math.ceil((clock() + 1) / HOUR_S) * HOUR_S  # fresh windows and a fresh rolling hour
    control.hour_start.value = hour_start
    hub_cpu_s, postgres_s = hub.cpu_s(), postgres_cpu_s(postgres)
    clock.set(hour_start, args.speed)
    control.hour.set()
    began = time.monotonic()
    end = hour_start + args.hour_s
    while clock() < end:
        time.sleep(min(1.0, clock.wall_s(end - clock()) + 0.01))
    reached, wall_s, hub_cpu_s = clock() - hour_start, time.monotonic() - began, hub.cpu_s() - hub_cpu_s
    postgres_s = postgres_cpu_s(postgres) - postgres_s
    control.stop.set()  # every process stops its actors, waits for them and reports
    names = replicas + workers
    reports = control.collect("done", names, time.monotonic() + JOIN_S + args.cap_s)
    control.end(names, 10.0)
    missing = {name: {"error": "no report within the cap"} for name in names if name not in reports}
    timers = compressed_timers(plan.environ, args.speed)
    # the Hub's counts run to here: calls the hour started and that were still retrying when it ended count too
    return {**merge_hour({**reports, **missing}), "start_s": hour_start, "end_s": clock(),
            "virtual_s": round(reached, 1), "wall_s": round(wall_s, 1), "workers_not_ready": len(workers) - len(ready),
            "hub_cpu_s": round(hub_cpu_s, 1), "postgres_cpu_s": round(postgres_s, 1),
            "starts": {name: reports.get(name, {}).get("start") for name in replicas},
            "queue_refresh_s": queue_refresh_s(plan.environ), "worker_poll_s": DEFAULT_INTERVAL_S,
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
    started_at = began = time.monotonic()
    hub = HubProcess(partial(seed_hub, repos=sorted(set(repos.values())), results_repo=repos["results"],
                             boards_repo=repos["boards"], results=results, private={repos["private"]}),
                     start_timeout_s=args.cap_s)
    environ.update(HF_ENDPOINT=hub.url, HF_TOKEN=hub.token)
    postgres, control, names = None, Control(hub.clock, args.verbose), [ALONE]
    try:
        if not environ.get("DATABASE_URL"):
            postgres = PostgresServer(max_connections=PG_CONNECTIONS)
            postgres.start()
            environ["DATABASE_URL"] = postgres.new_database()
        seed_queue(environ["DATABASE_URL"], finished_requests(results))
        seeded = frozenset(r["request_id"] for r in results)
        del results  # the actor processes are forked from here: they need none of it
        phases["seed"] = {"wall_s": round(time.monotonic() - began, 1)}
        with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp:
            plan = Plan(args, environ, expected, Path(tmp))
            hub.clock.set(0.0, 1.0)
            base = baseline(hub, repos["results"])
            phases["start_alone"] = start_replicas(control, plan, [ALONE], args.cap_s)  # nothing else running
            alone = control.collect("done", [ALONE], time.monotonic() + args.cap_s)
            control.end([ALONE], 10.0)
            names += [f"replica-{i}" for i in range(args.replicas)]
            phases["start"] = start_replicas(control, plan, names[1:], args.cap_s)
            start_end = hub.clock()
            hour = busy_hour(control, plan, names[1:], hub, postgres)
            phases["hour"] = {k: hour[k] for k in ("virtual_s", "wall_s", "threads_still_busy", "workers_not_ready")}
            hub_start, hub_hour = hub.phase(0.0, start_end), hub.phase(hour["start_s"], hour["end_s"])
            began = time.monotonic()
            accounts = settle_accounts(environ, hub, hour, Path(tmp), args.cap_s, seeded)
            phases["account"] = {"wall_s": round(time.monotonic() - began, 1)}
    finally:
        control.stop.set()
        control.end(list(control.processes), 10.0)
        hub.stop()
        if postgres is not None:
            postgres.stop()
    hour["processes"][ALONE] = {key: value for key, value in alone.get(ALONE, {}).items() if key in ("error", "log")}
    starts = {"alone": alone.get(ALONE, {}).get("start"), "crowd": list(hour["starts"].values())}
    report = figures(args, HUB_LIMITS, starts, base.summary(), hour, hub_start, hub_hour, accounts, expected,
                     sorted(set(repos.values())))
    report.update(commit=tree_commit(), phases=phases, environment=sorted(environ),
                  total_wall_s=round(time.monotonic() - started_at, 1))
    print_table(report)
    if args.json:
        args.json.write_text(json.dumps(report, indent=1, default=str) + "\n")
    return report


if __name__ == "__main__":
    main()

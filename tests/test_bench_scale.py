"""bench/scale.py (issue #15's internet-scale simulation) at toy size, so the benchmark cannot rot: it runs end to
end against the local Hub with its limits on, each replica and each group of workers in a process of its own, and
reports every figure, the load it delivered included; and its lost / evaluated-twice accounting is read back from
the store, so a store that lost a request or holds a re-claimed one shows it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from bench.scale_actors import Evaluations, account
from bench.scale_procs import worker_groups
from evaluator.worker import result_id_for
from store.base import LocalStore
from tests.board_records import result

ROOT = Path(__file__).resolve().parent.parent
SMALL = ["--workers", "3", "--submissions", "6", "--results", "300", "--replicas", "2", "--tabs", "3",
         "--votes-per-min", "6", "--board-reads-per-min", "30", "--hour-s", "600", "--eval-s", "60",
         "--speed", "40", "--cap-s", "30", "--worker-processes", "2"]


def test_the_scale_bench_runs_end_to_end_and_reports_every_figure(tmp_path):
    out = subprocess.run([sys.executable, "bench/scale.py", *SMALL, "--json", str(tmp_path / "scale.json")],
                         cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
    assert out.returncode == 0, out.stderr[-3000:]
    report = json.loads((tmp_path / "scale.json").read_text())

    commits = report["commits_per_repo_hour"]  # every repo counted; each got the commits of its writer
    assert set(commits) == {f"datasets/bench/{name}" for name in ("requests", "results", "results-details",
                                                                  "results-votes", "results-boards", "private")}, commits
    # the private dataset too: each queued submission's contact e-mail, written by the submit path
    assert all(c["landed"] > 0 and c["ratio"] == round(c["asked_per_hour"] / 128, 3) for c in commits.values())
    assert report["hour"]["scheduled_jobs"] == 2 * 2 + 3  # publisher + boards job per replica, publisher per worker
    # every actor process reported back, none with an error: the alone replica, 2 replicas, 3 workers in 2
    assert set(report["processes"]) == {"replica-alone", "replica-0", "replica-1", "workers-0", "workers-1"}
    assert not [name for name, process in report["processes"].items() if "error" in process], report["processes"]
    delivered = report["delivered"]  # the load the hour delivered, against the scenario's
    assert delivered["submissions_answered"] == {"done": 6, "expected": 6, "ratio": 1.0}
    assert delivered["evaluations_finished"]["expected"] == 6  # one per submission: fewer than 3 workers could do
    assert 0 < delivered["evaluations_finished"]["done"] <= delivered["evaluations_finished"]["expected"]
    assert delivered["votes_stored"]["expected"] == 60 and delivered["queue_polls_done"]["expected"] == 3 * 600 / 10
    assert all(0 < share["ratio"] <= 1 for share in delivered.values()), delivered
    assert "| delivered: submissions answered / sent | 6 / 6 | 1 | 1 | ok |" in out.stdout
    for key, quota in (("api_calls_per_5min_peak", 1000), ("downloads_per_5min_peak", 5000)):
        assert report[key]["asked_peak"] > 0 and report[key]["ratio"] == round(report[key]["asked_peak"] / quota, 3)
    assert set(report["http_429"]["hour"]) <= {"commits", "api", "resolvers"}
    board = report["board_read"]
    assert board["count"] > 0 and 0 <= board["p50_ms"] <= board["p95_ms"] <= board["max_ms"]
    assert board["baseline_plain_read_p50_ms"] > 0 and board["p95_over_baseline"] is not None
    start = report["replica_start"]
    assert start["first_board_served"]["finished"] == 2 and isinstance(start["every_row_served"]["max_s"], float)
    assert start["alone"]["every_row_served"]["finished"] == 1  # one replica started before the others
    assert report["queue_poll"]["count"] > 0

    requests, account_read = report["requests"], report["requests"]["account"]
    assert sum(requests["submissions"].values()) == 6 and sum(report["votes"].values()) == 60  # every job told
    queued = requests["submissions"].get("queued", 0)
    assert queued > 0
    # read back from the store: every queued submission is there, in some state, and the bench's own log of
    # evaluations agrees with the FINISHED requests the store holds
    assert account_read["requests_in_store"] == queued == sum(account_read["states"].values())
    assert account_read["bench_log"]["evaluations_completed"] >= account_read["states"].get("FINISHED", 0) > 0
    assert requests["lost"] == 0 and requests["evaluated_twice"] == 0 and account_read["set_aside"] == []
    assert report["votes"].get("stored", 0) > 0
    assert "| requests lost (read back from the store) | 0 | 0 | - | ok |" in out.stdout


def _request(request_id: str, state: str, attempts: int = 1, result_id: str | None = None) -> dict:
    return {"id": request_id, "challenge": "general_nlp", "submitted_at": "2026-03-10T10:00:00+00:00",
            "state": state, "attempts": attempts, "result_id": result_id}


def test_lost_and_twice_are_read_back_from_the_store(tmp_path):
    store = LocalStore(tmp_path)
    for request in (_request("done", "FINISHED", result_id=result_id_for("done")),
                    _request("done-no-result", "FINISHED", result_id=result_id_for("done-no-result")),
                    _request("reclaimed", "RUNNING", attempts=2), _request("waiting", "PENDING", attempts=0)):
        store.put("requests", request)
    store.put("results", result(result_id_for("done"), "team", 50.0))
    log = Evaluations()
    log.note(log.started, "reclaimed")
    log.note(log.started, "reclaimed")

    found = account(store, {"done", "done-no-result", "reclaimed", "waiting", "never-stored"}, log)

    assert found["lost"] == 2
    assert found["lost_queued_but_missing"] == ["never-stored"]
    assert found["lost_finished_without_result"] == ["done-no-result"]
    assert found["evaluated_twice"] == 1 and found["evaluated_twice_ids"] == ["reclaimed"]
    assert found["states"] == {"FINISHED": 2, "RUNNING": 1, "PENDING": 1}
    assert found["bench_log"]["started_more_than_once"] == 1


def test_workers_are_spread_evenly_over_their_processes():
    assert worker_groups(50, 5) == [list(range(n, n + 10)) for n in range(0, 50, 10)]
    assert worker_groups(3, 2) == [[0, 1], [2]]
    assert worker_groups(2, 5) == [[0], [1]]  # never an empty process

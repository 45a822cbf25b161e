"""The figures of ``bench/scale.py``: each against the Hub's limit or the issue's target, as a ratio, as a
table and as JSON. A figure that could not be measured within the phase's cap reads "> cap", never a number."""

from __future__ import annotations

import os
import statistics

TARGET_RATIO = 0.5  # every figure at most half of the Hub's limit
DELIVERED = 0.95  # the share of the scenario's load a run must deliver to prove its figures
BOARD_P95_MS = 200.0
START_S = 30.0
CAP = "> cap"


def _ratio(value: float | None, limit: float) -> float | None:
    return None if value is None else round(value / limit, 3)


def _start_figures(replicas: list[dict | None], alone: dict | None, cap_s: float) -> dict:
    """From each replica's ``Replica.start_figures`` (None: its process did not report)."""
    replicas = [r or {"first_board_s": None, "first_rows": None, "complete_s": None} for r in replicas]
    alone = alone or {"first_board_s": None, "complete_s": None}
    first = [r["first_board_s"] for r in replicas]
    complete = [r["complete_s"] for r in replicas]

    def seconds(values: list) -> dict:
        """p50 and max, "> cap" for those beyond the cap (a start that ended later, during the busy hour, is
        kept in ``measured_s``)."""
        done = sorted(v for v in values if v is not None)
        capped = [CAP if v is None or v > cap_s else round(v, 2) for v in values]
        p50 = statistics.median(done) if len(done) > len(values) / 2 else None
        return {"p50_s": CAP if p50 is None or p50 > cap_s else round(p50, 2),
                "max_s": CAP if CAP in capped else round(max(done), 2), "finished": sum(v != CAP for v in capped),
                "of": len(values), "measured_s": [None if v is None else round(v, 2) for v in values]}

    return {"first_board_served": {**seconds(first), "rows_on_first_board": [r["first_rows"] for r in replicas]},
            "every_row_served": seconds(complete), "cap_s": cap_s, "target_s": START_S,
            "alone": {"first_board_served": seconds([alone["first_board_s"]]),
                      "every_row_served": seconds([alone["complete_s"]])}}


def _share(done: float, expected: float) -> dict:
    return {"done": done, "expected": round(expected, 1), "ratio": _ratio(done, expected) if expected else None}


def delivered(args, hour: dict) -> dict:
    """How much of the scenario's load the hour delivered: a run is a proof of the figures only when each ratio
    is about 1. Evaluations expected: every worker busy all hour (``workers * hour / eval``, or one per
    submission if fewer; the ±20 % spread of an evaluation and the workers' first poll of an empty queue keep
    the attainable count a little below)."""
    outcomes = hour["outcomes"]
    submissions, polls, reads = outcomes["submissions"], hour["queue_poll"], outcomes["board_reads"]
    unanswered = ("not_attempted", "in_flight")
    return {
        "submissions_answered": _share(sum(n for k, n in submissions.items() if k not in unanswered),
                                       args.submissions),
        "evaluations_finished": _share(sum(hour["log"].completed.values()),
                                       min(args.workers * args.hour_s / args.eval_s, args.submissions)),
        "votes_stored": _share(outcomes["votes"].get("stored", 0), int(args.votes_per_min * args.hour_s / 60)),
        "queue_polls_done": _share(polls["count"] - polls["unfinished"], args.tabs * args.hour_s / hour["queue_refresh_s"]),
        "board_reads_done": _share(reads.get("read", 0),
                                   int(args.board_reads_per_min * args.hour_s / 60)),
    }


def figures(args, limits, starts: dict, baseline: dict, hour: dict, hub_start: dict, hub_hour: dict,
            accounts: dict, expected: dict, repos: list[str]) -> dict:
    """Everything measured, keyed for the JSON; ``ratio`` is against the Hub's limit (or the target). Every
    dataset in ``repos`` gets its commit count, zero included. ``starts``: the replica started ``alone`` and
    the ``crowd`` (their ``Replica.start_figures``)."""
    span = max(hour["end_s"] - hour["start_s"], 1.0)
    per_hour = 3600.0 / span
    counted = {**{f"datasets/{repo}": {"asked": 0, "landed": 0} for repo in repos}, **hub_hour["commits"]}
    commits = {repo: {**counts, "asked_per_hour": round(counts["asked"] * per_hour, 1),
                      "ratio": _ratio(counts["asked"] * per_hour, limits.commits_per_repo)}
               for repo, counts in counted.items()}
    api, downloads = hub_hour["api"], hub_hour["resolvers"]
    board = hour["board_read"]
    board_done = board.get("complete", 0) + board.get("incomplete", 0)
    lower = " (lower bound: some reads had not returned)" if board["unfinished"] else ""
    base_ms = baseline["p50_ms"]
    return {
        "scenario": {key: getattr(args, key) for key in ("workers", "submissions", "results", "replicas", "tabs",
                                                          "votes_per_min", "board_reads_per_min", "hour_s",
                                                          "eval_s", "speed", "cap_s", "worker_processes")},
        "hub_limits": {"commits_per_repo_hour": limits.commits_per_repo, "api_calls_per_5min": limits.api_calls,
                       "downloads_per_5min": limits.resolver_calls},
        "commits_per_repo_hour": commits,
        "commits_ratio_max": max((c["ratio"] for c in commits.values()), default=0.0),
        "api_calls_per_5min_peak": {**api, "ratio": _ratio(api["asked_peak"], limits.api_calls)},
        "downloads_per_5min_peak": {**downloads, "ratio": _ratio(downloads["asked_peak"], limits.resolver_calls)},
        "http_429": {"hour": hub_hour["refused_429"], "start": hub_start["refused_429"]},
        "start_phase_calls": {"api": hub_start["api"], "downloads": hub_start["resolvers"]},
        "board_read": {**board, "note": lower.strip(" ()"), "baseline_plain_read_p50_ms": base_ms,
                       "p95_over_baseline": _ratio(board["p95_ms"], base_ms) if base_ms else None,
                       "complete_fraction": round(board.get("complete", 0) / board_done, 3) if board_done else None,
                       "rows_expected": expected, "target_p95_ms": BOARD_P95_MS},
        "replica_start": _start_figures(starts["crowd"], starts["alone"], args.cap_s),
        "delivered": delivered(args, hour),
        "queue_poll": hour["queue_poll"],
        "requests": {"submissions": hour["outcomes"]["submissions"], "lost": accounts.get("lost", CAP),
                     "evaluated_twice": accounts.get("evaluated_twice", CAP), "account": accounts},
        "votes": hour["outcomes"]["votes"],
        "board_read_jobs": hour["outcomes"]["board_reads"],
        "hour": {k: hour[k] for k in ("virtual_s", "wall_s", "threads_still_busy", "workers_not_ready", "hub_cpu_s",
                                      "postgres_cpu_s",
                                      "queue_refresh_s", "worker_poll_s", "scheduled_jobs", "publish_every_s",
                                      "boards_refresh_s")},
        "processes": hour["processes"],
    }


def _fmt(value: object) -> str:
    return value if isinstance(value, str) else "-" if value is None else f"{value:g}"


def _verdict(ratio: float | None, target: float = TARGET_RATIO) -> str:
    return "-" if ratio is None else "ok" if ratio <= target else "OVER"


def rows(report: dict) -> list[tuple[str, str, str, str, str]]:
    """(figure, value, limit or target, ratio, verdict) for the printed table."""
    table = []
    for key, label in (("submissions_answered", "submissions answered / sent"),
                       ("evaluations_finished", "evaluations finished / expected (workers x hour / eval)"),
                       ("votes_stored", "votes stored / sent"), ("queue_polls_done", "Queue tab polls done / expected"),
                       ("board_reads_done", "board reads done / sent")):
        share = report["delivered"][key]
        table.append((f"delivered: {label}", f"{_fmt(share['done'])} / {_fmt(share['expected'])}", "1",
                      _fmt(share["ratio"]), "-" if share["ratio"] is None else
                      "ok" if share["ratio"] >= DELIVERED else "SHORT"))
    target = f"{report['hub_limits']['commits_per_repo_hour'] * TARGET_RATIO:g}"
    for repo, c in report["commits_per_repo_hour"].items():
        table.append((f"commits/hour to {repo} (asked; landed {c['landed']})", _fmt(c["asked_per_hour"]),
                      f"{target} (of {report['hub_limits']['commits_per_repo_hour']})", _fmt(c["ratio"]),
                      _verdict(c["ratio"])))
    for key, label, limit in (("api_calls_per_5min_peak", "API calls per token per 5 min, peak (asked)",
                               "api_calls_per_5min"),
                              ("downloads_per_5min_peak", "downloads per token per 5 min, peak (asked)",
                               "downloads_per_5min")):
        figure = report[key]
        table.append((label, _fmt(figure["asked_peak"]), str(report["hub_limits"][limit]), _fmt(figure["ratio"]),
                      _verdict(figure["ratio"])))
    refused = report["http_429"]["hour"]
    table.append(("429s seen in the hour (commits / api / downloads)",
                  " / ".join(str(refused.get(k, 0)) for k in ("commits", "api", "resolvers")), "0", "-",
                  "ok" if not any(refused.values()) else "OVER"))
    board = report["board_read"]
    for q in ("p50", "p95", "max"):
        value = board[f"{q}_ms"]
        ratio = _ratio(value, board["baseline_plain_read_p50_ms"]) if value is not None else None
        verdict = ("ok" if value <= BOARD_P95_MS else "OVER") if q == "p95" and value is not None else "-"
        table.append((f"board read {q}, ms ({board['count']} reads; x plain read of one file)",
                      ("≥ " if board["unfinished"] else "") + _fmt(value), f"{BOARD_P95_MS:g}" if q == "p95" else "-",
                      _fmt(ratio), verdict))
    table.append(("board reads showing every seeded row", _fmt(board["complete_fraction"]), "1", "-",
                  "ok" if board["complete_fraction"] == 1 else "OVER"))
    jobs = report["board_read_jobs"]
    waiting = jobs.get("replica_not_started", 0)
    table.append(("board reads sent to a replica not serving yet", f"{waiting} of {sum(jobs.values())}", "0", "-",
                  "ok" if not waiting else "OVER"))
    start = report["replica_start"]
    crowd = f"{start['first_board_served']['of']} at once"
    for figure, key, label in (
            (start["alone"], "first_board_served", "replica start alone: first board served, s"),
            (start["alone"], "every_row_served", "replica start alone: every seeded row served, s"),
            (start, "first_board_served", f"replica start, {crowd}: first board served, s (max)"),
            (start, "every_row_served", f"replica start, {crowd}: every seeded row served, s (max)")):
        value = figure[key]["max_s"]
        table.append((label, _fmt(value), f"{START_S:g}", "-",
                      "OVER" if value == CAP or value > START_S else "ok"))
    requests = report["requests"]
    for key in ("lost", "evaluated_twice"):
        table.append((f"requests {key.replace('_', ' ')} (read back from the store)", _fmt(requests[key]), "0",
                      "-", "ok" if requests[key] == 0 else "OVER"))
    account = requests["account"]
    table.append(("submissions (answers)", _counts(requests["submissions"]), "-", "-", "-"))
    table.append(("requests in the store by state", _counts(account.get("states", {})), "-", "-", "-"))
    table.append(("votes", _counts(report["votes"]), "-", "-", "-"))
    poll = report["queue_poll"]
    table.append(("Queue tab poll p50 / p95, ms", f"{_fmt(poll['p50_ms'])} / {_fmt(poll['p95_ms'])}", "-", "-", "-"))
    return table


def _counts(counter: dict) -> str:
    return ", ".join(f"{key} {value}" for key, value in sorted(counter.items())) or "none"


def cpu_by_kind(report: dict) -> dict[str, float]:
    """CPU seconds of the hour by kind of process: replicas, workers, the local Hub, PostgreSQL."""
    totals = {"replicas": 0.0, "workers": 0.0}
    for name, process in report["processes"].items():
        kind = "replicas" if name.startswith("replica-") else "workers"
        totals[kind] = round(totals[kind] + process.get("cpu_s", 0.0), 1)
    return {**totals, "hub": report["hour"]["hub_cpu_s"], "postgres": report["hour"]["postgres_cpu_s"]}


def print_table(report: dict) -> None:
    hour = report["hour"]
    print(f"\nScale (issue #15), tree {report['commit']}: {report['scenario']}")
    print(f"hour: {hour['virtual_s']:g} virtual s in {hour['wall_s']:g} wall s; whole run "
          f"{report.get('total_wall_s', '-')} wall s")
    cpu = cpu_by_kind(report)
    print("CPU s in the hour: " + ", ".join(f"{kind} {seconds:g}" for kind, seconds in cpu.items())
          + f": {sum(cpu.values()) / hour['wall_s']:.2f} cores of the machine's {os.cpu_count()}")
    print("| figure | value | Hub limit / target | ratio | |")
    print("|---|---:|---:|---:|---|")
    for row in rows(report):
        print("| " + " | ".join(row) + " |")
    for name, process in report["processes"].items():
        if process.get("error") or process.get("log", {}).get("counts"):
            print(f"\n{name}: {process.get('error') or ''}{_counts(process.get('log', {}).get('counts', {}))}")
            for line in process.get("log", {}).get("first", []):
                print(f"    {line}")

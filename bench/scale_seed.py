"""The 100k results ``bench/scale.py`` starts from, laid out as a deployment that has run for a while keeps them:

- the results, written once, as ``results/<id>.json`` files of the results dataset;
- the aggregated boards the boards job would have left (``boards/<challenge>.json`` in the boards dataset, built
  at the seeded results head, the published rows included);
- the FINISHED requests that produced the results, in the queue database.

The Hub files go straight into the local Hub's repo storage in one set-up commit per repo (``HubServer.push``,
not counted against any quota), the requests in one database transaction with a multi-row insert: writing 100k
records through the store would take the Hub's quotas, or hours of single-row transactions, before the measured
hour starts.
"""

from __future__ import annotations

import random
from collections.abc import Collection, Iterable

from sqlalchemy import text, update

from challenges.definitions import challenges
from leaderboard.published import all_published_records
from leaderboard.table import board_frame
from store.aggregates import BOARDS
from store.base import Record, dump_record
from store.record_contract import admit
from store.sql import SqlStore
from store.sql_schema import INDEXED_FIELDS, SEQ, counters, records
from store.states import FINISHED

BASES = ["Qwen2.5-7B-Instruct", "Llama-3.2-3B", "Mistral-7B-v0.3", "Phi-4", "SmolLM2-135M", "Gemma2-9B-instruct"]
SEEDED_AT = "2026-01-14T12:00:00+00:00"  # when the seeded aggregates were built (before the bench's day)


def synthetic_results(count: int, seed: int = 0) -> list[Record]:
    """``count`` evaluated results spread over the FlowerTune boards, shaped as the worker writes them."""
    rng = random.Random(seed)
    boards = [c for c in challenges().values() if c.limits.submission_kind == "adapter"]
    records_ = []
    for i in range(count):
        challenge = boards[i % len(boards)]
        scores = {c.key: round(rng.uniform(0, 90), 2) for c in challenge.columns}
        team = f"team-{rng.randrange(count // 3 + 1)}"
        records_.append({
            "id": f"result-seed-{i:06d}", "request_id": f"seed-{i:06d}", "challenge": challenge.id,
            "source": "evaluated", "team": team, "name": f"{team}/adapter-{i}", "model_repo": f"{team}/adapter-{i}",
            "model_commit": f"{i:040x}", "base_model": rng.choice(BASES), "comm_gb": round(rng.uniform(0.1, 199), 1),
            "scores": scores, "average": round(sum(scores.values()) / len(scores), 2),
            "date": f"2025-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d}",
            "provenance": {"worker": "seed", "device": "simulated", "duration_s": 1200.0},
        })
    return records_


def board_rows(results: list[Record]) -> list[Record]:
    """What the boards show: the results and the published rows (which live only in the aggregates)."""
    return results + all_published_records()


def expected_rows(rows: list[Record]) -> dict[str, int]:
    """Rows each board shows for ``rows``, by the boards' own table code."""
    return {cid: len(board_frame(challenge, rows)) for cid, challenge in challenges().items()}


def seed_hub(server, repos: Iterable[str], results_repo: str, boards_repo: str, results: list[Record],
             private: Collection[str] = ()) -> None:
    """Every dataset the deployment names (empty; those in ``private`` private), the results in the results
    dataset, then the aggregates of every challenge in the boards dataset, built at the results head just pushed
    (as the boards job pins it)."""
    for repo in repos:
        server.add_dataset(repo, private=repo in private)
    head = server.push(results_repo, {f"results/{r['id']}.json": dump_record(r) for r in results},
                       repo_type="dataset", message=f"seed {len(results)} results")
    by_challenge: dict[str, list[Record]] = {cid: [] for cid in challenges()}
    for row in sorted(board_rows(results), key=lambda r: r["id"]):
        by_challenge[row["challenge"]].append(row)
    aggregates = {f"{BOARDS}/{cid}.json": dump_record({"id": cid, "challenge": cid, "built_at": SEEDED_AT,
                                                       "results_version": head, "rows": rows})
                  for cid, rows in by_challenge.items()}
    server.push(boards_repo, aggregates, repo_type="dataset", message="seed the aggregated boards")


def finished_requests(results: list[Record]) -> list[Record]:
    """The FINISHED request behind each seeded result (the fields the worker leaves on a finished request)."""
    return [{"id": r["request_id"], "challenge": r["challenge"], "kind": "adapter", "repo_id": r["model_repo"],
             "revision": "main", "commit": r["model_commit"], "base_model": r["base_model"], "team": r["team"],
             "team_key": r["team"], "comm_gb": r["comm_gb"], "submitted_at": "2026-01-10T09:00:00+00:00",
             "state": FINISHED, "attempts": 1, "worker": "seed", "heartbeat_at": "2026-01-10T09:20:00+00:00",
             "started_at": "2026-01-10T09:00:05+00:00", "finished_at": "2026-01-10T09:20:00+00:00",
             "progress": {"done": 1, "total": 1}, "failure": None, "result_id": r["id"]} for r in results]


def seed_queue(database_url: str, requests: list[Record]) -> None:
    """``requests`` in the queue database in one transaction (rows as ``SqlStore`` writes them, with seqs from its
    counter), and the one-time import from the Hub marked done, as on a database that has served before (its
    planner statistics gathered)."""
    live = SqlStore(database_url)  # creates the tables
    try:
        with live.engine.begin() as connection:
            last = connection.execute(update(counters).where(counters.c.name == SEQ)
                                      .values(value=counters.c.value + len(requests))
                                      .returning(counters.c.value)).scalar()
            rows = []
            for seq, request in enumerate(requests, start=last - len(requests) + 1):
                indexed = admit("requests", request)
                rows.append({"collection": "requests", "id": request["id"], "seq": seq, "deleted": False,
                             "body": dump_record(request).decode("utf-8"),
                             **{name: indexed.get(name) if isinstance(indexed.get(name), str) else None
                                for name in INDEXED_FIELDS}})
            if rows:
                connection.execute(records.insert(), rows)
            connection.execute(counters.insert(), [{"name": f"imported:{c}", "value": 0} for c in live.collections])
        if live.engine.dialect.name == "postgresql":  # the planner's statistics, as autovacuum keeps them
            with live.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
                connection.execute(text("ANALYZE"))
    finally:
        live.engine.dispose()

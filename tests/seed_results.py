"""Many result records on the local Hub in one set-up commit (the boards' scale tests)."""

from __future__ import annotations

from pathlib import Path

from store.base import Record, dump_record
from tests.board_records import result
from tests.hub_server import HubServer

CHALLENGE_IDS = ("general_nlp", "finance", "medical", "code")


def many_results(count: int) -> list[Record]:
    """``count`` evaluated results spread over the FlowerTune challenges, each with its own team and average."""
    return [{**result(f"r{n:06d}", f"team-{n}", round(20 + (n * 7919 % 6000) / 100, 2),
                      challenge=CHALLENGE_IDS[n % len(CHALLENGE_IDS)], date="2026-01-14"), "request_id": f"q{n:06d}"}
            for n in range(count)]


def seed_results(server: HubServer, repo: str, records: list[Record]) -> str:
    """Write ``records`` as ``results/<id>.json`` files of ``repo`` in one commit; returns the new head."""
    files = {f"results/{record['id']}.json": dump_record(record) for record in records}
    return server.push(repo, files, repo_type="dataset", message=f"seed {len(records)} results")


def seed_boards(server: HubServer, repo: str, records: list[Record], results_version: str,
                built_at: str = "2026-01-14T12:00:00+00:00") -> str:
    """The aggregated boards the boards job would have built from ``records`` (one file per challenge), in one
    commit of ``repo``; returns the new head."""
    rows: dict[str, list[Record]] = {}
    for record in sorted(records, key=lambda r: r["id"]):
        rows.setdefault(record["challenge"], []).append(record)
    files = {f"boards/{cid}.json": dump_record({"id": cid, "challenge": cid, "built_at": built_at,
                                                 "results_version": results_version, "rows": found})
             for cid, found in rows.items()}
    return server.push(repo, files, repo_type="dataset", message="seed boards")


def write_finished_requests(folder: Path, records: list[Record]) -> None:
    """One FINISHED request per result, written straight into a local store's ``requests`` folder (a table of
    20,000 rows in seconds; ``LocalStore.put`` re-reads the folder at every write)."""
    (folder / "requests").mkdir(parents=True, exist_ok=True)
    for record in records:
        request = {"id": record["request_id"], "state": "FINISHED", "result_id": record["id"],
                   "challenge": record["challenge"], "team": record["team"],
                   "submitted_at": "2026-01-14T09:00:00+00:00"}
        (folder / "requests" / f"{request['id']}.json").write_bytes(dump_record(request))

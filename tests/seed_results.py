"""Many result records on the local Hub in one set-up commit (the boards' scale tests)."""

from __future__ import annotations

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

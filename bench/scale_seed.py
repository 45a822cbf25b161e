"""The 100k results ``bench/scale.py`` starts from, and the files that hold them in the local Hub.

Seeding goes straight into the Hub's repo storage in one set-up commit (``HubServer.push``, not counted
against any quota): writing 100k records through the store would take the Hub's commit and call quotas many
times over before the measured hour starts.
"""

from __future__ import annotations

import random
from collections.abc import Iterable

from challenges.definitions import challenges
from leaderboard.published import all_published_records
from leaderboard.table import board_frame
from store.base import Record, dump_record

BASES = ["Qwen2.5-7B-Instruct", "Llama-3.2-3B", "Mistral-7B-v0.3", "Phi-4", "SmolLM2-135M", "Gemma2-9B-instruct"]


def synthetic_results(count: int, seed: int = 0) -> list[Record]:
    """``count`` evaluated results spread over the FlowerTune boards (shaped as the worker writes them), then
    the published rows a replica imports at start (stored already, as on a Space that has run before)."""
    rng = random.Random(seed)
    boards = [c for c in challenges().values() if c.limits.submission_kind == "adapter"]
    records = []
    for i in range(count):
        challenge = boards[i % len(boards)]
        scores = {c.key: round(rng.uniform(0, 90), 2) for c in challenge.columns}
        team = f"team-{rng.randrange(count // 3 + 1)}"
        records.append({
            "id": f"result-seed-{i:06d}", "request_id": f"seed-{i:06d}", "challenge": challenge.id,
            "source": "evaluated", "team": team, "name": f"{team}/adapter-{i}", "model_repo": f"{team}/adapter-{i}",
            "model_commit": f"{i:040x}", "base_model": rng.choice(BASES), "comm_gb": round(rng.uniform(0.1, 199), 1),
            "scores": scores, "average": round(sum(scores.values()) / len(scores), 2),
            "date": f"2025-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d}",
            "provenance": {"worker": "seed", "device": "simulated", "duration_s": 1200.0},
        })
    return records + all_published_records()


def expected_rows(records: list[Record]) -> dict[str, int]:
    """Rows each board shows for ``records``, by the boards' own table code."""
    return {cid: len(board_frame(challenge, records)) for cid, challenge in challenges().items()}


def seed_files(repos: Iterable[str], results_repo: str, records: list[Record]) -> dict[str, dict[str, bytes]]:
    """Repo -> files to push: every dataset the environment names (empty), the results in the results
    dataset laid out as the tree's Hub store keeps a collection (``results/<id>.json``)."""
    seed: dict[str, dict[str, bytes]] = {repo: {} for repo in repos}
    seed[results_repo] = {f"results/{record['id']}.json": dump_record(record) for record in records}
    return seed

"""Which entries of a board the arena can serve, and which two face each other.

An entry is servable when its result record names weights pinned to a commit: a PEFT adapter (with its base
model and the base's commit) or a full model (merged entries). Published historical rows name no weights and
are left out.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any, Sequence

from arena.generation import Side
from evaluator.loading import ModelRef

Record = dict[str, Any]


@dataclass(frozen=True)
class ArenaEntry:
    """One servable entry: its result id (the key votes and ratings use), a display label, what to load, and
    its rank on the board (1 = best)."""

    id: str
    label: str
    side: Side
    rank: int

    def describe(self) -> dict[str, Any]:
        """What a vote records about this entry: enough to know exactly which weights answered."""
        adapter = self.side.adapter
        return {
            "entry": self.id,
            "label": self.label,
            "model_repo": self.side.model.repo,
            "model_commit": self.side.model.revision,
            "adapter_repo": adapter.repo if adapter else None,
            "adapter_commit": adapter.revision if adapter else None,
        }


FULL_MODEL_KINDS = ("merged_model", "merge")


def side_of(record: Record) -> Side | None:
    """The weights a result record names, or None when it names none (published rows) or is not pinned.

    Result records (``evaluator/worker.py``) carry ``model_repo``/``model_commit`` (the adapter) and
    ``base_model``/``base_commit`` (its base). A full model (a merged entry: ``kind`` ``merged_model``, or no
    base model named) is served on its own.
    """
    repo, commit = record.get("model_repo"), record.get("model_commit")
    if not repo or not commit or record.get("source") == "published":
        return None
    base_repo, base_commit = record.get("base_model"), record.get("base_commit")
    if record.get("kind") in FULL_MODEL_KINDS or not base_repo:
        return Side(ModelRef(repo, commit))
    if not base_commit:
        return None
    return Side(ModelRef(base_repo, base_commit), ModelRef(repo, commit))


def entry_label(record: Record) -> str:
    """What the arena shows for an entry: team and model, as the board names them."""
    team, name = record.get("team"), record.get("name") or record.get("model_repo")
    return f"{team} · {name}" if team and name and team != name else str(team or name or record["id"])


def servable_entries(records: Sequence[Record], board: str) -> list[ArenaEntry]:
    """The board's servable entries, best first (by average, then earlier date, then id, as the board ranks),
    ranked among themselves."""
    rows = [
        r
        for r in records
        if r.get("challenge") == board and not r.get("hidden") and r.get("average") is not None and side_of(r)
    ]
    rows.sort(key=lambda r: (-float(r["average"]), r.get("date") or "", r["id"]))
    return [
        ArenaEntry(r["id"], entry_label(r), side_of(r), rank)
        for rank, r in enumerate(rows, start=1)
    ]


def default_pair(entries: Sequence[ArenaEntry]) -> tuple[ArenaEntry, ArenaEntry]:
    """The top two servable entries."""
    if len(entries) < 2:
        raise ValueError("this board has fewer than two entries the arena can serve")
    return entries[0], entries[1]


def random_pair(entries: Sequence[ArenaEntry], rng: random.Random) -> tuple[ArenaEntry, ArenaEntry]:
    """Two different entries drawn uniformly, in random sides (for anonymous battles). Pass a seeded
    ``random.Random`` for reproducible draws."""
    if len(entries) < 2:
        raise ValueError("this board has fewer than two entries the arena can serve")
    a, b = rng.sample(list(entries), 2)
    return a, b

"""Which entries of a board the arena can serve, and which two face each other.

Only verified results are entries (source ``evaluated``): not published historical rows (they name no
weights), not partial smoke runs, and not an organiser's re-check of a published row (``rechecks``: a
re-evaluation of that row, not an entry of its own). An entry is servable when its result names weights pinned
to a commit: a PEFT adapter (with its base model and the base's commit), a full model (a merged-model repo), or
a merge recipe with the digest of its merged weights, which the arena redoes into ``merge_cache``
(:mod:`arena.merge_cache`).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from arena.generation import Side
from arena.merge_cache import RecipeMerge
from models.loading import ModelRef

Record = dict[str, Any]


@dataclass(frozen=True)
class ArenaEntry:
    """One servable entry: its result id (the key votes and ratings use), a display label, what to load, its
    rank on the board (1 = best), its parameter count when the result records it, and for a recipe entry the
    merge that makes its weights."""

    id: str
    label: str
    side: Side
    rank: int
    params: int | None = None
    recipe: RecipeMerge | None = None

    def describe(self) -> dict[str, Any]:
        """What a vote records about this entry: enough to know exactly which weights answered."""
        adapter = self.side.adapter
        if self.recipe is not None:  # a local merge: named by its weights' digest, not by this machine's path
            return {"entry": self.id, "label": self.label, "model_repo": None, "model_commit": None,
                    "adapter_repo": None, "adapter_commit": None, "merged_sha256": self.recipe.merged_sha256}
        return {
            "entry": self.id,
            "label": self.label,
            "model_repo": self.side.model.repo,
            "model_commit": self.side.model.revision,
            "adapter_repo": adapter.repo if adapter else None,
            "adapter_commit": adapter.revision if adapter else None,
        }


FULL_MODEL_KINDS = ("merged_model", "merge")
VERIFIED = "evaluated"


def recipe_of(record: Record) -> RecipeMerge | None:
    """The merge a recipe entry's result records (``merge.recipe`` and ``merge.merged_sha256``), else None."""
    merge = record.get("merge")
    if not isinstance(merge, dict) or merge.get("kind") != "merge_recipe":
        return None
    recipe, digest = merge.get("recipe"), merge.get("merged_sha256")
    return RecipeMerge(recipe, digest) if isinstance(recipe, str) and isinstance(digest, str) and digest else None


def side_of(record: Record, merge_cache: Path | None = None) -> Side | None:
    """The weights a result record names, or None when it names none (published rows) or is not pinned.

    Result records (``evaluator/worker.py``) carry ``model_repo``/``model_commit`` (the adapter) and
    ``base_model``/``base_commit`` (its base). A full model (a merged entry: ``kind`` ``merged_model``, or no
    base model named) is served on its own; a recipe entry from its merge's folder under ``merge_cache``
    (None: recipe entries are not served).
    """
    recipe = recipe_of(record)
    if recipe is not None:
        return Side(ModelRef(str(merge_cache / recipe.merged_sha256))) if merge_cache else None
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


def is_entry(record: Record, board: str) -> bool:
    """Whether a result is a verified entry of ``board`` (not published, partial, hidden or a re-check)."""
    return (record.get("challenge") == board and record.get("source") == VERIFIED and not record.get("rechecks")
            and not record.get("hidden") and record.get("average") is not None)


def servable_entries(records: Sequence[Record], board: str, merge_cache: Path | None = None) -> list[ArenaEntry]:
    """The board's servable entries, best first (by average, then earlier date, then id, as the board ranks),
    ranked among themselves. ``merge_cache``: where recipe entries are merged (None: they are left out)."""
    rows = [r for r in records if is_entry(r, board) and side_of(r, merge_cache)]
    rows.sort(key=lambda r: (-float(r["average"]), r.get("date") or "", r["id"]))
    return [
        ArenaEntry(r["id"], entry_label(r), side_of(r, merge_cache), rank, _params(r), recipe_of(r))
        for rank, r in enumerate(rows, start=1)
    ]


def _params(record: Record) -> int | None:
    value = record.get("params_total")
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


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

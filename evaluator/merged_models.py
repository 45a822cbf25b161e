"""A merging request as a local model folder: the submitted merged repo at its commit, or the recipe merged here.

Downloading and merging are :mod:`merges.snapshots` (shared with the arena, which redoes verified merges);
this module says whose fault a failure is. A recipe is merged on the CPU (see evaluator/SUITES.md, "Merging:
memory plan"). Everything lives under one temporary folder the caller removes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evaluator.failures import EVALUATOR, SUBMISSION, EvaluationFailed
from merges import snapshots
from merges.recipe import RecipeError, parse_recipe
from merges.references import Component

MERGE_KINDS = ("merged_model", "merge_recipe")
NOT_COUNTED = "This does not count against your submission limit."


@dataclass(frozen=True)
class PreparedModel:
    """The folder to evaluate and the result's ``merge`` block (what anyone needs to redo the merge)."""

    path: Path
    merge: dict[str, Any]


def prepare(request: dict, work: Path, check: Callable[[], None]) -> PreparedModel:
    """The request's model as a local folder under ``work``; ``check`` runs between steps (time budget, claim)."""
    if request["kind"] == "merged_model":
        path = download(Component(request["repo_id"], request.get("commit") or "", "model"), work / "model")
        check()
        return PreparedModel(path, {"kind": "merged_model", "recipe": None, "components": [],
                                    "merged_sha256": None, "method": None})
    try:
        recipe = parse_recipe(request["recipe"])
    except RecipeError as error:  # the submission checked it; a recipe stored otherwise still fails clearly
        raise EvaluationFailed(f"the merge recipe cannot be run: {error}") from error
    try:
        merged = snapshots.merge_from_hub(recipe, work, between=check)
    except snapshots.SnapshotError as error:
        raise _download_failed(error) from error
    except (RuntimeError, ValueError, KeyError, OSError) as error:
        raise EvaluationFailed(f"mergekit could not merge the recipe: {type(error).__name__}: {error}",
                               SUBMISSION) from error
    except MemoryError as error:
        raise EvaluationFailed(f"the merge ran out of memory on this worker. {NOT_COUNTED}", EVALUATOR) from error
    components = [{"repo": c.repo, "revision": c.revision, "kind": c.kind} for c in recipe.components]
    return PreparedModel(merged.path, {"kind": "merge_recipe", "recipe": recipe.text, "components": components,
                                       "merged_sha256": merged.weights_sha256, "method": recipe.method})


def download(component: Component, target: Path) -> Path:
    """``component`` at its pinned commit into ``target``; a failure says whose fault it is."""
    try:
        return snapshots.download(component, target)
    except snapshots.SnapshotError as error:
        raise _download_failed(error) from error


def _download_failed(error: snapshots.SnapshotError) -> EvaluationFailed:
    if error.submissions_fault:
        return EvaluationFailed(str(error), SUBMISSION)
    return EvaluationFailed(f"{error}. {NOT_COUNTED}", EVALUATOR)

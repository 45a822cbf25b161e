"""A merging request as a local model folder: the submitted merged repo at its commit, or the recipe merged here.

Only safetensors weights, configs and tokenizer files are downloaded (no pickles, no code: remote code is
never run), each repo at the commit the request pinned, anonymously (components must be public). A recipe is
merged on the CPU by :func:`evaluator.merge_run.run_recipe` (see evaluator/SUITES.md, "Merging: memory plan");
the components' snapshots are deleted once merged, and the merge's memory is freed before the merged model is
loaded for evaluation. Everything lives under one temporary folder the caller removes.
"""

from __future__ import annotations

import gc
import hashlib
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from evaluator.failures import EVALUATOR, SUBMISSION, EvaluationFailed
from evaluator.merge_run import MergedModel, run_recipe
from merges.recipe import Recipe, RecipeError, parse_recipe
from merges.references import COMMIT, Component

MERGE_KINDS = ("merged_model", "merge_recipe")
# what a model or adapter needs to be loaded or merged; nothing executable, no pickled weights
ALLOWED_FILES = ["*.safetensors", "*.json", "tokenizer.model", "*.tiktoken", "merges.txt", "vocab.txt"]


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
    snapshots = {}
    for component in recipe.components:
        snapshots[component] = download(component, work / "components" / _folder_name(component))
        check()
    merged = _merge(recipe, snapshots, work)
    check()
    components = [{"repo": c.repo, "revision": c.revision, "kind": c.kind} for c in recipe.components]
    return PreparedModel(merged.path, {"kind": "merge_recipe", "recipe": recipe.text, "components": components,
                                       "merged_sha256": merged.weights_sha256, "method": recipe.method})


def download(component: Component, target: Path) -> Path:
    """``component`` at its pinned commit into ``target`` (safetensors weights, configs and tokenizer only)."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import (
        DisabledRepoError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    if not COMMIT.fullmatch(component.revision):
        raise EvaluationFailed(f"{component.repo} is not pinned to a commit ({component.revision!r})")
    try:
        path = Path(snapshot_download(component.repo, revision=component.revision, local_dir=target,
                                      allow_patterns=ALLOWED_FILES, token=False,
                                      endpoint=os.environ.get("HF_ENDPOINT") or None))
    except (RepositoryNotFoundError, RevisionNotFoundError, DisabledRepoError) as error:  # gated: a subclass
        raise EvaluationFailed(f"{component} could not be downloaded: it is not public, or has no such commit "
                               f"({type(error).__name__})", SUBMISSION) from error
    except Exception as error:  # noqa: BLE001 - the Hub unreachable or failing: not the submission's fault
        raise EvaluationFailed(f"{component} could not be downloaded from the Hub ({type(error).__name__}: "
                               f"{error}). This does not count against your submission limit.", EVALUATOR) from error
    if not any(path.glob("*.safetensors")):
        raise EvaluationFailed(f"{component} has no safetensors weights at that commit: only .safetensors files "
                               "are loaded (no pickled .bin weights)")
    return path


def _merge(recipe: Recipe, snapshots: dict[Component, Path], work: Path) -> MergedModel:
    """Run mergekit, then delete the component snapshots and free the merge's memory before evaluation."""
    try:
        merged = run_recipe(recipe, snapshots, work)
    except (RuntimeError, ValueError, KeyError, OSError) as error:
        raise EvaluationFailed(f"mergekit could not merge the recipe: {type(error).__name__}: {error}",
                               SUBMISSION) from error
    except MemoryError as error:
        raise EvaluationFailed("the merge ran out of memory on this worker. This does not count against your "
                               "submission limit.", EVALUATOR) from error
    finally:
        shutil.rmtree(work / "components", ignore_errors=True)
        gc.collect()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    return merged


def _folder_name(component: Component) -> str:
    """A folder name mergekit reads as a plain path (no '@' or '+')."""
    return hashlib.sha1(str(component).encode()).hexdigest()[:16]

"""Merge a recipe from the Hub: download each component at its pinned commit, then merge with :mod:`merges.run`.

Only safetensors weights, configs and tokenizer files are downloaded (no pickles, no code: remote code is
never run), each repo at the commit the recipe pins, anonymously (components must be public). The component
snapshots are deleted once merged and the merge's memory is freed, so the merged model can be loaded next.
The evaluator (scoring a recipe) and the arena (serving a verified recipe entry) both merge this way; each
says in its own words whose fault a :class:`SnapshotError` is.
"""

from __future__ import annotations

import gc
import hashlib
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import torch

from merges.recipe import Recipe
from merges.references import COMMIT, Component
from merges.run import MergedModel, run_recipe

# what a model or adapter needs to be loaded or merged; nothing executable, no pickled weights
ALLOWED_FILES = ["*.safetensors", "*.json", "tokenizer.model", "*.tiktoken", "merges.txt", "vocab.txt"]


class SnapshotError(Exception):
    """A component could not be downloaded; ``str(error)`` says why. ``submissions_fault``: the component
    itself is at fault (not public, no such commit, no safetensors), rather than the Hub or this machine."""

    def __init__(self, message: str, submissions_fault: bool):
        super().__init__(message)
        self.submissions_fault = submissions_fault


def download(component: Component, target: Path) -> Path:
    """``component`` at its pinned commit into ``target`` (safetensors weights, configs and tokenizer only).

    Raises:
        SnapshotError: not pinned, not public or no such commit, no safetensors weights, or the Hub failed.
    """
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import (
        DisabledRepoError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    if not COMMIT.fullmatch(component.revision):
        raise SnapshotError(f"{component.repo} is not pinned to a commit ({component.revision!r})", True)
    try:
        path = Path(snapshot_download(component.repo, revision=component.revision, local_dir=target,
                                      allow_patterns=ALLOWED_FILES, token=False,
                                      endpoint=os.environ.get("HF_ENDPOINT") or None))
    except (RepositoryNotFoundError, RevisionNotFoundError, DisabledRepoError) as error:  # gated: a subclass
        raise SnapshotError(f"{component} could not be downloaded: it is not public, or has no such commit "
                            f"({type(error).__name__})", True) from error
    except Exception as error:  # the Hub unreachable or failing: not the component's fault
        raise SnapshotError(f"{component} could not be downloaded from the Hub ({type(error).__name__}: "
                            f"{error})", False) from error
    if not any(path.glob("*.safetensors")):
        raise SnapshotError(f"{component} has no safetensors weights at that commit: only .safetensors files "
                            "are loaded (no pickled .bin weights)", True)
    return path


def merge_from_hub(recipe: Recipe, work: Path, between: Callable[[], None] = lambda: None,
                   on_step: Callable[[str], None] = lambda _step: None) -> MergedModel:
    """Download the recipe's components under ``work`` and merge them into a new folder under ``work``.

    Args:
        between: called after each download and after the merge (a time budget, a claim check); may raise.
        on_step: told what happens next, in words ("downloading 1 of 3: owner/name", "merging").

    Raises:
        SnapshotError: a component could not be downloaded. Errors of mergekit pass through.
    """
    components = work / "components"
    try:
        snapshots = {}
        for number, component in enumerate(recipe.components, start=1):
            on_step(f"downloading component {number} of {len(recipe.components)}: {component.repo}")
            snapshots[component] = download(component, components / _folder_name(component))
            between()
        on_step("merging")
        merged = run_recipe(recipe, snapshots, work)
    finally:
        shutil.rmtree(components, ignore_errors=True)
        gc.collect()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    between()
    return merged


def _folder_name(component: Component) -> str:
    """A folder name mergekit reads as a plain path (no '@' or '+')."""
    return hashlib.sha1(str(component).encode()).hexdigest()[:16]

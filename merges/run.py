"""Run a checked merge recipe with mergekit on local snapshots of its components, and hash the result.

The recipe's pinned Hub references are swapped for the snapshot folders (the download is the caller's
job), remote code is never trusted, and the output goes to a fresh folder under ``out_root``. The hash
of the merged safetensors lets anyone who redoes the merge check they got the same weights."""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mergekit.config import MergeConfiguration
from mergekit.merge import run_merge
from mergekit.options import MergeOptions

from merges.recipe import Recipe
from merges.references import Component, parse_reference

OUT_SHARD_BYTES = 2_000_000_000  # the merged weights are written shard by shard, never held whole


@dataclass(frozen=True)
class MergedModel:
    """The merged model's folder (config, tokenizer, safetensors) and the digest of its weights."""

    path: Path
    weights_sha256: str
    seed: int


def run_recipe(
    recipe: Recipe,
    snapshots: Mapping[Component, Path],
    out_root: Path,
    *,
    seed: int = 0,
    device: str = "cpu",
) -> MergedModel:
    """Merge ``recipe`` from the local ``snapshots`` of its components into a new folder under ``out_root``.

    Args:
        recipe: a recipe from ``merges.recipe.parse_recipe``.
        snapshots: a local folder for every component of the recipe.
        out_root: where the merged model's folder (and mergekit's merged-LoRA cache) is created.
        seed: seeds the random drops of the DARE methods, so the same recipe gives the same weights.
        device: where mergekit does the arithmetic ("cpu", "cuda").

    Raises:
        KeyError: a component has no snapshot.
    """
    work = Path(tempfile.mkdtemp(prefix="merge-", dir=out_root))
    options = MergeOptions(
        trust_remote_code=False,
        device=device,
        random_seed=seed,
        lora_merge_cache=str(work / "lora-merges"),
        lora_merge_dtype=recipe.config.dtype,
        lazy_unpickle=True,  # tensors are read one at a time, not whole checkpoints (evaluator/SUITES.md)
        out_shard_size=OUT_SHARD_BYTES,
        copy_tokenizer=True,
        write_model_card=False,
        safe_serialization=True,
        quiet=True,
    )
    out = work / "merged"
    run_merge(localised(recipe, snapshots), str(out), options)
    return MergedModel(out, weights_sha256(out), seed)


def localised(recipe: Recipe, snapshots: Mapping[Component, Path]) -> MergeConfiguration:
    """The recipe's configuration with each pinned reference replaced by its snapshot folder."""
    local = {reference: _local_reference(reference, snapshots) for reference in recipe.references}
    return MergeConfiguration.model_validate(_replace(recipe.config.model_dump(mode="json"), local))


def _local_reference(reference: str, snapshots: Mapping[Component, Path]) -> str:
    paths = [str(Path(snapshots[component]).resolve()) for component in parse_reference(reference)]
    for path in paths:
        if "@" in path or "+" in path:  # mergekit would read them as a revision or a LoRA
            raise ValueError(f"Snapshot folder '{path}' must not contain '@' or '+'")
    return "+".join(paths)


def _replace(value: Any, local: Mapping[str, str]) -> Any:
    if isinstance(value, dict):
        return {key: _replace(item, local) for key, item in value.items()}
    if isinstance(value, list):
        return [_replace(item, local) for item in value]
    if isinstance(value, str) and value in local:
        return local[value]
    return value


def weights_sha256(folder: Path) -> str:
    """sha256 over the folder's ``*.safetensors`` files in name order (each name, then its bytes)."""
    digest = hashlib.sha256()
    for path in sorted(Path(folder).glob("*.safetensors")):
        digest.update(path.name.encode() + b"\0")
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


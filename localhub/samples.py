"""The sample repos the local Hub serves: a tiny random-weight Llama base and a few LoRA adapters per
FlowerTune challenge, built deterministically (fixed seeds) at first start and kept in a folder, plus a
catalog dataset (``localhub/samples``) that tells the Space which adapter ids to offer.

The adapters are random LoRA weights: their scores mean nothing. They exist so a newcomer can watch the
whole submit -> evaluate -> board path offline in minutes.
"""

from __future__ import annotations

import json
from pathlib import Path

BASE_MODEL = "sample/tiny-llama"
CATALOG_REPO = "localhub/samples"  # a dataset repo holding samples.json
CATALOG_FILE = "samples.json"
CHALLENGES = ("general_nlp", "finance", "medical", "code")
VARIANTS = ("a", "b")


def adapter_ids(challenge: str) -> list[str]:
    return [f"sample/{challenge.replace('_', '-')}-lora-{v}" for v in VARIANTS]


def catalog() -> dict:
    """What the Submit tab shows: the base model and the adapter ids per challenge."""
    return {"base_model": BASE_MODEL, "adapters": {c: adapter_ids(c) for c in CHALLENGES}}


def build_sample_models(folder: Path) -> dict[str, Path]:
    """Repo id -> a folder of its files; builds what is missing under ``folder`` (seconds, first start only)."""
    from localhub.tiny_models import build_lora, build_tiny_llama

    folder = Path(folder)
    base = folder / "tiny-llama"
    if not (base / "config.json").exists():
        build_tiny_llama(base, seed=0)
    repos = {BASE_MODEL: base}
    seed = 100
    for challenge in CHALLENGES:
        for repo_id in adapter_ids(challenge):
            seed += 1
            path = folder / repo_id.split("/", 1)[1]
            if not (path / "adapter_config.json").exists():
                build_lora(base, path, seed=seed, scale=0.5)
                config_path = path / "adapter_config.json"
                config = json.loads(config_path.read_text())
                config["base_model_name_or_path"] = BASE_MODEL
                config_path.write_text(json.dumps(config, indent=2))
            repos[repo_id] = path
    return repos


def folder_files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def load_samples(server, folder: Path) -> None:
    """Put the sample models and the catalog on ``server`` (a :class:`localhub.server.HubServer`)."""
    for repo_id, path in build_sample_models(folder).items():
        server.add_model(repo_id, folder_files(path))
    server.add_dataset(CATALOG_REPO, {CATALOG_FILE: json.dumps(catalog(), indent=2).encode()})

"""Merging-track repos on the local Hub: tiny Llamas and LoRA adapters built in the test, config-only
repos of published shapes, and merged-model repos with and without custom code."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from localhub.tiny_models import build_lora, build_tiny_llama
from tests.hub_server import HubServer

OLD = datetime(2024, 3, 1, tzinfo=UTC)  # before any cut-off the tests set
LATE = datetime(2025, 6, 1, tzinfo=UTC)
# Meta-Llama-3-8B's config.json fields (8,030,261,248 parameters), and the same with 36 layers (8.90 B)
LLAMA3_8B = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 4096,
             "intermediate_size": 14336, "num_hidden_layers": 32, "num_attention_heads": 32, "num_key_value_heads": 8,
             "vocab_size": 128256, "tie_word_embeddings": False}
LLAMA_9B = {**LLAMA3_8B, "num_hidden_layers": 36}


def folder_files(folder: Path, base_repo: str | None = None) -> dict[str, bytes]:
    """A saved model or adapter folder as Hub files; an adapter's base is renamed to ``base_repo``."""
    files = {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}
    if base_repo and "adapter_config.json" in files:
        config = json.loads(files["adapter_config.json"])
        files["adapter_config.json"] = json.dumps({**config, "base_model_name_or_path": base_repo}).encode()
    return files


def build_folders(root: Path) -> dict[str, Path]:
    """Two tiny Llamas of one shape and two LoRA adapters on the first (built once per module)."""
    first = build_tiny_llama(root / "tiny-a", seed=0)
    return {"tiny-a": first, "tiny-b": build_tiny_llama(root / "tiny-b", seed=1),
            "lora-a": build_lora(first, root / "lora-a", seed=2), "lora-b": build_lora(first, root / "lora-b", seed=3)}


def add_merging_repos(hub: HubServer, folders: dict[str, Path]) -> dict[str, str]:
    """Push the merging fixtures; returns each repo's head commit."""
    tiny = folder_files(folders["tiny-a"])
    remote = {**tiny, "modeling_custom.py": b"class Custom: ...\n",
              "config.json": json.dumps({**json.loads(tiny["config.json"]),
                                         "auto_map": {"AutoModelForCausalLM": "modeling_custom.Custom"}}).encode()}
    repos = {
        "org/tiny-llama": (tiny, OLD, False),
        "org/tiny-llama-b": (folder_files(folders["tiny-b"]), OLD, False),
        "team/lora-a": (folder_files(folders["lora-a"], "org/tiny-llama"), OLD, False),
        "team/lora-b": (folder_files(folders["lora-b"], "org/tiny-llama"), OLD, False),
        "org/late-llama": (folder_files(folders["tiny-b"]), LATE, False),
        "org/hidden-llama": (tiny, OLD, True),
        "org/llama3-8b-config": ({"config.json": json.dumps(LLAMA3_8B).encode()}, OLD, False),
        "org/llama3-8b-config-b": ({"config.json": json.dumps(LLAMA3_8B).encode()}, OLD, False),
        "org/llama-9b-config": ({"config.json": json.dumps(LLAMA_9B).encode()}, OLD, False),
        "org/llama-9b-config-b": ({"config.json": json.dumps(LLAMA_9B).encode()}, OLD, False),
        "team/merged": (tiny, LATE, False),
        "team/merged-remote-code": (remote, LATE, False),
        "team/merged-bin": ({"config.json": tiny["config.json"], "pytorch_model.bin": b"pickle"}, LATE, False),
    }
    return {repo: hub.add_model(repo, files, private=private, date=date)
            for repo, (files, date, private) in repos.items()}


def two_loras(heads: dict[str, str], base: str = "org/tiny-llama") -> str:
    """The starter kit's two-adapter recipe on the tiny Llama."""
    return (f"merge_method: linear\nmodels:\n"
            f"  - model: {base}@{heads[base]}+team/lora-a@{heads['team/lora-a']}\n    parameters:\n      weight: 0.8\n"
            f"  - model: {base}@{heads[base]}+team/lora-b@{heads['team/lora-b']}\n    parameters:\n      weight: 0.2\n"
            "dtype: float16\n")


def average(first: str, second: str) -> str:
    """An average of two models, given as ``repo@commit``."""
    return (f"merge_method: linear\nmodels:\n  - model: {first}\n    parameters:\n      weight: 0.5\n"
            f"  - model: {second}\n    parameters:\n      weight: 0.5\ndtype: float16\n")

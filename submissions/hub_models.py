"""Reading participants' models and PEFT adapters from the Hugging Face Hub, for the submit checks.

Every failure becomes a :class:`HubCheckError` whose ``reasons`` are sentences a participant can act on
("the repo is private", "there is no adapter_config.json", …), never a client traceback. Only metadata and
small JSON files are read; no model code is ever imported or run (no ``trust_remote_code`` anywhere).

By default the Hub is read anonymously: a submission must be public, and a Space token that happens to
see an organisation's private repos must not make a private submission look valid.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx2
from huggingface_hub import HfApi
from huggingface_hub.errors import (
    GatedRepoError,
    HfHubHTTPError,
    NotASafetensorsRepoError,
    RemoteEntryNotFoundError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
    SafetensorsParsingError,
)

ADAPTER_CONFIG = "adapter_config.json"
ADAPTER_WEIGHTS = ("adapter_model.safetensors", "adapter_model.bin")
# owner/name as the Hub allows them (letters, digits, '-', '_', '.'; no '--' or '..'; at most 96 characters)
_REPO_ID = re.compile(r"^(?!.*(--|\.\.))[A-Za-z0-9][\w.-]{0,95}/[A-Za-z0-9][\w.-]{0,95}$", re.ASCII)
_NETWORK_ERRORS = (httpx2.TransportError, OSError)


class HubCheckError(Exception):
    """A submission cannot be accepted; ``reasons`` lists every problem found, each in plain words."""

    def __init__(self, reasons: list[str]):
        super().__init__(" ".join(reasons))
        self.reasons = list(reasons)


@dataclass(frozen=True)
class ResolvedRepo:
    """A model/adapter repo pinned to the commit that ``revision`` pointed at when it was checked."""

    repo_id: str
    revision: str
    commit: str
    files: tuple[str, ...]
    gated: bool
    safetensors_parameters: int | None = None  # the Hub's own count, when it publishes one
    committed_at: datetime | None = None  # the Hub's lastModified of that revision: its commit's date


@dataclass(frozen=True)
class WeightsSize:
    """Bytes of an adapter's weight arrays; ``total`` None (with a ``reason``) when they cannot be known."""

    total: int | None
    source: str | None  # "safetensors header" | "adapter_model.bin file size" | None
    reason: str | None = None


@dataclass(frozen=True)
class ParameterCount:
    """``total`` is None when it cannot be determined; ``reason`` then says why, in words."""

    total: int | None
    source: str | None  # "safetensors" | "config.json (estimate)" | None
    reason: str | None = None


def hub_api(endpoint: str | None = None, token: str | bool | None = False) -> HfApi:
    """An ``HfApi`` on ``endpoint``, else ``HF_ENDPOINT`` from the environment, else huggingface.co.

    The environment is read here, not at import time, so a Space (or a test) can set it late.
    """
    return HfApi(endpoint=endpoint or os.environ.get("HF_ENDPOINT") or None, token=token)


class HubModels:
    """The Hub look-ups the submit checks need. ``cache_dir`` is where small files are downloaded to."""

    def __init__(self, api: HfApi | None = None, cache_dir: str | os.PathLike[str] | None = None):
        self.api = api or hub_api()
        self.cache_dir = cache_dir

    def resolve(self, repo_id: str, revision: str = "main", allow_gated: bool = False) -> ResolvedRepo:
        """Pin ``repo_id@revision`` to a commit sha; the repo must exist and be public (and not gated,
        unless ``allow_gated``: base models such as Llama are gated, yet the evaluator can get access)."""
        repo_id, revision = (repo_id or "").strip(), (revision or "").strip() or "main"
        if not _REPO_ID.match(repo_id):
            raise HubCheckError([f"'{repo_id}' is not a valid Hub repo ID: write it as owner/name."])
        try:
            info = self.api.model_info(repo_id, revision=revision)
        except RevisionNotFoundError:
            raise HubCheckError(
                [
                    f"Revision '{revision}' does not exist in '{repo_id}': "
                    "give a branch, a tag or a full commit hash."
                ]
            ) from None
        except RepositoryNotFoundError:
            raise HubCheckError(
                [
                    f"Model repo '{repo_id}' was not found on the Hugging Face Hub, or it is private: "
                    "check the spelling and make the repo public."
                ]
            ) from None
        except (HfHubHTTPError, *_NETWORK_ERRORS) as error:
            raise HubCheckError([_unreachable(repo_id, error)]) from None
        if info.private:
            raise HubCheckError(
                [f"Model repo '{repo_id}' is private: make it public so it can be evaluated."]
            )
        gated = bool(info.gated)
        if gated and not allow_gated:
            raise HubCheckError(
                [
                    f"Model repo '{repo_id}' is gated (access must be requested): "
                    "remove the gate so the evaluator can download it."
                ]
            )
        files = tuple(sibling.rfilename for sibling in info.siblings or ())
        parameters = int(info.safetensors.total) if info.safetensors and info.safetensors.total else None
        return ResolvedRepo(repo_id, revision, info.sha, files, gated, parameters, info.last_modified)

    def model_config(self, model: ResolvedRepo) -> dict[str, Any]:
        """The parsed ``config.json`` of a resolved model."""
        if "config.json" not in model.files:
            raise HubCheckError([(f"'{model.repo_id}' has no config.json at commit {model.commit[:7]}: it is not "
                                  "a transformers model.")])
        try:
            config = json.loads(self._read(model.repo_id, "config.json", model.commit))
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise HubCheckError([f"config.json in '{model.repo_id}' is not valid JSON ({error})."]) from None
        if not isinstance(config, dict):
            raise HubCheckError([f"config.json in '{model.repo_id}' must hold a JSON object."])
        return config

    def adapter_config(self, adapter: ResolvedRepo) -> dict[str, Any]:
        """The parsed ``adapter_config.json`` of a resolved adapter; its weights file must be there too."""
        reasons = []
        if ADAPTER_CONFIG not in adapter.files:
            reasons.append(
                f"'{adapter.repo_id}' has no {ADAPTER_CONFIG} at commit {adapter.commit[:7]}: "
                "it is not a PEFT adapter. Push the folder written by the adapter's save_pretrained()."
            )
        if not any(name in adapter.files for name in ADAPTER_WEIGHTS):
            reasons.append(
                f"'{adapter.repo_id}' has no adapter weights at commit {adapter.commit[:7]}: expected "
                f"{' or '.join(ADAPTER_WEIGHTS)}."
            )
        if ADAPTER_CONFIG not in adapter.files:
            raise HubCheckError(reasons)
        try:
            config = json.loads(self._read(adapter.repo_id, ADAPTER_CONFIG, adapter.commit))
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            reasons.append(f"{ADAPTER_CONFIG} in '{adapter.repo_id}' is not valid JSON ({error}).")
            config = None
        if config is not None and not isinstance(config, dict):
            reasons.append(f"{ADAPTER_CONFIG} in '{adapter.repo_id}' must hold a JSON object.")
        if reasons:
            raise HubCheckError(reasons)
        return config

    @staticmethod
    def base_model(adapter_config: dict[str, Any], adapter_id: str) -> str:
        """The base model an adapter was trained on (``base_model_name_or_path``)."""
        base = adapter_config.get("base_model_name_or_path")
        if not isinstance(base, str) or not base.strip():
            raise HubCheckError(
                [
                    f"{ADAPTER_CONFIG} in '{adapter_id}' does not name its base model "
                    "(base_model_name_or_path)."
                ]
            )
        return base.strip()

    def parameter_count(self, model: ResolvedRepo) -> ParameterCount:
        """Parameters of a (base) model: the Hub's safetensors totals, else the safetensors headers, else
        an estimate from ``config.json`` for standard decoder-only transformers; None (with a reason)."""
        if model.safetensors_parameters:
            return ParameterCount(model.safetensors_parameters, "safetensors")
        try:
            if any(name.endswith(".safetensors") for name in model.files):
                metadata = self.api.get_safetensors_metadata(model.repo_id, revision=model.commit)
                return ParameterCount(sum(metadata.parameter_count.values()), "safetensors")
        except (NotASafetensorsRepoError, SafetensorsParsingError, GatedRepoError):
            pass  # fall back to config.json
        except (HfHubHTTPError, *_NETWORK_ERRORS) as error:
            return ParameterCount(None, None, _unreachable(model.repo_id, error))
        why = f"The parameter count of '{model.repo_id}' cannot be determined"
        if "config.json" not in model.files:
            return ParameterCount(None, None, f"{why}: it has neither safetensors weights nor a config.json.")
        if model.gated:
            return ParameterCount(
                None, None, f"{why}: it is gated and the Hub publishes no safetensors count for it."
            )
        try:
            config = json.loads(self._read(model.repo_id, "config.json", model.commit))
        except HubCheckError as error:
            return ParameterCount(None, None, f"{why}: {' '.join(error.reasons)}")
        except (UnicodeDecodeError, json.JSONDecodeError):
            return ParameterCount(None, None, f"{why}: its config.json is not valid JSON.")
        total = estimate_parameters(config) if isinstance(config, dict) else None
        if total is None:
            return ParameterCount(
                None,
                None,
                f"{why}: it has no safetensors weights and its config.json does not describe a standard "
                "decoder (hidden_size, num_hidden_layers, intermediate_size, vocab_size, "
                "num_attention_heads).",
            )
        return ParameterCount(total, "config.json (estimate)")

    def adapter_weight_bytes(self, adapter: ResolvedRepo) -> WeightsSize:
        """What one copy of the adapter's arrays weighs: the tensor byte ranges of ``adapter_model.safetensors``
        (read from its header, not downloaded), else the size of ``adapter_model.bin`` (pickle overhead
        included: an estimate)."""
        safetensors, pickled = ADAPTER_WEIGHTS
        try:
            if safetensors in adapter.files:
                header = self.api.parse_safetensors_file_metadata(adapter.repo_id, safetensors, revision=adapter.commit)
                return WeightsSize(sum(end - begin for begin, end in
                                       (t.data_offsets for t in header.tensors.values())), "safetensors header")
            if pickled in adapter.files:
                sizes = [entry.size for entry in self.api.list_repo_tree(adapter.repo_id, revision=adapter.commit)
                         if entry.path == pickled]
                if sizes:
                    return WeightsSize(int(sizes[0]), f"{pickled} file size")
        except SafetensorsParsingError:
            return WeightsSize(None, None, f"the header of {safetensors} in '{adapter.repo_id}' cannot be read")
        except (HfHubHTTPError, *_NETWORK_ERRORS) as error:
            return WeightsSize(None, None, _unreachable(adapter.repo_id, error))
        return WeightsSize(None, None, f"'{adapter.repo_id}' has no adapter weights file at commit {adapter.commit[:7]}")

    def _read(self, repo_id: str, filename: str, commit: str) -> str:
        try:
            path = self.api.hf_hub_download(repo_id, filename, revision=commit, cache_dir=self.cache_dir)
        except (
            RemoteEntryNotFoundError
        ):  # not LocalEntryNotFoundError: that one means the Hub was unreachable
            raise HubCheckError([f"'{repo_id}' has no {filename} at commit {commit[:7]}."]) from None
        except GatedRepoError:
            raise HubCheckError([f"'{repo_id}' is gated: its files cannot be read without access."]) from None
        except (HfHubHTTPError, *_NETWORK_ERRORS) as error:
            raise HubCheckError([_unreachable(repo_id, error)]) from None
        with open(path, encoding="utf-8") as handle:
            return handle.read()


def estimate_parameters(config: dict[str, Any]) -> int | None:
    """Parameters of a Llama-style decoder (attention with grouped KV heads, gated MLP, RMS norms, optional
    tied embeddings, q/k/v biases and experts) from its ``config.json``; exact for Llama, Mistral, Mixtral
    and Qwen2. None when a required field is missing."""
    config = config.get("text_config") if isinstance(config.get("text_config"), dict) else config
    keys = ("hidden_size", "num_hidden_layers", "intermediate_size", "vocab_size", "num_attention_heads")
    if not all(isinstance(config.get(key), int) and config[key] > 0 for key in keys):
        return None
    hidden, layers, inner, vocab, heads = (config[key] for key in keys)
    kv_heads = config.get("num_key_value_heads") or heads
    head_dim = config.get("head_dim") or hidden // heads
    attention = hidden * heads * head_dim * 2 + hidden * kv_heads * head_dim * 2  # q, o + k, v
    if config.get("attention_bias") or config.get("model_type") == "qwen2":  # biases on q, k, v
        attention += (heads + 2 * kv_heads) * head_dim
    experts = config.get("num_local_experts") or config.get("num_experts") or 1
    mlp = 3 * hidden * inner * experts + (hidden * experts if experts > 1 else 0)  # gate/up/down (+ router)
    embeddings = vocab * hidden * (1 if config.get("tie_word_embeddings", False) else 2)
    return embeddings + layers * (attention + mlp + 2 * hidden) + hidden


def _unreachable(repo_id: str, error: BaseException) -> str:
    kind = type(error).__name__
    return f"The Hugging Face Hub could not be asked about '{repo_id}' ({kind}); try again later."

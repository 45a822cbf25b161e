"""Submit-check look-ups (submissions/hub_models.py) against the local Hub, through the real client."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable

import numpy as np
import pytest
from safetensors.numpy import save

from submissions.hub_models import HubCheckError, HubModels, estimate_parameters, hub_api
from tests.hub_server import HubServer

ADAPTER_CONFIG = {
    "peft_type": "LORA",
    "base_model_name_or_path": "org/base",
    "r": 8,
    "target_modules": ["q_proj"],
}
LLAMA_CONFIG = {
    "architectures": ["LlamaForCausalLM"],
    "model_type": "llama",
    "hidden_size": 64,
    "intermediate_size": 128,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "vocab_size": 400,
    "tie_word_embeddings": False,
}


def weights(**shapes: tuple[int, ...]) -> bytes:
    return save({name: np.zeros(shape, dtype=np.float32) for name, shape in shapes.items()})


def adapter_files(
    config: object = ADAPTER_CONFIG, weights_name: str | None = "adapter_model.safetensors"
) -> dict:
    files = {"README.md": b"# adapter\n"}
    if config is not None:
        files["adapter_config.json"] = config if isinstance(config, bytes) else json.dumps(config).encode()
    if weights_name:
        files[weights_name] = weights(lora_A=(8, 64), lora_B=(64, 8))
    return files


@pytest.fixture
def models(hub_server: HubServer, tmp_path) -> HubModels:
    return HubModels(hub_api(hub_server.url), cache_dir=tmp_path / "cache")


def reasons(function: Callable[..., object], *args: object, **kwargs: object) -> list[str]:
    """The reasons of the HubCheckError that ``function(*args, **kwargs)`` raises."""
    with pytest.raises(HubCheckError) as caught:
        function(*args, **kwargs)
    assert caught.value.reasons, "a refusal must say why"
    return caught.value.reasons


# --- resolving repo + revision ------------------------------------------------------------------------------
def test_revision_resolves_to_commit_and_stays_pinned(hub_server: HubServer, models: HubModels) -> None:
    first = hub_server.add_model("team/adapter", adapter_files())
    dev = hub_server.push("team/adapter", {"notes.txt": b"dev"}, branch="dev")
    resolved = models.resolve("team/adapter")
    assert (resolved.commit, resolved.revision) == (first, "main")
    assert "adapter_config.json" in resolved.files and not resolved.gated
    assert models.resolve("team/adapter", "dev").commit == dev
    later = hub_server.push("team/adapter", {"README.md": b"changed"})
    assert models.resolve("team/adapter", first).commit == first  # a pinned commit does not move
    assert models.resolve("team/adapter", first[:10]).commit == first
    assert models.resolve("team/adapter", " ").commit == later  # blank revision means main


@pytest.mark.parametrize(
    "repo_id", ["adapter", "a/b/c", "", "team/<script>", "team/x--y", "-team/x", "tëam/x"]
)
def test_malformed_repo_id(models: HubModels, repo_id: str) -> None:
    assert reasons(models.resolve, repo_id) == [
        f"'{repo_id}' is not a valid Hub repo ID: write it as owner/name."
    ]


def test_missing_and_private_repos_read_as_not_found(hub_server: HubServer, models: HubModels) -> None:
    hub_server.add_model("team/secret", adapter_files(), private=True)
    for repo_id in ("team/missing", "team/secret"):
        (reason,) = reasons(models.resolve, repo_id)
        assert reason.startswith(
            f"Model repo '{repo_id}' was not found on the Hugging Face Hub, or it is private"
        )


def test_private_repo_seen_with_a_token_is_still_refused(hub_server: HubServer, tmp_path) -> None:
    hub_server.add_model("team/secret", adapter_files(), private=True)
    with_token = HubModels(hub_api(hub_server.url, token=hub_server.token), cache_dir=tmp_path)
    assert reasons(with_token.resolve, "team/secret") == [
        "Model repo 'team/secret' is private: make it public so it can be evaluated."
    ]


def test_gated_repo(hub_server: HubServer, models: HubModels) -> None:
    sha = hub_server.add_model("meta/gated", {"config.json": b"{}"}, gated=True)
    (reason,) = reasons(models.resolve, "meta/gated")
    assert "is gated" in reason and "'meta/gated'" in reason
    resolved = models.resolve("meta/gated", allow_gated=True)  # base models may be gated
    assert (resolved.commit, resolved.gated) == (sha, True)


def test_unknown_revision(hub_server: HubServer, models: HubModels) -> None:
    hub_server.add_model("team/adapter", adapter_files())
    for revision in ("nope", "0" * 40):
        (reason,) = reasons(models.resolve, "team/adapter", revision)
        assert reason.startswith(f"Revision '{revision}' does not exist in 'team/adapter'")


def test_unreachable_hub(tmp_path) -> None:
    with HubServer() as stopped:
        url = stopped.url
    offline = HubModels(hub_api(url), cache_dir=tmp_path)
    (reason,) = reasons(offline.resolve, "team/adapter")
    assert reason.startswith("The Hugging Face Hub could not be asked about 'team/adapter'")


def test_hub_gone_between_resolving_and_reading(hub_server: HubServer, models: HubModels) -> None:
    hub_server.add_model("team/adapter", adapter_files())
    resolved = models.resolve("team/adapter")
    hub_server.stop()
    (reason,) = reasons(models.adapter_config, resolved)
    assert reason.startswith("The Hugging Face Hub could not be asked about 'team/adapter'")


def test_gated_adapter_files_cannot_be_read(hub_server: HubServer, models: HubModels) -> None:
    hub_server.add_model("team/gated-adapter", adapter_files(), gated=True)
    resolved = models.resolve("team/gated-adapter", allow_gated=True)
    assert reasons(models.adapter_config, resolved) == [
        "'team/gated-adapter' is gated: its files cannot be read without access."
    ]


def test_listed_file_missing_at_the_commit(hub_server: HubServer, models: HubModels) -> None:
    hub_server.add_model("team/adapter", adapter_files(config=None))
    resolved = models.resolve("team/adapter")
    claims_config = dataclasses.replace(resolved, files=(*resolved.files, "adapter_config.json"))
    assert reasons(models.adapter_config, claims_config) == [
        f"'team/adapter' has no adapter_config.json at commit {resolved.commit[:7]}."
    ]


def test_endpoint_comes_from_environment(hub_server: HubServer, monkeypatch) -> None:
    monkeypatch.setenv("HF_ENDPOINT", hub_server.url)
    assert hub_api().endpoint == hub_server.url


# --- adapter_config.json ------------------------------------------------------------------------------------
def test_adapter_config_and_base_model(hub_server: HubServer, models: HubModels) -> None:
    hub_server.add_model("team/adapter", adapter_files(weights_name="adapter_model.bin"))
    config = models.adapter_config(models.resolve("team/adapter"))
    assert config == ADAPTER_CONFIG
    assert models.base_model(config, "team/adapter") == "org/base"


def test_adapter_config_absent_and_no_weights(hub_server: HubServer, models: HubModels) -> None:
    hub_server.add_model("team/full-model", {"config.json": b"{}", "model.safetensors": weights(w=(2, 2))})
    resolved = models.resolve("team/full-model")
    found = reasons(models.adapter_config, resolved)
    assert len(found) == 2
    assert found[0].startswith(
        f"'team/full-model' has no adapter_config.json at commit {resolved.commit[:7]}"
    )
    assert "not a PEFT adapter" in found[0]
    assert found[1].startswith("'team/full-model' has no adapter weights")
    assert "adapter_model.safetensors or adapter_model.bin" in found[1]


def test_adapter_without_weights(hub_server: HubServer, models: HubModels) -> None:
    hub_server.add_model("team/adapter", adapter_files(weights_name=None))
    (reason,) = reasons(models.adapter_config, models.resolve("team/adapter"))
    assert reason.startswith("'team/adapter' has no adapter weights")


@pytest.mark.parametrize(
    "content, expected",
    [
        (b"{'peft_type': 'LORA',}", "adapter_config.json in 'team/adapter' is not valid JSON"),
        (b"\xff\xfe", "adapter_config.json in 'team/adapter' is not valid JSON"),
        (b"[1, 2]", "adapter_config.json in 'team/adapter' must hold a JSON object."),
    ],
)
def test_adapter_config_unparseable(
    hub_server: HubServer,
    models: HubModels,
    content: bytes,
    expected: str,
) -> None:
    hub_server.add_model("team/adapter", adapter_files(config=content))
    (reason,) = reasons(models.adapter_config, models.resolve("team/adapter"))
    assert reason.startswith(expected)


@pytest.mark.parametrize(
    "config", [{"peft_type": "LORA"}, {"base_model_name_or_path": "  "}, {"base_model_name_or_path": 3}]
)
def test_base_model_not_named(config: dict) -> None:
    assert reasons(HubModels.base_model, config, "team/adapter") == [
        "adapter_config.json in 'team/adapter' does not name its base model (base_model_name_or_path)."
    ]


# --- parameter counts ---------------------------------------------------------------------------------------
def test_parameters_from_hub_safetensors_totals(hub_server: HubServer, models: HubModels) -> None:
    hub_server.add_model("org/base", {"config.json": b"{}", "model.safetensors": weights(a=(10, 20), b=(7,))})
    count = models.parameter_count(models.resolve("org/base"))
    assert (count.total, count.source, count.reason) == (207, "safetensors", None)


def test_parameters_from_safetensors_headers(hub_server: HubServer, models: HubModels) -> None:
    """Without the Hub's totals, the headers are read with Range requests (sharded repo: index + shards)."""
    hub_server.publish_safetensors_totals = False
    index = {
        "metadata": {},
        "weight_map": {"a": "model-00001-of-00002.safetensors", "b": "model-00002-of-00002.safetensors"},
    }
    hub_server.add_model(
        "org/sharded",
        {
            "model.safetensors.index.json": json.dumps(index).encode(),
            "model-00001-of-00002.safetensors": weights(a=(300, 400)),
            "model-00002-of-00002.safetensors": weights(b=(5, 5)),
        },
    )
    assert models.parameter_count(models.resolve("org/sharded")).total == 120_025
    assert any(
        method == "GET" and path.endswith("model-00002-of-00002.safetensors")
        for method, path in hub_server.requests
    )


# LlamaForCausalLM(LlamaConfig(**config)).num_parameters() with transformers 5.23 (kept as numbers: importing
# transformers costs seconds per test run)
@pytest.mark.parametrize("tied, real_count", [(False, 125_248), (True, 99_648)])
def test_parameters_estimated_from_config_match_the_real_model(
    hub_server: HubServer,
    models: HubModels,
    tied: bool,
    real_count: int,
) -> None:
    config = {**LLAMA_CONFIG, "tie_word_embeddings": tied}
    hub_server.add_model(
        "org/llama", {"config.json": json.dumps(config).encode(), "pytorch_model.bin": b"pickle"}
    )
    count = models.parameter_count(models.resolve("org/llama"))
    assert (count.total, count.source) == (real_count, "config.json (estimate)")


def test_parameters_when_the_hub_goes_away(hub_server: HubServer, models: HubModels) -> None:
    hub_server.publish_safetensors_totals = False
    hub_server.add_model("org/base", {"model.safetensors": weights(a=(2, 2))})
    resolved = models.resolve("org/base")
    hub_server.stop()
    count = models.parameter_count(resolved)
    assert (count.total, count.source) == (None, None)
    assert count.reason.startswith("The Hugging Face Hub could not be asked about 'org/base'")


SMALL = {
    "hidden_size": 64,
    "intermediate_size": 96,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "vocab_size": 300,
}


# counts of MixtralForCausalLM / Qwen2ForCausalLM built from these configs with transformers 5.23
@pytest.mark.parametrize(
    "config, real_count",
    [
        (
            {
                **SMALL,
                "model_type": "mixtral",
                "num_local_experts": 4,
                "head_dim": 32,
                "tie_word_embeddings": False,
            },
            235_840,
        ),
        ({**SMALL, "model_type": "qwen2", "tie_word_embeddings": True}, 81_216),
    ],
)
def test_parameters_estimate_for_other_decoders(config: dict, real_count: int) -> None:
    assert estimate_parameters(config) == real_count


def test_parameters_estimate_reads_nested_text_config() -> None:
    assert estimate_parameters({"text_config": LLAMA_CONFIG}) == estimate_parameters(LLAMA_CONFIG) > 0


@pytest.mark.parametrize(
    "files, gated, expected",
    [
        ({"pytorch_model.bin": b"x"}, False, "it has neither safetensors weights nor a config.json."),
        ({"config.json": b"{not json"}, False, "its config.json is not valid JSON."),
        (
            {"config.json": b'{"model_type": "custom"}'},
            False,
            "its config.json does not describe a standard decoder",
        ),
        (
            {"config.json": json.dumps(LLAMA_CONFIG).encode()},
            True,
            "it is gated and the Hub publishes no safetensors",
        ),
    ],
)
def test_parameters_cannot_be_determined(
    hub_server: HubServer,
    models: HubModels,
    files: dict,
    gated: bool,
    expected: str,
) -> None:
    hub_server.add_model("org/odd", files, gated=gated)
    count = models.parameter_count(models.resolve("org/odd", allow_gated=True))
    assert (count.total, count.source) == (None, None)
    assert count.reason.startswith("The parameter count of 'org/odd' cannot be determined: ")
    assert expected in count.reason

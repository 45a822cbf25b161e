"""The shared model pool, on a real tiny Llama with real LoRA adapters (no mocks)."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from models.loading import (
    AdapterKeysError,
    LoadError,
    LoadOptions,
    ModelPool,
    ModelRef,
    adapter_effect,
)
from tests.tiny_models import build_lora, build_tiny_llama

CPU = LoadOptions("cpu", torch.float32, False)


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict[str, ModelRef]:
    root = tmp_path_factory.mktemp("models")
    base = build_tiny_llama(root / "base")
    refs = {"base": ModelRef(str(base)), "other_base": ModelRef(str(build_tiny_llama(root / "other", seed=5)))}
    for i in range(3):
        refs[f"lora{i}"] = ModelRef(str(build_lora(base, root / f"lora{i}", seed=i + 1, scale=1.0 + i)))
    return refs


def _logits(lease, text="hello world") -> torch.Tensor:
    ids = lease.tokenizer(text, return_tensors="pt").input_ids
    with torch.no_grad():
        return lease.model(ids).logits[0, -1]


def test_base_loaded_once_and_adapters_share_it(models):
    pool = ModelPool(max_adapters=4, options=CPU)
    with pool.use(models["base"]) as lease:
        base_params = sum(p.numel() for p in lease.model.parameters())
        bare = _logits(lease)
        first_weight = lease.model.model.embed_tokens.weight
    with pool.use(models["base"], [models["lora0"], models["lora1"]]) as lease:
        assert lease.adapter_names[0] != lease.adapter_names[1]
        # the same weight tensor as before: the base was wrapped, not copied or reloaded
        assert lease.model.get_base_model().model.embed_tokens.weight is first_weight
        lora_params = sum(p.numel() for n, p in lease.model.named_parameters() if "lora_" in n)
        total = sum(p.numel() for p in lease.model.parameters())
        assert total == base_params + lora_params
        lease.model.set_adapter(lease.adapter_names[0])
        with_a = _logits(lease)
        lease.model.set_adapter(lease.adapter_names[1])
        with_b = _logits(lease)
    with pool.use(models["base"]) as lease:
        again_bare = _logits(lease)  # adapters stay attached but are disabled for a bare-base request
    assert pool.loads == {models["base"]: 1}
    assert not torch.allclose(with_a, with_b)
    assert not torch.allclose(bare, with_a)
    assert torch.allclose(bare, again_bare)


def test_lru_evicts_least_recently_used_adapter(models):
    pool = ModelPool(max_adapters=2, options=CPU)
    a, b, c = models["lora0"], models["lora1"], models["lora2"]
    with pool.use(models["base"], [a]):
        pass
    with pool.use(models["base"], [b]):
        pass
    with pool.use(models["base"], [a]):  # a is now the most recent
        pass
    with pool.use(models["base"], [c]) as lease:
        assert set(lease.model.peft_config) == {a.adapter_name, c.adapter_name}
    assert pool.loaded()[models["base"]] == [a, c]
    assert pool.loads == {models["base"]: 1}


def test_one_adapter_pool_switches_and_stays_correct(models):
    pool = ModelPool(max_adapters=1, options=CPU)
    with pool.use(models["base"], [models["lora0"]]) as lease:
        first = _logits(lease)
    with pool.use(models["base"], [models["lora1"]]) as lease:
        assert list(lease.model.peft_config) == [models["lora1"].adapter_name]
    with pool.use(models["base"], [models["lora0"]]) as lease:
        assert torch.allclose(_logits(lease), first)
    with pytest.raises(LoadError, match="at most 1"):
        with pool.use(models["base"], [models["lora0"], models["lora1"]]):
            pass


def test_full_models_bounded(models):
    pool = ModelPool(max_models=1, options=CPU)
    with pool.use(models["base"]):
        pass
    with pool.use(models["other_base"]):
        pass
    assert list(pool.loaded()) == [models["other_base"]]


def test_adapter_with_wrong_keys_is_reported(models, tmp_path):
    broken = tmp_path / "broken"
    broken.mkdir()
    source = Path(models["lora0"].repo)
    (broken / "adapter_config.json").write_text((source / "adapter_config.json").read_text())
    weights = load_file(source / "adapter_model.safetensors")
    renamed = next(k for k in weights if "lora_A" in k)
    weights[renamed.replace("self_attn", "mlp")] = weights.pop(renamed)
    save_file(weights, broken / "adapter_model.safetensors")

    pool = ModelPool(options=CPU)
    with pytest.raises(AdapterKeysError) as caught:
        with pool.use(models["base"], [ModelRef(str(broken))]):
            pass
    assert len(caught.value.missing_keys) == 1 and len(caught.value.unexpected_keys) == 1
    assert "1 missing key(s)" in str(caught.value) and "1 unexpected key(s)" in str(caught.value)
    # the failed adapter left nothing behind and the pool still serves good adapters
    with pool.use(models["base"], [models["lora0"]]) as lease:
        assert list(lease.model.peft_config) == [models["lora0"].adapter_name]


def test_hub_refs_must_be_pinned(models):
    pool = ModelPool(options=CPU)
    with pytest.raises(LoadError, match="pin a commit"):
        with pool.use(ModelRef("someone/some-model", "main")):
            pass
    with pytest.raises(LoadError, match="pin a commit"):
        with pool.use(models["base"], [ModelRef("someone/adapter")]):
            pass


def test_concurrent_users_load_the_base_once(models):
    pool = ModelPool(max_adapters=3, options=CPU)
    errors: list[BaseException] = []

    def worker(adapter: ModelRef) -> None:
        try:
            for _ in range(3):
                with pool.use(models["base"], [adapter]) as lease:
                    _logits(lease)
        except BaseException as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=worker, args=(models[f"lora{i}"],)) for i in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert pool.loads == {models["base"]: 1}
    assert len(pool.loaded()[models["base"]]) == 3


def test_adapter_effect_tells_a_no_op_adapter(models, tmp_path):
    untrained = ModelRef(str(build_lora(Path(models["base"].repo), tmp_path / "zero", seed=9, scale=0.0)))
    pool = ModelPool(options=CPU)
    assert adapter_effect(pool, models["base"], models["lora0"]) > 1e-3
    assert adapter_effect(pool, models["base"], untrained) == 0.0
    assert pool.loads == {models["base"]: 1}


def test_load_options_never_trust_remote_code():
    cpu = LoadOptions.auto(cpu_dtype=torch.bfloat16)
    if not torch.cuda.is_available():
        assert cpu == LoadOptions("cpu", torch.bfloat16, False)
    quantized = LoadOptions("cuda", torch.bfloat16, True).from_pretrained_kwargs()
    assert quantized["trust_remote_code"] is False and quantized["device_map"] == {"": "cuda"}
    assert quantized["quantization_config"].load_in_4bit
    assert cpu.from_pretrained_kwargs()["trust_remote_code"] is False

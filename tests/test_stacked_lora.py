"""The stacked mixed-adapter batch (arena/stacked_lora.py) against peft's own ``adapter_names`` path, on the
tiny Llama with real LoRA adapters: the same logits (allclose) and the same tokens, rows leaving the batch
included; adapters of different ranks and targets; peft's path where a layer is not plain LoRA (a LoRA bias)."""

from __future__ import annotations

import pytest
import torch
from peft import LoraConfig, get_peft_model
from transformers import LlamaForCausalLM

from arena.decoding import Decoding, decode_rows
from arena.stacked_lora import stack_lora
from models.loading import BASE_ADAPTER, LoadOptions, ModelPool, ModelRef
from tests.tiny_models import build_lora, build_tiny_llama

PROMPTS = ["What is the capital of France?", "hello", "Answer: positive"]


def build_adapter(base, path, *, seed: int, **config) -> ModelRef:
    """A LoRA with random (non-zero) weights and the given config (rank, targets, DoRA)."""
    torch.manual_seed(seed)
    model = get_peft_model(LlamaForCausalLM.from_pretrained(base), LoraConfig(lora_dropout=0.0, **config))
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "lora_" in name:
                param.copy_(torch.randn_like(param) * 0.5)
    model.save_pretrained(path)
    return ModelRef(str(path))


@pytest.fixture(scope="module")
def pool_and_refs(tmp_path_factory):
    root = tmp_path_factory.mktemp("stacked-models")
    base = build_tiny_llama(root / "base")
    refs = {"base": ModelRef(str(base)),
            "a": ModelRef(str(build_lora(base, root / "a", seed=1, scale=1.0))),
            "b": ModelRef(str(build_lora(base, root / "b", seed=2, scale=2.0))),
            "wide": build_adapter(base, root / "wide", seed=3, r=8, lora_alpha=4,
                                  target_modules=["q_proj", "o_proj", "up_proj", "down_proj"]),
            "bias": build_adapter(base, root / "bias", seed=4, r=4, target_modules=["q_proj"], lora_bias=True)}
    return ModelPool(max_adapters=6, options=LoadOptions("cpu", torch.float32, False)), refs


def encode(lease, count):
    return lease.tokenizer(PROMPTS[:count], return_tensors="pt", padding=True, padding_side="left")


@pytest.mark.parametrize("adapters", [("a", "b"), ("a", "wide", None), ("wide", None)])
def test_stacked_logits_equal_peft_mixed_batch(pool_and_refs, adapters):
    pool, refs = pool_and_refs
    with pool.use(refs["base"], [refs[a] if a else None for a in adapters]) as lease, torch.inference_mode():
        encoded = encode(lease, len(adapters))
        names = lease.adapter_names
        assert names[-1] != BASE_ADAPTER or adapters[-1] is None
        expected = lease.model(**encoded, adapter_names=names).logits
        stacked = stack_lora(lease.model, names)
        with stacked.applied():
            got = lease.model(**encoded).logits
        with lease.model.disable_adapter():
            bare = lease.model(**encoded).logits
        again = lease.model(**encoded, adapter_names=names).logits  # forwards restored after the block
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(again, expected)
    for row, adapter in enumerate(adapters):  # each row got its own delta, the bare row none
        changed = not torch.allclose(expected[row], bare[row], atol=1e-3)
        assert changed == (adapter is not None)


def test_stacked_decoding_gives_peft_tokens_as_rows_leave(pool_and_refs):
    pool, refs = pool_and_refs
    with pool.use(refs["base"], [refs["a"], refs["b"], refs["wide"]]) as lease, torch.inference_mode():
        encoded = encode(lease, 3)

        def run(stacked: bool, stop_ids=frozenset()):
            events = decode_rows(lease.model, encoded.input_ids, encoded.attention_mask,
                                 Decoding(max_new_tokens=20, stop_ids=stop_ids), adapter_names=lease.adapter_names,
                                 stacked_lora=stacked)
            rows: dict[int, list] = {}
            for row, token in events:
                rows.setdefault(row, []).append(token)
            return rows

        free = run(False)
        assert len({tuple(t) for t in free.values()}) == 3  # three different answers
        assert run(True) == free
        stop = free[1][3]  # row 1 stops after 3 tokens; the others go on without it
        cut = run(False, frozenset({stop}))
        assert cut[1] == free[1][:3] + [None]
        assert run(True, frozenset({stop})) == cut


def test_an_adapter_it_does_not_cover_keeps_peft_path(pool_and_refs):
    pool, refs = pool_and_refs
    with pool.use(refs["base"], [refs["a"], refs["bias"]]) as lease, torch.inference_mode():
        assert stack_lora(lease.model, lease.adapter_names) is None  # a LoRA bias: not plain LoRA
        encoded = encode(lease, 2)
        expected = lease.model.generate(**encoded, max_new_tokens=6, do_sample=False, eos_token_id=None,
                                        adapter_names=lease.adapter_names)[:, encoded.input_ids.shape[1]:]
        rows: dict[int, list] = {}
        for row, token in decode_rows(lease.model, encoded.input_ids, encoded.attention_mask,
                                      Decoding(max_new_tokens=6, stop_ids=frozenset()),
                                      adapter_names=lease.adapter_names):
            rows.setdefault(row, []).append(token)
    assert rows == {r: expected[r].tolist() + [None] for r in (0, 1)}

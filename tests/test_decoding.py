"""The arena's decoding loop (arena/decoding.py) on a real tiny Llama with two real LoRA adapters: it matches
transformers' ``generate``, a finished row leaves the batch without changing the other row, and the limits
end it."""

from __future__ import annotations

import pytest
import torch

from arena.decoding import Decoding, Outcome, decode_rows
from arena.generation import Side, collect, stream_pair
from arena.limits import Limits, Sampling, TimeLimitReached
from models.loading import LoadOptions, ModelPool, ModelRef
from tests.tiny_models import build_lora, build_tiny_llama

PROMPTS = ["What is the capital of France?", "hello"]  # different lengths: the second row is left-padded


@pytest.fixture(scope="module")
def pool_and_refs(tmp_path_factory):
    root = tmp_path_factory.mktemp("decoding-models")
    base = build_tiny_llama(root / "base")
    refs = {"base": ModelRef(str(base)),
            "a": ModelRef(str(build_lora(base, root / "lora_a", seed=1, scale=1.0))),
            "b": ModelRef(str(build_lora(base, root / "lora_b", seed=2, scale=2.0)))}
    return ModelPool(max_adapters=4, options=LoadOptions("cpu", torch.float32, False)), refs


def rows_of(events) -> dict[int, list[int | None]]:
    rows: dict[int, list[int | None]] = {}
    for row, token in events:
        rows.setdefault(row, []).append(token)
    return rows


def encode(lease, prompts=PROMPTS):
    return lease.tokenizer(prompts, return_tensors="pt", padding=True, padding_side="left")


def batch_sizes(model) -> tuple[list[int], object]:
    sizes: list[int] = []
    handle = model.get_input_embeddings().register_forward_hook(lambda _m, args, _o: sizes.append(args[0].shape[0]))
    return sizes, handle


def test_greedy_decoding_matches_generate_on_a_left_padded_batch(pool_and_refs):
    pool, refs = pool_and_refs
    with pool.use(refs["base"]) as lease, torch.inference_mode():
        encoded = encode(lease)
        expected = lease.model.generate(**encoded, max_new_tokens=10, do_sample=False, eos_token_id=None,
                                        pad_token_id=lease.tokenizer.pad_token_id)[:, encoded.input_ids.shape[1]:]
        rows = rows_of(decode_rows(lease.model, encoded.input_ids, encoded.attention_mask,
                                   Decoding(max_new_tokens=10, stop_ids=frozenset())))
    assert rows == {r: expected[r].tolist() + [None] for r in (0, 1)}


def test_a_finished_row_leaves_the_batch_and_the_other_row_goes_on_unchanged(pool_and_refs):
    pool, refs = pool_and_refs
    with pool.use(refs["base"], [refs["a"], refs["b"]]) as lease, torch.inference_mode():
        encoded = encode(lease, [PROMPTS[0]] * 2)
        names = lease.adapter_names

        def run(stop_ids: frozenset[int]):
            sizes, handle = batch_sizes(lease.model)
            try:
                rows = rows_of(decode_rows(lease.model, encoded.input_ids, encoded.attention_mask,
                                           Decoding(max_new_tokens=16, stop_ids=stop_ids), adapter_names=names))
            finally:
                handle.remove()
            return rows, sizes

        free, sizes = run(frozenset())
        assert sizes == [2] * 16 and free[0] != free[1]
        # a token row 0 says early and row 1 never says: make it a stop token for row 0
        stop = next(t for t in free[0][2:-1] if t not in free[1])
        cut = free[0].index(stop)
        rows, sizes = run(frozenset({stop}))
    assert rows[0] == free[0][:cut] + [None]
    assert rows[1] == free[1]  # the other row's KV cache, mask and positions survived the cut
    assert sizes == [2] * (cut + 1) + [1] * (16 - cut - 1)  # a batch of one once row 0 is done


def test_time_limit_and_interruption_end_every_row(pool_and_refs):
    pool, refs = pool_and_refs
    with pool.use(refs["base"]) as lease, torch.inference_mode():
        encoded = encode(lease)
        outcome = Outcome()
        rows = rows_of(decode_rows(lease.model, encoded.input_ids, encoded.attention_mask,
                                   Decoding(max_new_tokens=50, stop_ids=frozenset(), max_seconds=0.0),
                                   outcome=outcome))
        assert outcome.timed_out and not outcome.interrupted
        assert all(len(tokens) == 2 and tokens[-1] is None for tokens in rows.values())  # one token each

        calls = []
        outcome = Outcome()
        rows = rows_of(decode_rows(lease.model, encoded.input_ids, encoded.attention_mask,
                                   Decoding(max_new_tokens=50, stop_ids=frozenset()),
                                   interrupted=lambda: calls.append(1) or len(calls) > 3, outcome=outcome))
        assert outcome.interrupted and not outcome.timed_out
        assert all(len(tokens) == 4 and tokens[-1] is None for tokens in rows.values())  # three tokens each


def test_sampling_follows_temperature_and_seed(pool_and_refs):
    pool, refs = pool_and_refs
    with pool.use(refs["base"]) as lease, torch.inference_mode():
        encoded = encode(lease)

        def sample(seed: int, temperature: float) -> dict:
            torch.manual_seed(seed)
            return rows_of(decode_rows(lease.model, encoded.input_ids, encoded.attention_mask,
                                       Decoding(max_new_tokens=20, stop_ids=frozenset(), temperature=temperature,
                                                top_p=0.95)))

        greedy = rows_of(decode_rows(lease.model, encoded.input_ids, encoded.attention_mask,
                                     Decoding(max_new_tokens=20, stop_ids=frozenset())))
        assert sample(3, 1.5) == sample(3, 1.5)  # reproducible under a seed
        assert sample(3, 1.5) != greedy  # a random tiny model is nearly uniform: sampling wanders off
        assert sample(3, 1e-4) == greedy  # a temperature near zero is greedy


def test_a_cut_answer_is_kept_and_the_time_limit_said(pool_and_refs):
    pool, refs = pool_and_refs
    a, b = Side(refs["base"], refs["a"]), Side(refs["base"], refs["b"])
    events = []
    with pytest.raises(TimeLimitReached, match="cut at the 0 s time limit"):
        for event in stream_pair(pool, a, b, PROMPTS[0], sampling=Sampling(0.0, 200),
                                 limits=Limits(max_new_tokens=200, max_seconds=0.0)):
            events.append(event)
    answers = collect(events)
    assert answers["a"] and answers["b"]  # the first token of each side came through before the cut

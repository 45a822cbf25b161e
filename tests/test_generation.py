"""Two-sided streaming on a real tiny Llama with two real LoRA adapters (no mocks)."""

from __future__ import annotations

import threading
from contextlib import contextmanager

import pytest
import torch

from arena.generation import Side, build_prompt, collect, stream_pair, stream_sequential
from arena.limits import LimitError, Limits, Sampling
from models.loading import LoadOptions, ModelPool, ModelRef
from tests.tiny_models import build_lora, build_tiny_llama

GREEDY = Sampling(temperature=0.0, max_new_tokens=12)
MESSAGE = "What is the capital of France?"


@pytest.fixture(scope="module")
def refs(tmp_path_factory) -> dict[str, ModelRef]:
    root = tmp_path_factory.mktemp("models")
    base = build_tiny_llama(root / "base")
    return {
        "base": ModelRef(str(base)),
        "other": ModelRef(str(build_tiny_llama(root / "other", seed=7))),
        "lora_a": ModelRef(str(build_lora(base, root / "lora_a", seed=1, scale=1.0))),
        "lora_b": ModelRef(str(build_lora(base, root / "lora_b", seed=2, scale=2.0))),
    }


@pytest.fixture()
def pool() -> ModelPool:
    return ModelPool(max_adapters=4, options=LoadOptions("cpu", torch.float32, False))


@contextmanager
def batch_sizes(pool: ModelPool, ref: ModelRef):
    """Record the batch size of every forward pass of the model (a real forward hook)."""
    with pool.use(ref) as lease:
        embed = lease.model.get_input_embeddings()
    sizes: list[int] = []
    handle = embed.register_forward_hook(lambda _m, args, _out: sizes.append(args[0].shape[0]))
    try:
        yield sizes
    finally:
        handle.remove()


def test_both_sides_stream_different_text_in_one_batch(pool, refs):
    a, b = Side(refs["base"], refs["lora_a"]), Side(refs["base"], refs["lora_b"])
    with batch_sizes(pool, refs["base"]) as sizes:
        events = list(stream_pair(pool, a, b, MESSAGE, sampling=GREEDY))
    answers = collect(events)
    assert answers["a"] and answers["b"] and answers["a"] != answers["b"]
    assert sum(side == "a" for side, _ in events) >= 3
    assert sum(side == "b" for side, _ in events) >= 3
    assert set(sizes) == {2}  # one batch carried both sides, every step
    # same pace: the sides alternate while both are still answering
    both = min(sum(s == "a" for s, _ in events), sum(s == "b" for s, _ in events))
    assert [side for side, _ in events[: 2 * both]] == ["a", "b"] * both
    assert pool.loads == {refs["base"]: 1}


def test_batched_answers_equal_one_side_after_the_other(pool, refs):
    a, b = Side(refs["base"], refs["lora_a"]), Side(refs["base"], refs["lora_b"])
    history = [("hello", "hello world", "how are you today")]  # different lengths: left padding matters
    with batch_sizes(pool, refs["base"]) as sizes:
        sequential = collect(stream_sequential(pool, a, b, MESSAGE, history, GREEDY))
    assert set(sizes) == {1}
    assert collect(stream_pair(pool, a, b, MESSAGE, history, GREEDY)) == sequential


def test_bare_base_against_an_adapter(pool, refs):
    bare, tuned = Side(refs["base"]), Side(refs["base"], refs["lora_a"])
    mixed = collect(stream_pair(pool, bare, tuned, MESSAGE, sampling=GREEDY))
    alone = collect(stream_sequential(pool, bare, bare, MESSAGE, sampling=GREEDY))
    assert mixed["a"] == alone["a"] and mixed["a"] != mixed["b"]


def test_full_models_on_different_weights_take_turns(pool, refs):
    events = list(stream_pair(pool, Side(refs["base"]), Side(refs["other"]), MESSAGE, sampling=GREEDY))
    answers = collect(events)
    assert answers["a"] and answers["b"] and answers["a"] != answers["b"]
    both = min(sum(s == "a" for s, _ in events), sum(s == "b" for s, _ in events))
    assert [side for side, _ in events[: 2 * both]] == ["a", "b"] * both
    assert set(pool.loaded()) == {refs["base"], refs["other"]}


def test_history_changes_the_answer(pool, refs):
    a, b = Side(refs["base"], refs["lora_a"]), Side(refs["base"], refs["lora_b"])
    fresh = collect(stream_pair(pool, a, b, MESSAGE, sampling=GREEDY))
    followed = collect(stream_pair(pool, a, b, MESSAGE, [("Shares rose sharply", "positive", "negative")], GREEDY))
    assert fresh != followed


def test_stop_flag_ends_both_sides_early(pool, refs):
    a, b = Side(refs["base"], refs["lora_a"]), Side(refs["base"], refs["lora_b"])
    long = Sampling(temperature=0.0, max_new_tokens=60)
    full = list(stream_pair(pool, a, b, MESSAGE, sampling=long))
    stop = threading.Event()
    stopped = []
    for event in stream_pair(pool, a, b, MESSAGE, sampling=long, stop=stop):
        stopped.append(event)
        stop.set()
    assert len(full) > 20 and len(stopped) <= 4


def test_closing_the_stream_stops_generation_and_releases_the_model(pool, refs):
    a, b = Side(refs["base"], refs["lora_a"]), Side(refs["base"], refs["lora_b"])
    endless = Sampling(temperature=0.0, max_new_tokens=1000)
    with batch_sizes(pool, refs["base"]) as sizes:
        stream = stream_pair(pool, a, b, MESSAGE, sampling=endless, limits=Limits(max_new_tokens=1000))
        next(stream)
        stream.close()  # the generation thread stops and gives the model back

        def other_user_turn() -> None:
            with pool.use(refs["base"]):
                pass

        other_user = threading.Thread(target=other_user_turn)
        other_user.start()
        other_user.join(timeout=30)
        assert not other_user.is_alive()
    assert len(sizes) < 100  # forward passes: stopped long before 1000 tokens


def test_sampling_runs_and_respects_the_hard_cap(pool, refs):
    a, b = Side(refs["base"], refs["lora_a"]), Side(refs["base"], refs["lora_b"])
    with batch_sizes(pool, refs["base"]) as sizes:
        answers = collect(stream_pair(pool, a, b, MESSAGE, sampling=Sampling(0.9, 500), limits=Limits(max_new_tokens=5)))
    assert answers["a"] and answers["b"]
    assert len(sizes) <= 5  # a forward pass per new token at most, though the slider asked for 500


def test_prompt_too_long_is_refused_with_a_message(pool, refs):
    a, b = Side(refs["base"], refs["lora_a"]), Side(refs["base"], refs["lora_b"])
    with pytest.raises(LimitError, match="limit is 20"):
        list(stream_pair(pool, a, b, MESSAGE * 5, sampling=GREEDY, limits=Limits(max_prompt_tokens=20)))


def test_prompt_formats(pool, refs):
    with pool.use(refs["base"]) as lease:
        tokenizer = lease.tokenizer
    text, special = build_prompt(tokenizer, [("Hi", "Hello")], "Why?")
    assert special is True
    assert text == (
        "<|im_start|>question\nHi<|im_end|>\n<|im_start|>answer\nHello<|im_end|>\n"
        "<|im_start|>question\nWhy?<|im_end|>\n<|im_start|>answer\n"
    )
    tokenizer = tokenizer.__class__.from_pretrained(refs["base"].repo)
    tokenizer.chat_template = (
        "{% for m in messages %}[{{ m.role }}] {{ m.content }}\n{% endfor %}"
        "{% if add_generation_prompt %}[assistant] {% endif %}"
    )
    text, special = build_prompt(tokenizer, [("Hi", "Hello")], "Why?")
    assert special is False
    assert text == "[user] Hi\n[assistant] Hello\n[user] Why?\n[assistant] "

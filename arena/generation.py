"""Two-sided answering for the arena: both sides stream token by token, at the same pace.

When both sides share a base model (the common case: two adapters of one base), one decoding loop
(:mod:`arena.decoding`) runs a batch of two rows, each with its own adapter (a mixed-adapter batch,
:mod:`arena.stacked_lora`), so the two answers advance one token per step together and a faster side cannot
give itself away; the side that finishes first leaves the batch. Full models (merged entries) on different
weights run in two threads, and the consumer takes their increments in turn.
:func:`stream_sequential` answers one side after the other, for the benchmark.

Each token becomes text in constant work (:mod:`arena.detokenize`), and the increments reach the consumer
through :class:`arena.handoff.Handoff`, which takes no lock while the consumer keeps up: the stream costs the
decoding loop only a few per cent (``bench/arena.py``).

Every function yields ``(side, text_increment)`` with side ``"a"`` or ``"b"``.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Iterable, Iterator, Sequence

import torch
from transformers import PreTrainedTokenizerBase

from arena.decoding import Decoding, Outcome, decode_rows
from arena.detokenize import IncrementalText
from arena.handoff import Handoff
from arena.limits import LimitError, Limits, Sampling, TimeLimitReached
from models.loading import BASE_ADAPTER, ModelPool, ModelRef

FLOWERTUNE_TURN = "<|im_start|>question\n{prompt}<|im_end|>\n<|im_start|>answer\n"
_DONE = object()  # end of one side's answer
_TIMED_OUT = object()  # end of one side's answer, cut by the time limit


@dataclass(frozen=True)
class Side:
    """What answers on one side: a model, optionally with a PEFT adapter on top."""

    model: ModelRef
    adapter: ModelRef | None = None


# One past turn of the conversation: (user message, answer of side a, answer of side b).
Turn = tuple[str, str, str]


def build_prompt(
    tokenizer: PreTrainedTokenizerBase, history: Sequence[tuple[str, str]], message: str
) -> tuple[str, bool]:
    """The prompt text for one side, and whether the tokenizer should add its special tokens.

    The base tokenizer's chat template when it has one (it renders BOS itself), else the FlowerTune prompt
    format, each past turn closed with ``<|im_end|>``.
    """
    if tokenizer.chat_template:
        messages = []
        for user, answer in history:
            messages += [{"role": "user", "content": user}, {"role": "assistant", "content": answer}]
        messages.append({"role": "user", "content": message})
        return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True), False
    past = "".join(FLOWERTUNE_TURN.format(prompt=user) + f"{answer}<|im_end|>\n" for user, answer in history)
    return past + FLOWERTUNE_TURN.format(prompt=message), True


def stop_token_ids(tokenizer: PreTrainedTokenizerBase, model) -> list[int]:
    """EOS ids of the tokenizer and the generation config, plus ``<|im_end|>`` when it is one token (it ends
    a FlowerTune-format answer)."""
    ids = {tokenizer.eos_token_id}
    configured = getattr(model.generation_config, "eos_token_id", None)
    ids.update(configured if isinstance(configured, list) else [configured])
    if "<|im_end|>" in tokenizer.get_vocab():
        ids.add(tokenizer.convert_tokens_to_ids("<|im_end|>"))
    return sorted(i for i in ids if i is not None)


def _answer(
    pool: ModelPool,
    sides: Sequence[Side],
    histories: Sequence[Sequence[tuple[str, str]]],
    message: str,
    sampling: Sampling,
    limits: Limits,
    stops: Sequence[threading.Event],
    handoff: Handoff,
    side_names: Sequence[str],
) -> None:
    """Generate the answers of ``sides`` (all on one model) as one batch, handing each side's text increments
    over under its name. Runs in a worker thread; any error is handed to the consumer the same way."""
    try:
        with pool.use(sides[0].model, [side.adapter for side in sides]) as lease:
            tokenizer = lease.tokenizer
            rendered = [build_prompt(tokenizer, history, message) for history in histories]
            encoded = tokenizer(
                [text for text, _ in rendered],
                return_tensors="pt",
                padding=True,
                padding_side="left",
                add_special_tokens=rendered[0][1],
            ).to(lease.device)
            if encoded.input_ids.shape[1] > limits.max_prompt_tokens:
                raise LimitError(
                    f"The conversation is {encoded.input_ids.shape[1]:,} tokens long; the limit is "
                    f"{limits.max_prompt_tokens:,}. Clear it to start again."
                )
            decoding = Decoding(
                max_new_tokens=min(sampling.max_new_tokens, limits.max_new_tokens),
                stop_ids=frozenset(stop_token_ids(tokenizer, lease.model)),
                temperature=sampling.temperature,
                top_p=sampling.top_p,
                max_seconds=limits.max_seconds,
            )
            names = lease.adapter_names if any(n != BASE_ADAPTER for n in lease.adapter_names) else None
            texts = [IncrementalText(tokenizer) for _ in sides]
            outcome = Outcome()
            with torch.inference_mode():
                for row, token in decode_rows(
                    lease.model, encoded.input_ids, encoded.attention_mask, decoding, adapter_names=names,
                    interrupted=lambda: any(event.is_set() for event in stops), outcome=outcome,
                ):
                    increment = texts[row].add(token) if token is not None else texts[row].finish()
                    if increment:
                        handoff.put(side_names[row], increment)
                    if token is None:
                        handoff.put(side_names[row], _TIMED_OUT if outcome.timed_out else _DONE)
    except BaseException as error:  # handed over, raised again by the consumer
        for name in side_names:
            handoff.put(name, error)


def _side_histories(history: Sequence[Turn]) -> dict[str, list[tuple[str, str]]]:
    return {"a": [(u, a) for u, a, _ in history], "b": [(u, b) for u, _, b in history]}


def _drain(
    handoff: Handoff, sides: Sequence[str], limits: Limits, stop: threading.Event | None
) -> Iterator[tuple[str, str]]:
    """Yield the sides' increments in turn (a, b, a, b, ...), waiting for the slower one; a side leaves the
    rotation when it is done. Once ``stop`` is set, what decoding made meanwhile is not shown. Raises
    :class:`TimeLimitReached` at the end when the time limit cut an answer."""
    active, cut = list(sides), False
    while active:
        for side in list(active):
            if stop is not None and stop.is_set():
                return
            item = handoff.get(side)
            if item is _DONE or item is _TIMED_OUT:
                active.remove(side)
                cut = cut or item is _TIMED_OUT
            elif isinstance(item, BaseException):
                raise item
            else:
                yield side, item
    if cut:
        raise TimeLimitReached(f"The answers were cut at the {limits.max_seconds:g} s time limit.")


# A job: the sides one worker thread answers as one batch (all on one model), by side name.
Job = Sequence[tuple[str, Side]]


def _stream(
    pool: ModelPool,
    jobs: Sequence[Job],
    history: Sequence[Turn],
    message: str,
    sampling: Sampling,
    limits: Limits,
    stop: threading.Event | None,
) -> Iterator[tuple[str, str]]:
    """Run every job in its own thread at once and yield their increments in turn. Leaving the iterator early
    (or setting ``stop``) ends the answers at the next token; the threads are joined before it returns."""
    halt = threading.Event()  # set when the consumer goes away
    stops = [halt] if stop is None else [halt, stop]
    histories = _side_histories(history)
    sides = [name for job in jobs for name, _ in job]
    handoff = Handoff(sides)
    threads = [
        threading.Thread(
            target=_answer,
            args=(pool, [side for _, side in job], [histories[name] for name, _ in job], message, sampling, limits,
                  stops, handoff, [name for name, _ in job]),
            daemon=True,
        )
        for job in jobs
    ]
    for thread in threads:
        thread.start()
    try:
        yield from _drain(handoff, sides, limits, stop)
    finally:
        halt.set()
        for thread in threads:
            thread.join()


def stream_pair(
    pool: ModelPool,
    a: Side,
    b: Side,
    message: str,
    history: Sequence[Turn] = (),
    sampling: Sampling = Sampling(),
    *,
    limits: Limits = Limits(),
    stop: threading.Event | None = None,
) -> Iterator[tuple[str, str]]:
    """Both sides' answers to ``message`` at the same pace, as ``(side, increment)`` pairs: one batch when they
    share a model, else one thread each.

    Setting ``stop`` ends both answers at the next token; closing the iterator early does the same.
    """
    jobs = [[("a", a), ("b", b)]] if a.model == b.model else [[("a", a)], [("b", b)]]
    yield from _stream(pool, jobs, history, message, sampling, limits, stop)


def stream_sequential(
    pool: ModelPool,
    a: Side,
    b: Side,
    message: str,
    history: Sequence[Turn] = (),
    sampling: Sampling = Sampling(),
    *,
    limits: Limits = Limits(),
) -> Iterator[tuple[str, str]]:
    """Side a's whole answer, then side b's (each a batch of one): the baseline the benchmark compares with."""
    for job in ([("a", a)], [("b", b)]):
        yield from _stream(pool, [job], history, message, sampling, limits, None)


def collect(events: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Join streamed increments into the full answer of each side."""
    answers = {"a": "", "b": ""}
    for side, text in events:
        answers[side] += text
    return answers

"""Two-sided answering for the arena: both sides stream token by token, at the same pace.

When both sides share a base model (the common case: two adapters of one base), one ``generate`` call runs a
batch of two rows, each with its own adapter (peft's mixed-adapter batch, ``adapter_names=[a, b]``), so the
two answers advance one token per step together and a faster side cannot give itself away. Full models
(merged entries) on different weights run in two threads, and the consumer takes their increments in turn.
:func:`stream_sequential` answers one side after the other, for the benchmark.

Every function yields ``(side, text_increment)`` with side ``"a"`` or ``"b"``.
"""

from __future__ import annotations

import queue
import threading
from dataclasses import dataclass
from typing import Iterable, Iterator, Sequence

import torch
from transformers import PreTrainedTokenizerBase, StoppingCriteria, StoppingCriteriaList
from transformers.generation.streamers import BaseStreamer

from arena.limits import LimitError, Limits, Sampling
from evaluator.loading import BASE_ADAPTER, ModelPool, ModelRef

FLOWERTUNE_TURN = "<|im_start|>question\n{prompt}<|im_end|>\n<|im_start|>answer\n"
_DONE = object()  # end of one side's answer


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


class RowStreamer(BaseStreamer):
    """Splits each generation step's tokens per batch row and puts each row's new text on its own queue.

    ``TextIteratorStreamer`` accepts a batch of one only. A row's text is decoded from all its tokens so far
    (so multi-token characters and word-joining decoders come out right) and an increment is held back while it
    ends in an incomplete UTF-8 sequence. A row ends at its first stop token; the padding after it is ignored.
    """

    def __init__(self, tokenizer: PreTrainedTokenizerBase, queues: Sequence[queue.Queue], stop_ids: Iterable[int]):
        self.tokenizer = tokenizer
        self.queues = list(queues)
        self.stop_ids = set(stop_ids)
        self.tokens: list[list[int]] = [[] for _ in self.queues]
        self.sent = [0] * len(self.queues)
        self.done = [False] * len(self.queues)
        self.prompt_seen = False

    def put(self, value: torch.Tensor) -> None:
        if not self.prompt_seen:  # generate() first hands over the prompt
            self.prompt_seen = True
            return
        for row, token in enumerate(value.reshape(len(self.queues), -1)[:, -1].tolist()):
            if self.done[row]:
                continue
            if token in self.stop_ids:
                self._finish(row)
                continue
            self.tokens[row].append(token)
            self._emit(row, final=False)

    def end(self) -> None:
        for row in range(len(self.queues)):
            if not self.done[row]:
                self._finish(row)

    def _emit(self, row: int, final: bool) -> None:
        text = self.tokenizer.decode(self.tokens[row], skip_special_tokens=True)
        if text.endswith("\ufffd") and not final:
            return
        if len(text) > self.sent[row]:
            self.queues[row].put(text[self.sent[row] :])
            self.sent[row] = len(text)

    def _finish(self, row: int) -> None:
        self._emit(row, final=True)
        self.done[row] = True
        self.queues[row].put(_DONE)


class _StopOnEvent(StoppingCriteria):
    """Ends every row at the next step once any of the events is set."""

    def __init__(self, *events: threading.Event):
        self.flags = events

    def __call__(self, input_ids: torch.LongTensor, scores, **kwargs) -> torch.BoolTensor:
        stopped = any(event.is_set() for event in self.flags)
        return torch.full((input_ids.shape[0],), stopped, dtype=torch.bool, device=input_ids.device)


def _answer(
    pool: ModelPool,
    sides: Sequence[Side],
    histories: Sequence[Sequence[tuple[str, str]]],
    message: str,
    sampling: Sampling,
    limits: Limits,
    stops: Sequence[threading.Event],
    queues: Sequence[queue.Queue],
) -> None:
    """Generate the answers of ``sides`` (all on one model) as one batch, streaming into ``queues``.
    Runs in a worker thread; any error is handed to the consumer through the queues."""
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
            stop_ids = stop_token_ids(tokenizer, lease.model)
            kwargs = {
                "max_new_tokens": min(sampling.max_new_tokens, limits.max_new_tokens),
                "do_sample": sampling.temperature > 0,
                "streamer": RowStreamer(tokenizer, queues, stop_ids),
                "stopping_criteria": StoppingCriteriaList([_StopOnEvent(*stops)]),
                "eos_token_id": stop_ids,
                "pad_token_id": tokenizer.pad_token_id,
                "max_time": limits.max_seconds,
            }
            if sampling.temperature > 0:
                kwargs.update(temperature=sampling.temperature, top_p=sampling.top_p)
            else:  # greedy: drop sampling defaults a model's generation config may carry
                kwargs.update(temperature=None, top_p=None, top_k=None)
            if any(name != BASE_ADAPTER for name in lease.adapter_names):
                kwargs["adapter_names"] = lease.adapter_names
            with torch.inference_mode():
                lease.model.generate(**encoded, **kwargs)
    except BaseException as error:  # handed over, raised again by the consumer
        for q in queues:
            q.put(error)


def _side_histories(history: Sequence[Turn]) -> dict[str, list[tuple[str, str]]]:
    return {"a": [(u, a) for u, a, _ in history], "b": [(u, b) for u, _, b in history]}


def _drain(queues: dict[str, queue.Queue], order: Sequence[str]) -> Iterator[tuple[str, str]]:
    """Yield the sides' increments in turn (a, b, a, b, ...), waiting for the slower one; a side leaves the
    rotation when it is done."""
    active = list(order)
    while active:
        for side in list(active):
            item = queues[side].get()
            if item is _DONE:
                active.remove(side)
            elif isinstance(item, BaseException):
                raise item
            else:
                yield side, item


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
    """Both sides' answers to ``message`` at the same pace, as ``(side, increment)`` pairs.

    Setting ``stop`` ends both answers at the next token; closing the iterator early does the same.
    """
    halt = threading.Event()  # set when the consumer goes away
    stops = [halt] if stop is None else [halt, stop]
    queues = {"a": queue.Queue(), "b": queue.Queue()}
    histories = _side_histories(history)
    if a.model == b.model:
        jobs = [([a, b], [histories["a"], histories["b"]], [queues["a"], queues["b"]])]
    else:
        jobs = [([a], [histories["a"]], [queues["a"]]), ([b], [histories["b"]], [queues["b"]])]
    threads = [
        threading.Thread(target=_answer, args=(pool, sides, hs, message, sampling, limits, stops, qs), daemon=True)
        for sides, hs, qs in jobs
    ]
    for thread in threads:
        thread.start()
    try:
        yield from _drain(queues, ["a", "b"])
    finally:
        halt.set()
        for thread in threads:
            thread.join()


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
    histories = _side_histories(history)
    for name, side in (("a", a), ("b", b)):
        q: queue.Queue = queue.Queue()
        halt = threading.Event()
        args = (pool, [side], [histories[name]], message, sampling, limits, [halt], [q])
        thread = threading.Thread(target=_answer, args=args, daemon=True)
        thread.start()
        try:
            yield from _drain({name: q}, [name])
        finally:
            halt.set()  # only matters when the consumer left early
            thread.join()


def collect(events: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Join streamed increments into the full answer of each side."""
    answers = {"a": "", "b": ""}
    for side, text in events:
        answers[side] += text
    return answers

"""Token-by-token decoding of a batch whose rows leave it as they finish.

``generate()`` keeps a finished row in the batch, decoding padding, until the longest answer ends. In a
two-sided arena answer where one side says a sentence and the other a page, that is a batch of two for the
whole page. Here a row that produced a stop token is dropped from the batch, the KV cache
(``Cache.batch_select_indices``) and the adapter list, so the other side goes on at the cost of a batch of
one. While both rows run they advance one token per step together: the faster side cannot give itself away.

Both sides decode with the same settings (temperature, top-p), whatever each model's generation config
suggests: a comparison should differ in the weights only.
"""

from __future__ import annotations

import time
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Callable, Iterator, Sequence

import torch
from transformers import LogitsProcessorList, TemperatureLogitsWarper, TopPLogitsWarper

from arena.stacked_lora import stack_lora


@dataclass(frozen=True)
class Decoding:
    """How to decode: ``temperature`` 0 is greedy; decoding stops after ``max_new_tokens`` or ``max_seconds``."""

    max_new_tokens: int
    stop_ids: frozenset[int]
    temperature: float = 0.0
    top_p: float = 1.0
    max_seconds: float = float("inf")


@dataclass
class Outcome:
    """Why decoding ended early, set before the rows it cut are reported finished."""

    timed_out: bool = False
    interrupted: bool = False


def _choose(logits: torch.Tensor, warpers: LogitsProcessorList | None) -> torch.Tensor:
    if warpers is None:
        return logits.argmax(dim=-1)
    scores = warpers(None, logits)
    return torch.multinomial(torch.softmax(scores, dim=-1), num_samples=1).squeeze(1)


def decode_rows(
    model,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    decoding: Decoding,
    *,
    adapter_names: Sequence[str] | None = None,
    interrupted: Callable[[], bool] = lambda: False,
    outcome: Outcome | None = None,
    stacked_lora: bool = True,
) -> Iterator[tuple[int, int | None]]:
    """Yield ``(row, token)`` for each new token of each row still decoding, then ``(row, None)`` once the row
    is finished (a stop token, the token cap, the time limit or ``interrupted()``). Rows are the indices of
    the left-padded ``input_ids``. ``adapter_names`` gives each row its peft adapter (a mixed batch), run as
    batched matrix products (:mod:`arena.stacked_lora`) where it covers the adapters, else (or with
    ``stacked_lora=False``) through peft's ``adapter_names``."""
    outcome = outcome or Outcome()
    warpers = None
    if decoding.temperature > 0:
        warpers = LogitsProcessorList([TemperatureLogitsWarper(decoding.temperature), TopPLogitsWarper(decoding.top_p)])
    rows = list(range(input_ids.shape[0]))  # the original row of each batch row still decoding
    names = list(adapter_names) if adapter_names is not None else None
    lora = stack_lora(model, names) if names is not None and stacked_lora else None
    positions = (attention_mask.long().cumsum(-1) - 1).clamp(min=0)  # left padding does not shift positions
    step = {"input_ids": input_ids, "attention_mask": attention_mask, "position_ids": positions}
    deadline = time.monotonic() + decoding.max_seconds
    cache = None
    for produced in range(1, decoding.max_new_tokens + 1):
        if interrupted():
            outcome.interrupted = True
            break
        extra = {"adapter_names": names} if names is not None and lora is None else {}
        with lora.applied() if lora is not None else nullcontext():
            out = model(**step, past_key_values=cache, use_cache=True, logits_to_keep=1, **extra)
        cache = out.past_key_values
        tokens = _choose(out.logits[:, -1, :].float(), warpers)
        keep = []
        for index, token in enumerate(tokens.tolist()):
            if token in decoding.stop_ids:
                yield rows[index], None
            else:
                yield rows[index], token
                keep.append(index)
        if not keep:
            return
        mask, last = step["attention_mask"], step["position_ids"][:, -1:]
        if len(keep) < len(rows):
            index = torch.tensor(keep, dtype=torch.long, device=tokens.device)
            cache.batch_select_indices(index)
            tokens, mask, last = tokens[index], mask[index], last[index]
            rows = [rows[i] for i in keep]
            names = [names[i] for i in keep] if names is not None else None
            if lora is not None:
                lora.select(index)
        if produced == decoding.max_new_tokens:
            break
        if time.monotonic() >= deadline:
            outcome.timed_out = True
            break
        step = {
            "input_ids": tokens[:, None],
            "attention_mask": torch.cat([mask, mask.new_ones((len(rows), 1))], dim=-1),
            "position_ids": last + 1,
        }
    for row in rows:
        yield row, None

"""Limits of a chat request, as trusted public arenas set them, with the words a user sees when one is hit.

The UI passes raw slider values and text here; nothing beyond these limits reaches a model.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass


class LimitError(ValueError):
    """A request was refused by a limit; ``str(error)`` is the message for the user."""


class TimeLimitReached(LimitError):
    """The answers were cut by the time limit; what was written so far stands."""


@dataclass(frozen=True)
class Limits:
    max_input_chars: int = 12_000
    max_turns: int = 10
    max_new_tokens: int = 1024  # hard cap per answer, whatever the slider says
    max_prompt_tokens: int = 4096
    max_temperature: float = 1.5
    max_seconds: float = 120.0  # decoding time of one two-sided answer (loading a model not counted)
    requests_per_minute: int = 20  # per session or account


@dataclass(frozen=True)
class Sampling:
    """Sampling settings after clamping; temperature 0 means greedy decoding."""

    temperature: float = 0.7
    max_new_tokens: int = 256
    top_p: float = 0.95


def clamp_sampling(
    temperature: float | None, max_new_tokens: int | None, limits: Limits = Limits(), top_p: float | None = None
) -> Sampling:
    """Bring UI values into range (never an error: a slider can only be off by being out of range)."""
    default = Sampling()
    temperature = default.temperature if temperature is None else float(temperature)
    tokens = default.max_new_tokens if max_new_tokens is None else int(max_new_tokens)
    top_p = default.top_p if top_p is None else float(top_p)
    return Sampling(
        temperature=min(max(temperature, 0.0), limits.max_temperature),
        max_new_tokens=min(max(tokens, 1), limits.max_new_tokens),
        top_p=min(max(top_p, 0.05), 1.0),
    )


def check_message(message: str, turns_so_far: int, limits: Limits = Limits()) -> str:
    """The message, stripped, if it may be sent; else a :class:`LimitError` saying why."""
    text = (message or "").strip()
    if not text:
        raise LimitError("Type a message first.")
    if len(text) > limits.max_input_chars:
        raise LimitError(
            f"Your message has {len(text):,} characters; the limit is {limits.max_input_chars:,}. Shorten it."
        )
    if turns_so_far >= limits.max_turns:
        raise LimitError(
            f"This conversation has reached {limits.max_turns} turns, the limit. Vote, then clear it to start again."
        )
    return text


class RateLimiter:
    """At most ``limit`` events per ``window`` seconds per key (session hash or account), in memory.

    A sliding window over event times; thread-safe. ``clock`` is injectable so tests need not sleep.
    """

    def __init__(self, limit: int, window: float = 60.0, clock=time.monotonic):
        self.limit = limit
        self.window = window
        self._clock = clock
        self._events: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def check(self, key: str) -> None:
        """Count one event for ``key``, or raise :class:`LimitError` (without counting) when over the limit."""
        now = self._clock()
        with self._lock:
            events = self._events[key]
            while events and events[0] <= now - self.window:
                events.popleft()
            if len(events) >= self.limit:
                wait = int(events[0] + self.window - now) + 1
                raise LimitError(
                    f"Too many requests: at most {self.limit} per {int(self.window)} s. Try again in {wait} s."
                )
            events.append(now)


def check_prompt_tokens(count: int, limits: Limits = Limits()) -> None:
    """Raise :class:`LimitError` when a rendered conversation of ``count`` tokens is over the prompt limit."""
    if count > limits.max_prompt_tokens:
        raise LimitError(
            f"The conversation is {count:,} tokens long; the limit is {limits.max_prompt_tokens:,}. Clear it to "
            "start again."
        )

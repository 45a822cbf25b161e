"""Chat limits and the messages a user sees."""

from __future__ import annotations

import pytest

from arena.limits import (
    LimitError,
    Limits,
    RateLimiter,
    Sampling,
    check_message,
    clamp_sampling,
)


def test_sampling_is_clamped_into_range():
    limits = Limits(max_new_tokens=512, max_temperature=1.5)
    assert clamp_sampling(9.0, 10_000, limits) == Sampling(temperature=1.5, max_new_tokens=512, top_p=0.95)
    assert clamp_sampling(-1, 0, limits, top_p=3) == Sampling(temperature=0.0, max_new_tokens=1, top_p=1.0)
    assert clamp_sampling(None, None, limits) == Sampling()


def test_messages_are_checked_with_clear_words():
    limits = Limits(max_input_chars=10, max_turns=2)
    assert check_message("  hi  ", 0, limits) == "hi"
    with pytest.raises(LimitError, match="Type a message first"):
        check_message("   ", 0, limits)
    with pytest.raises(LimitError, match="has 11 characters; the limit is 10"):
        check_message("x" * 11, 0, limits)
    with pytest.raises(LimitError, match="reached 2 turns"):
        check_message("hi", 2, limits)


def test_rate_limiter_slides_per_key():
    now = [0.0]
    limiter = RateLimiter(limit=2, window=60, clock=lambda: now[0])
    limiter.check("s1")
    limiter.check("s1")
    limiter.check("s2")  # another session has its own budget
    now[0] = 30.0
    with pytest.raises(LimitError, match=r"at most 2 per 60 s. Try again in 31 s"):
        limiter.check("s1")
    now[0] = 60.5  # the first two events left the window; the refused one was not counted
    limiter.check("s1")
    limiter.check("s1")
    with pytest.raises(LimitError):
        limiter.check("s1")


def test_every_generation_event_shares_one_gradio_concurrency_limit(tmp_path):
    """Send, Enter and Regenerate all generate: they queue behind one limit (ARENA_CONCURRENCY), so the GPU is
    never asked for more answers at once than configured, whichever button started them."""
    import gradio as gr

    from arena.ui import arena_tabs
    from store.base import LocalStore

    environ = {"ARENA_CONCURRENCY": "2", "ARENA_DEMO": "off", "LEADERBOARD_DATA_DIR": str(tmp_path),
               "ARENA_MAX_ADAPTERS": "3", "ARENA_MAX_MODELS": "1"}
    with gr.Blocks() as blocks, gr.Tabs():
        service = arena_tabs(LocalStore(tmp_path / "data"), environ)
    assert (service.pool.max_adapters, service.pool.max_models) == (3, 1)  # the memory bounds, from the env
    generating = [fn for fn in blocks.fns.values() if getattr(fn.fn, "__name__", "") in ("on_send", "on_regenerate")]
    assert len(generating) == 3
    assert {(fn.concurrency_limit, fn.concurrency_id) for fn in generating} == {(2, "arena-generation")}
    others = [fn for fn in blocks.fns.values() if fn not in generating]
    assert others and all(fn.concurrency_id != "arena-generation" for fn in others)

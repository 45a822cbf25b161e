"""The Compare and Arena tabs (Gradio). Wiring and rendering only: the work lives in arena/service.py."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable

import gradio as gr

from arena.render import ARENA_COLUMNS, ARENA_HELP, render_arena
from arena.salt import SaltUnavailable
from arena.service import ArenaError, ArenaService, Battle, Frame
from arena.votes import VoteRefused
from store.base import Record, Store
from uikit.tables import BOARD_CSS, SORT_ON_CLICK_JS

NAMED, ANONYMOUS = "Pick two entries", "Random anonymous pair"
COMPARE_HELP = (
    "Chat with two entries of a board side by side: both answers stream at the same pace from one batch over "
    "the shared base model. Pick two ranked entries, or ask for a **random anonymous pair** whose names are "
    "revealed after your vote. Vote when you have seen enough; each conversation counts once, and only votes on "
    "a random anonymous pair are rated."
)
PUBLIC_NOTICE = (
    "🔓 **Conversations are public.** Your messages, both answers and your vote are stored in a public dataset "
    "(your account or session only as a salted hash). Do not type anything personal or secret."
)
SIGN_IN_NOTE = "Votes count only from signed-in accounts here: sign in with Hugging Face to vote."
FAST = {"queue": False, "show_progress": "hidden"}


def _account(profile: gr.OAuthProfile | None) -> str | None:
    return profile.username if profile is not None else None


def _arena_off(reason: str) -> None:
    """The two tabs, saying why the arena is off (the rest of the app runs)."""
    for name in ("Compare", "Arena"):
        with gr.Tab(name, id=f"tab-{name.lower()}", elem_id=f"tab-{name.lower()}"):
            gr.Markdown(f"⚠️ {reason}", elem_id=f"{name.lower()}-off")


def arena_tabs(store: Store, environ=os.environ, results: Callable[[str], list[Record]] | None = None
               ) -> ArenaService | None:
    """Build the Compare and Arena tabs inside the current ``gr.Tabs``; returns the service behind them, or
    None when the arena cannot run as configured (the tabs then say why, and so does the log). ``results``: where
    a board's entries come from (see :class:`ArenaService`)."""
    try:
        service = ArenaService.from_env(store, environ, results)
    except SaltUnavailable as error:
        logging.getLogger(__name__).error("%s", error)
        _arena_off(str(error))
        return None
    except ValueError as error:  # a bad setting: the message names it
        logging.getLogger(__name__).exception("the arena is off")
        _arena_off(f"The arena is off: {error}")
        return None
    limits = service.limits
    concurrency = int(environ.get("ARENA_CONCURRENCY", "1"))
    boards = service.boards()
    first = service.opening_board()

    def entry_updates(board: str, mode: str):
        choices = service.entry_choices(board)
        values = [c[1] for c in choices[:2]] + [None, None]
        return (gr.Dropdown(choices=choices, value=values[0]), gr.Dropdown(choices=choices, value=values[1]),
                gr.Row(visible=mode == NAMED), service.board_note(board))

    with gr.Tab("Compare", id="tab-compare", elem_id="tab-compare"):
        gr.Markdown(COMPARE_HELP)
        with gr.Row():
            board = gr.Dropdown(boards, value=first, label="Board", elem_id="compare-board", scale=2)
            mode = gr.Radio([NAMED, ANONYMOUS], value=NAMED, label="Mode", elem_id="compare-mode", scale=2)
        first_choices = service.entry_choices(first)
        with gr.Row() as pickers:
            entry_a = gr.Dropdown(first_choices, value=first_choices[0][1] if first_choices else None,
                                  label="Entry A", elem_id="compare-entry-a")
            entry_b = gr.Dropdown(first_choices, value=first_choices[1][1] if len(first_choices) > 1 else None,
                                  label="Entry B", elem_id="compare-entry-b")
        note = gr.Markdown(service.board_note(first), elem_id="compare-note")
        with gr.Row(equal_height=True):
            chat_a = gr.Chatbot(label="Model A", elem_id="compare-chat-a", height=380, feedback_options=None)
            chat_b = gr.Chatbot(label="Model B", elem_id="compare-chat-b", height=380, feedback_options=None)
        gr.Markdown(PUBLIC_NOTICE, elem_id="compare-public-notice")
        if service.vote_rules.sign_in_required:
            with gr.Row():
                gr.Markdown(SIGN_IN_NOTE, elem_id="compare-sign-in")
                gr.LoginButton(elem_id="compare-login")
        with gr.Row(equal_height=True):
            message = gr.Textbox(placeholder="Ask both models something…", show_label=False, scale=6,
                                 max_lines=6, max_length=limits.max_input_chars + 1, elem_id="compare-message")
            send = gr.Button("Send", variant="primary", scale=1, elem_id="compare-send")
        with gr.Row():
            stop = gr.Button("■ Stop", size="sm", elem_id="compare-stop")
            regenerate = gr.Button("↻ Regenerate", size="sm", elem_id="compare-regenerate")
            clear = gr.Button("🗑 Clear", size="sm", elem_id="compare-clear")
        with gr.Row():
            votes = {
                "a": gr.Button("👈 A is better", elem_id="vote-a"),
                "b": gr.Button("👉 B is better", elem_id="vote-b"),
                "tie": gr.Button("🤝 Tie", elem_id="vote-tie"),
                "both_bad": gr.Button("👎 Both are bad", elem_id="vote-both-bad"),
            }
        status = gr.Markdown(elem_id="compare-status")
        with gr.Accordion("Sampling", open=False):
            with gr.Row():
                temperature = gr.Slider(0.0, limits.max_temperature, value=0.7, step=0.05, label="Temperature",
                                        elem_id="compare-temperature")
                max_tokens = gr.Slider(16, limits.max_new_tokens, value=256, step=16, label="Max new tokens",
                                       elem_id="compare-max-tokens")
            gr.Markdown(f"Limits: {limits.max_input_chars:,} characters per message, {limits.max_turns} turns, "
                        f"{limits.max_new_tokens:,} new tokens and {limits.max_seconds:.0f} s per answer, "
                        f"{limits.requests_per_minute} messages per minute.")
        battle = gr.State(None)

    with gr.Tab("Arena", id="tab-arena", elem_id="tab-arena") as arena_tab:
        gr.Markdown(ARENA_HELP)
        with gr.Row():
            arena_board = gr.Dropdown(boards, value=first, label="Board", elem_id="arena-board", scale=3)
            refresh = gr.Button("↻ Refresh", size="sm", scale=0, elem_id="arena-refresh")
        sort = gr.State(("rank", False))
        table = gr.HTML(value=lambda: render_arena(service.board_frame(first), first),
                        css_template=BOARD_CSS, js_on_load=SORT_ON_CLICK_JS, elem_id="arena-table")

    # --- Compare wiring -------------------------------------------------------------------------------------
    def panes(current: Battle | None):
        labels = current.labels() if current else ("Model A", "Model B")
        return (gr.Chatbot(value=current.messages("a") if current else [], label=labels[0]),
                gr.Chatbot(value=current.messages("b") if current else [], label=labels[1]))

    def reset(board_id, mode_value):
        return (None, *panes(None), "", *entry_updates(board_id, mode_value))

    reset_outputs = [battle, chat_a, chat_b, status, entry_a, entry_b, pickers, note]
    board.change(reset, [board, mode], reset_outputs, **FAST)
    mode.change(reset, [board, mode], reset_outputs, **FAST)
    for picker in (entry_a, entry_b):
        picker.change(lambda: (None, *panes(None), ""), None, [battle, chat_a, chat_b, status], **FAST)

    def show(frame: Frame, clear_box: bool):
        if frame.warning:
            gr.Warning(frame.status.removeprefix("⚠️ "))
        box = "" if clear_box else gr.skip()
        return (frame.battle, *panes(frame.battle), frame.status, box)

    def on_send(current, board_id, mode_value, a_id, b_id, text, temp, tokens, request: gr.Request,
                profile: gr.OAuthProfile | None = None):
        voter = service.rate_key(_account(profile), request.session_hash)
        try:
            current = current or service.new_battle(board_id, a_id, b_id, mode_value == ANONYMOUS)
        except ArenaError as error:
            yield show(Frame(None, f"⚠️ {error}", warning=True), False)
            return
        stop_event = service.stop_event(request.session_hash)
        for index, frame in enumerate(service.answer(current, text, temp, tokens, voter=voter, stop=stop_event)):
            yield show(frame, index == 0 and not frame.warning)

    def on_regenerate(current, temp, tokens, request: gr.Request, profile: gr.OAuthProfile | None = None):
        if current is None:
            yield show(Frame(None, "⚠️ Nothing to regenerate yet: send a message first.", warning=True), False)
            return
        voter = service.rate_key(_account(profile), request.session_hash)
        stop_event = service.stop_event(request.session_hash)
        for frame in service.regenerate(current, temp, tokens, voter=voter, stop=stop_event):
            yield show(frame, False)

    answer_outputs = [battle, chat_a, chat_b, status, message]
    generation = {"concurrency_limit": concurrency, "concurrency_id": "arena-generation",
                  "show_progress": "minimal"}
    send_inputs = [battle, board, mode, entry_a, entry_b, message, temperature, max_tokens]
    send.click(on_send, send_inputs, answer_outputs, **generation)
    message.submit(on_send, send_inputs, answer_outputs, **generation)
    regenerate.click(on_regenerate, [battle, temperature, max_tokens], answer_outputs, **generation)

    def on_stop(request: gr.Request):
        service.stop(request.session_hash)

    stop.click(on_stop, None, None, **FAST)

    def on_clear(current: Battle | None, board_id, mode_value, request: gr.Request):
        service.stop(request.session_hash)
        return (None, *panes(None), "", "")

    clear.click(on_clear, [battle, board, mode], [battle, chat_a, chat_b, status, message], **FAST)

    def on_vote(outcome: str):
        def cast(current, request: gr.Request, profile: gr.OAuthProfile | None = None):
            try:
                current, text = service.vote(current, outcome,
                                             voter=service.voter(_account(profile), request.session_hash))
            except VoteRefused as error:
                gr.Warning(str(error))
                return gr.skip(), gr.skip(), gr.skip(), f"⚠️ {error}", gr.skip(), gr.skip()
            board_id = current.board
            return (current, *panes(current), text, gr.Dropdown(value=board_id),
                    render_arena(service.board_frame(board_id), board_id))

        return cast

    for outcome, button in votes.items():
        button.click(on_vote(outcome), [battle], [battle, chat_a, chat_b, status, arena_board, table],
                     show_progress="hidden")

    # --- Arena wiring --------------------------------------------------------------------------------------
    def draw(board_id, order):
        return render_arena(service.board_frame(board_id), board_id, *order)

    def on_sort(board_id, order, event: gr.EventData):
        key = (event._data or {}).get("sort")
        if key not in ARENA_COLUMNS:
            return gr.skip(), gr.skip()
        order = (key, not order[1]) if order[0] == key else (key, ARENA_COLUMNS[key][2])
        return order, draw(board_id, order)

    table.click(on_sort, [arena_board, sort], [sort, table], **FAST)
    arena_board.change(draw, [arena_board, sort], table, **FAST)
    refresh.click(draw, [arena_board, sort], table, **FAST)
    arena_tab.select(draw, [arena_board, sort], table, **FAST)
    return service

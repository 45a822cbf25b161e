"""FlowerTune LLM Leaderboard & LLM Merging Competition — the Hugging Face Space entry point.

Composes the tabs and the public API (the rooms' ``api.py`` endpoints; every other event stays the page's own);
all logic lives in leaderboard/, submissions/, evaluator/ and arena/.
"""

from __future__ import annotations

import functools
import inspect
import logging
import os
import types
import typing

import gradio as gr

from arena.api import arena_api
from arena.ui import arena_tabs
from evaluator.scheduler import evaluator_enabled, start_scheduler
from leaderboard.api import board_api
from leaderboard.boards import Boards
from leaderboard.details_ui import details_tab
from leaderboard.published import import_published
from leaderboard.ui import board_tab
from submissions.api import queue_api
from submissions.ui import queue_tab, submit_tab
from submissions.hub_models import HubModels
from submissions.store import Store, StoreError
from submissions.store_factory import open_store

TITLE = "FlowerTune LLM Leaderboard · LLM Merging Competition"
INTRO = (
    "# FlowerTune LLM Leaderboard & LLM Merging Competition\n"
    "Federated fine-tuning of LLMs with PEFT adapters (General NLP, Finance, Medical, Code) and model "
    "merging. Click a column header to sort; rows marked **published** are self-reported numbers "
    "imported from the published boards, **verified** rows were scored by this Space's evaluator."
)


log = logging.getLogger(__name__)

# The Gradio API a client sees (`/submit` is the Submit tab's own button); every other event is the UI's own.
PUBLIC_API = ("read_board", "export_board", "read_details", "submit", "read_queue", "arena_ratings")


TYPE_WORDS = {str: "text", int: "a whole number", float: "a number", bool: "true or false",
              type(None): "null", list: "a list"}


def _fits(value: object, hint: object) -> bool:
    if isinstance(hint, types.UnionType):
        return any(_fits(value, option) for option in typing.get_args(hint))
    if typing.get_origin(hint) is list:
        (item,) = typing.get_args(hint)
        return isinstance(value, list) and all(_fits(v, item) for v in value)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, hint)  # str, bool, None


def _words(hint: object) -> str:
    if isinstance(hint, types.UnionType):
        return " or ".join(_words(option) for option in typing.get_args(hint))
    if typing.get_origin(hint) is list:
        return f"a list of {_words(typing.get_args(hint)[0])}"
    return TYPE_WORDS[hint]


def typed_endpoint(fn):
    """``fn`` as an API endpoint: Gradio hands over whatever JSON a client sends, so a value of the wrong type
    (text for a page number, one string for a list) is refused here with a message naming the parameter."""
    hints = typing.get_type_hints(fn)
    signature = inspect.signature(fn)

    @functools.wraps(fn)
    def call(*args, **kwargs):
        for name, value in signature.bind(*args, **kwargs).arguments.items():
            if not _fits(value, hints[name]):
                raise gr.Error(f"{name} must be {_words(hints[name])}, not {value!r:.80}.", print_exception=False)
        return fn(*args, **kwargs)

    return call


def publish_only(demo: gr.Blocks, names: tuple[str, ...]) -> None:
    """Hide every endpoint but ``names`` from the API (docs and clients). One pass after the page is built,
    because the load events Gradio adds for callable component values take no visibility setting."""
    for fn in demo.fns.values():
        if fn.api_name not in names:
            fn.api_visibility = "private"


def build_app(store: Store, hub: HubModels | None = None) -> gr.Blocks:
    try:
        import_published(store)
    except StoreError as error:  # the Hub is down: start on what is cached; the next start imports them
        log.warning("published rows were not imported now: %s", error)
    boards = Boards(store)
    hub = hub or HubModels()
    with gr.Blocks(title=TITLE) as demo:
        gr.Markdown(INTRO)
        with gr.Tabs() as tabs:
            for challenge in boards.challenges.values():
                board_tab(challenge, boards)
            submit_tab(store, hub, with_login=bool(os.environ.get("SPACE_ID")))
            queue_tab(store)
            arena = arena_tabs(store)
            details_tab(store, demo, tabs)
        for endpoint in (*board_api(boards, store), queue_api(store), arena_api(arena)):
            gr.api(typed_endpoint(endpoint), api_name=endpoint.__name__)
    publish_only(demo, PUBLIC_API)
    return demo


def main() -> None:
    store = open_store()
    demo = build_app(store)
    if evaluator_enabled():
        start_scheduler(store)
    demo.launch(
        server_name=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"),
        server_port=int(os.environ.get("GRADIO_SERVER_PORT", "7860")),
    )


if __name__ == "__main__":
    main()

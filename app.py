"""FlowerTune LLM Leaderboard & LLM Merging Competition — the Hugging Face Space entry point.

Composes the tabs and the public API (the rooms' ``api.py`` endpoints; every other event stays the page's own);
all logic lives in leaderboard/, submissions/, evaluator/ and arena/.
"""

from __future__ import annotations

import logging
import os

import gradio as gr

from arena.api import arena_api
from arena.ui import arena_tabs
from evaluator.scheduler import ELSEWHERE, evaluator_enabled, start_scheduler
from leaderboard.aggregate import refresh_boards, start_boards_refresh
from leaderboard.api import board_api
from leaderboard.boards import Boards
from leaderboard.details_ui import details_tab
from leaderboard.ui import board_tab
from store.base import Store, StoreError
from store.factory import open_store
from store.publish_log import start_publishing
from submissions.api import queue_api, submit_api
from submissions.hub_models import HubModels
from submissions.ui import queue_tab, recheck_handler, submit_tab
from uikit.api import publish_only, typed_endpoint

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


def build_app(store: Store, hub: HubModels | None = None) -> gr.Blocks:
    try:  # the aggregates are built from the previous ones, the results finished since and the published CSVs
        refresh_boards(store)
    except StoreError as error:  # the Hub is down: start on what is cached; the scheduled job catches up
        log.warning("the boards were not refreshed at start: %s", error)
    boards = Boards(store)
    hub = hub or HubModels()
    with gr.Blocks(title=TITLE) as demo:
        gr.Markdown(INTRO)
        with gr.Tabs() as tabs:
            for challenge in boards.challenges.values():
                board_tab(challenge, boards)
            on_space = bool(os.environ.get("SPACE_ID"))
            submit_tab(store, hub, with_login=on_space)
            queue_tab(store, note=None if evaluator_enabled() else ELSEWHERE)
            arena = arena_tabs(store, results=boards.records_of)
            details_tab(store, demo, tabs, queue_recheck=recheck_handler(store, hub), boards=boards)
        for endpoint in (*board_api(boards, store), submit_api(store, hub, require_sign_in=on_space), queue_api(store),
                         arena_api(arena)):
            gr.api(typed_endpoint(endpoint), api_name=endpoint.__name__)
    publish_only(demo, PUBLIC_API)
    return demo


def main() -> None:
    try:
        store = open_store()
    except StoreError as error:  # a misconfigured Space: say what to set instead of a traceback
        raise SystemExit(f"Not starting: {error}") from None
    demo = build_app(store)
    start_publishing(store)
    try:
        start_boards_refresh(store)
    except ValueError as error:  # a bad BOARDS_REFRESH_S
        raise SystemExit(f"Not starting: {error}") from None
    if evaluator_enabled():
        start_scheduler(store)
    else:
        log.warning("the evaluator is off in this app. %s", ELSEWHERE)
    demo.launch(
        server_name=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"),
        server_port=int(os.environ.get("GRADIO_SERVER_PORT", "7860")),
    )


if __name__ == "__main__":
    main()

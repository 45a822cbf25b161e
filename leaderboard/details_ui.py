"""The Details tab: what a verified row's link (``?details=<result id>``) opens."""

from __future__ import annotations

import gradio as gr

from leaderboard.details import lookup_details
from submissions.store import Store


def details_tab(store: Store, demo: gr.Blocks, tabs: gr.Tabs) -> None:
    """Build the tab inside ``tabs``; a page opened with ``?details=<id>`` shows that result and selects it."""
    with gr.Tab("Details", id="tab-details", elem_id="tab-details"):
        details = gr.Markdown("Open a **verified** row's source badge to see its details here.", elem_id="details")

    def open_details(request: gr.Request):
        record_id = request.query_params.get("details", "")
        if not record_id:
            return gr.skip(), gr.skip()
        return lookup_details(store, record_id), gr.Tabs(selected="tab-details")

    demo.load(open_details, None, [details, tabs])

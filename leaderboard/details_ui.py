"""The Details tab: what a row's source badge (``?details=<result id>``) opens.

For a published (self-reported) row it also offers organisers a re-check form. Queuing is the submissions
room's job: ``queue_recheck`` is passed in by app.py, so this room does not import it.
"""

from __future__ import annotations

from collections.abc import Callable

import gradio as gr

from challenges.definitions import challenges
from leaderboard.boards import Boards
from leaderboard.details import lookup_details
from store.aggregates import find_result
from store.base import Store

# (published result id, adapter repo id, revision, base model repo id, organiser token) -> message (Markdown)
QueueRecheck = Callable[[str, str, str, str, str], str]
RECHECK_HELP = (
    "**Organisers**: queue a re-evaluation of this self-reported row. The published boards list no adapter ids, "
    "so give the row's **public** adapter repo on the Hub (+ revision) and its base model repo. It is checked "
    "like a submission, queued, and counts against no team's limit; when it is scored, the board shows its "
    "average as *Verified* beside the published one. Needs the organiser token."
)


def details_tab(store: Store, demo: gr.Blocks, tabs: gr.Tabs, queue_recheck: QueueRecheck | None = None,
                boards: Boards | None = None) -> None:
    """Build the tab inside ``tabs``; a page opened with ``?details=<id>`` shows that result and selects it
    (a board row's record from what ``boards`` last read, else from the store)."""
    with gr.Tab("Details", id="tab-details", elem_id="tab-details"):
        details = gr.Markdown("Open a row's source badge to see its details here.", elem_id="details")
        shown_id = gr.State("")
        with gr.Accordion("Organisers: re-check this published row", open=False, visible=False,
                          elem_id="recheck") as recheck_box:
            gr.Markdown(RECHECK_HELP)
            with gr.Row():
                repo_id = gr.Textbox(label="Adapter repo ID (public)", placeholder="owner/name", elem_id="recheck-repo")
                revision = gr.Textbox(label="Revision", value="main", elem_id="recheck-revision")
                base_model = gr.Textbox(label="Base model repo ID", elem_id="recheck-base")
                token = gr.Textbox(label="Organiser token", type="password", elem_id="recheck-token")
            send = gr.Button("Queue re-check", elem_id="recheck-button")
            outcome = gr.Markdown(elem_id="recheck-outcome")

    def open_details(request: gr.Request):
        record_id = request.query_params.get("details", "")
        if not record_id:
            return gr.skip(), gr.skip(), gr.skip(), gr.skip()
        record = (boards.record(record_id) if boards else None) or find_result(store, record_id, challenges()) or {}
        published = queue_recheck is not None and record.get("source") == "published"
        return (lookup_details(store, record_id, boards), gr.Tabs(selected="tab-details"), record_id,
                gr.Accordion(visible=published))

    demo.load(open_details, None, [details, tabs, shown_id, recheck_box])
    if queue_recheck is not None:
        send.click(queue_recheck, [shown_id, repo_id, revision, base_model, token], outcome, concurrency_limit=2)

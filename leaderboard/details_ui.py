"""The Details tab: what a row's source badge (``?details=<result id>``) opens.

Below the result, its per-sample outputs page by page (a dataset picker with each one's sample count, previous /
next page), each page read by slice from the details file. For a published (self-reported) row it also offers
organisers a re-check form. Queuing is the submissions room's job: ``queue_recheck`` is passed in by app.py, so
this room does not import it.
"""

from __future__ import annotations

from collections.abc import Callable

import gradio as gr

from challenges.definitions import challenges
from leaderboard.boards import Boards
from leaderboard.details import lookup_details
from leaderboard.samples_view import (
    PAGE_SIZE,
    column_choices,
    sample_counts,
    samples_page,
)
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
        shown_challenge = gr.State("")  # the shown result's challenge id: its column labels
        with gr.Group(visible=False, elem_id="samples") as samples_box:
            gr.Markdown("### Per-sample outputs")
            column = gr.Dropdown(label="Dataset", choices=[], elem_id="samples-column")
            page = gr.Markdown(elem_id="samples-page")
            offset = gr.State(0)
            with gr.Row():
                previous = gr.Button("◀ Previous page", size="sm", interactive=False, elem_id="samples-previous")
                following = gr.Button("Next page ▶", size="sm", interactive=False, elem_id="samples-next")
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

    def show_page(record_id: str, challenge_id: str, key: str | None, start: int):
        if not record_id or not key:
            return gr.skip(), gr.skip(), gr.skip(), gr.skip()
        found = samples_page(store, challenges().get(challenge_id), record_id, key, start)
        return (found.markdown, found.offset, gr.Button(interactive=found.has_previous),
                gr.Button(interactive=found.has_next))

    def open_details(request: gr.Request):
        record_id = request.query_params.get("details", "")
        if not record_id:
            return (gr.skip(),) * 9
        record = (boards.record(record_id) if boards else None) or find_result(store, record_id, challenges()) or {}
        published = queue_recheck is not None and record.get("source") == "published"
        counts, note = sample_counts(store, record_id) if record else ({}, None)
        choices = column_choices(challenges().get(record.get("challenge", "")), counts)
        return (lookup_details(store, record_id, boards), gr.Tabs(selected="tab-details"), record_id,
                gr.Accordion(visible=published), record.get("challenge", ""),
                gr.Group(visible=bool(choices) or note is not None),
                gr.Dropdown(choices=choices, value=choices[0][1] if choices else None, visible=bool(choices)),
                note or "", 0)

    def turn(delta: int):
        """A page button's handler: the page ``delta`` samples on from the one shown."""
        return lambda record_id, challenge_id, key, start: show_page(record_id, challenge_id, key, start + delta)

    paged, position = [page, offset, previous, following], [shown_id, shown_challenge, column, offset]
    demo.load(open_details, None, [details, tabs, shown_id, recheck_box, shown_challenge, samples_box, column, page,
                                   offset]).then(show_page, position, paged)
    column.input(lambda record_id, challenge_id, key: show_page(record_id, challenge_id, key, 0), position[:3], paged)
    previous.click(turn(-PAGE_SIZE), position, paged)
    following.click(turn(PAGE_SIZE), position, paged)
    if queue_recheck is not None:
        send.click(queue_recheck, [shown_id, repo_id, revision, base_model, token], outcome, concurrency_limit=2)

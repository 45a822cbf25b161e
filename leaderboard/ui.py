"""The board tabs (Gradio). Only wiring and rendering: data work lives in table.py / render.py / plot.py."""

from __future__ import annotations

import tempfile
from dataclasses import replace
from pathlib import Path

import gradio as gr

from leaderboard.about import about_markdown
from leaderboard.boards import Boards
from leaderboard.challenges import Challenge
from leaderboard.columns import board_columns
from leaderboard.export import board_csv
from leaderboard.plot import efficiency_figure
from leaderboard.render import BOARD_CSS, SORT_ON_CLICK_JS, render_page
from leaderboard.table import (
    PAGE_SIZES,
    SOURCES,
    BoardQuery,
    base_model_choices,
    filter_mask,
    parse_date,
    query_page,
    sort_frame,
    visible_keys,
)

FAST = {"queue": False, "show_progress": "hidden"}


def _query_from_inputs(query: BoardQuery, search, base, comm_min, comm_max, date_from, date_to, sources,
                       page_size) -> BoardQuery:
    """Raises ValueError with a message for the visitor when an input is not understood."""
    if comm_min is not None and comm_max is not None and comm_min > comm_max:
        raise ValueError("The minimum communication cost is larger than the maximum.")
    return replace(
        query,
        search=(search or "").strip()[:200],
        base_models=tuple(base or ()),
        comm_min=comm_min,
        comm_max=comm_max,
        date_from=parse_date(date_from),
        date_to=parse_date(date_to),
        sources=tuple(sources or ()),
        page_size=int(page_size),
        page=1,
    )


def board_tab(challenge: Challenge, boards: Boards) -> None:
    """Build one challenge's tab (leaderboard, plot, about) inside the current Blocks context."""
    columns = board_columns(challenge)
    labels = [c.label for c in columns]
    default_labels = [c.label for c in columns if c.default_visible]

    def render(query: BoardQuery, visible_labels: list[str], refresh: bool = False) -> str:
        frame = boards.frame(challenge.id, refresh=refresh)
        return render_page(challenge, query_page(frame, query), query, visible_keys(challenge, visible_labels),
                           boards.notice())

    with gr.Tab(challenge.title, id=f"tab-{challenge.id}", elem_id=f"tab-{challenge.id}"):
        query_state = gr.State(BoardQuery())
        with gr.Tabs():
            with gr.Tab("Leaderboard", elem_id=f"{challenge.id}-leaderboard"):
                with gr.Row(equal_height=True):
                    search = gr.Textbox(label="Search team / model", placeholder="e.g. ZJUDAI or Qwen",
                                        scale=3, elem_id=f"{challenge.id}-search")
                    base = gr.Dropdown(label="Base model or family", multiselect=True, scale=3,
                                       choices=base_model_choices(boards.frame(challenge.id)),
                                       elem_id=f"{challenge.id}-base")
                    sources = gr.CheckboxGroup(list(SOURCES), value=list(SOURCES), label="Source", scale=2,
                                               elem_id=f"{challenge.id}-sources")
                with gr.Accordion("More filters and columns", open=False):
                    with gr.Row():
                        comm_min = gr.Number(label="Comm. costs from (GB)", minimum=0,
                                             elem_id=f"{challenge.id}-comm-min")
                        comm_max = gr.Number(label="Comm. costs to (GB)", minimum=0,
                                             elem_id=f"{challenge.id}-comm-max")
                        date_from = gr.Textbox(label="Date from", placeholder="YYYY-MM-DD or dd.mm.yy",
                                               elem_id=f"{challenge.id}-date-from")
                        date_to = gr.Textbox(label="Date to", placeholder="YYYY-MM-DD or dd.mm.yy",
                                             elem_id=f"{challenge.id}-date-to")
                    visible = gr.CheckboxGroup(labels, value=default_labels, label="Visible columns",
                                               elem_id=f"{challenge.id}-columns")
                table = gr.HTML(
                    value=lambda: render(BoardQuery(), default_labels),
                    css_template=BOARD_CSS,
                    js_on_load=SORT_ON_CLICK_JS,
                    elem_id=f"{challenge.id}-table",
                )
                with gr.Row():
                    previous = gr.Button("◀ Previous", size="sm", elem_id=f"{challenge.id}-prev")
                    following = gr.Button("Next ▶", size="sm", elem_id=f"{challenge.id}-next")
                    page_size = gr.Dropdown([str(s) for s in PAGE_SIZES], value="50", label="Rows per page",
                                            scale=0, min_width=120, elem_id=f"{challenge.id}-page-size")
                    refresh = gr.Button("↻ Refresh", size="sm", elem_id=f"{challenge.id}-refresh")
                    export = gr.Button("Download CSV", size="sm", elem_id=f"{challenge.id}-export")
                csv_file = gr.File(label="CSV of the current view", visible=False,
                                   elem_id=f"{challenge.id}-csv")
            if challenge.is_flowertune:
                with gr.Tab("Efficiency plot", elem_id=f"{challenge.id}-plot-tab") as plot_tab:
                    gr.Markdown("Average score against communication cost (log scale). Orange points form "
                                "the **Pareto front**: nobody scores higher for the same or a smaller budget.")
                    plot = gr.Plot(elem_id=f"{challenge.id}-plot")
                plot_tab.select(lambda: efficiency_figure(challenge, boards.frame(challenge.id)), None, plot)
            with gr.Tab("About", elem_id=f"{challenge.id}-about"):
                gr.Markdown(about_markdown(challenge))

    filters = [search, base, comm_min, comm_max, date_from, date_to, sources, page_size]

    def on_filter(query, search, base, comm_min, comm_max, date_from, date_to, sources, page_size, shown):
        try:
            query = _query_from_inputs(query, search, base, comm_min, comm_max, date_from, date_to, sources,
                                       page_size)
        except ValueError as error:
            gr.Warning(str(error))
            return gr.skip(), gr.skip()
        return query, render(query, shown)

    for component in filters:
        component.change(on_filter, [query_state, *filters, visible], [query_state, table], **FAST)
    visible.change(lambda q, shown: render(q, shown), [query_state, visible], table, **FAST)

    def on_sort(query: BoardQuery, shown, event: gr.EventData):
        key = (event._data or {}).get("sort")
        if key not in {c.key for c in columns}:
            return gr.skip(), gr.skip()
        query = query.sorted_by(key)
        return query, render(query, shown)

    table.click(on_sort, [query_state, visible], [query_state, table], **FAST)

    def turn(step: int):
        def go(query: BoardQuery, shown):
            query = replace(query, page=max(1, query.page + step))
            page = query_page(boards.frame(challenge.id), query)
            query = replace(query, page=page.page)
            return query, render_page(challenge, page, query, visible_keys(challenge, shown), boards.notice())

        return go

    previous.click(turn(-1), [query_state, visible], [query_state, table], **FAST)
    following.click(turn(+1), [query_state, visible], [query_state, table], **FAST)
    refresh.click(lambda q, shown: render(q, shown, refresh=True), [query_state, visible], table, **FAST)

    def on_export(query: BoardQuery, shown):
        frame = boards.frame(challenge.id)
        rows = sort_frame(frame[filter_mask(frame, query)], query.sort_key, query.sort_desc)
        folder = Path(tempfile.mkdtemp(prefix="board-csv-"))
        path = folder / f"{challenge.id}-leaderboard.csv"
        path.write_text(board_csv(challenge, rows, visible_keys(challenge, shown)), encoding="utf-8")
        return gr.File(value=str(path), visible=True)

    export.click(on_export, [query_state, visible], csv_file)

"""The board tabs (Gradio). Only wiring and rendering: data work lives in table.py / render.py / plot.py."""

from __future__ import annotations

import tempfile
from dataclasses import replace
from pathlib import Path

import gradio as gr

from challenges.definitions import Challenge
from leaderboard.about import about_markdown
from leaderboard.boards import Boards
from leaderboard.columns import board_columns
from leaderboard.export import board_csv
from leaderboard.filter_inputs import (
    COST_FROM,
    COST_TO,
    DATE_FROM,
    DATE_TO,
    FilterInputs,
    read_filters,
)
from leaderboard.plot import efficiency_figure
from leaderboard.ranking import correlation
from leaderboard.render import (
    FILTER_NOTE_CSS,
    correlation_line,
    render_filter_note,
    render_page,
)
from leaderboard.reveal_ui import reveal_panel
from leaderboard.table import (
    PAGE_SIZES,
    SOURCES,
    BoardQuery,
    base_model_choices,
    filter_mask,
    query_page,
    sort_frame,
    visible_keys,
)
from uikit.tables import BOARD_CSS, SORT_ON_CLICK_JS

FAST = {"queue": False, "show_progress": "hidden"}


def board_tab(challenge: Challenge, boards: Boards) -> None:
    """Build one challenge's tab (leaderboard, plot, about) inside the current Blocks context."""
    columns = board_columns(challenge)
    labels = [c.label for c in columns]
    default_labels = [c.label for c in columns if c.default_visible]

    def render(query: BoardQuery, visible_labels: list[str], refresh: bool = False) -> str:
        frame, revealed = boards.view(challenge.id, refresh=refresh)
        caption = correlation_line(correlation(frame, "average", "test_average")) if revealed else None
        return render_page(challenge, query_page(frame, query), query,
                           visible_keys(challenge, visible_labels, revealed is not None), boards.notice(),
                           revealed=revealed is not None, caption=caption)

    with gr.Tab(challenge.title, id=f"tab-{challenge.id}", elem_id=f"tab-{challenge.id}"):
        query_state = gr.State(BoardQuery())
        with gr.Tabs():
            with gr.Tab("Leaderboard", elem_id=f"{challenge.id}-leaderboard"):
                wanted = challenge.board.filters
                controls: dict[str, gr.components.Component] = {}  # FilterInputs field -> its box
                with gr.Row(equal_height=True):
                    controls["search"] = gr.Textbox(label="Search team / model", scale=3,
                                                    placeholder=challenge.board.search_placeholder,
                                                    elem_id=f"{challenge.id}-search")
                    if "base_model" in wanted:
                        controls["base_models"] = gr.Dropdown(
                            label="Base model or family", multiselect=True, scale=3,
                            choices=base_model_choices(boards.frame(challenge.id)), elem_id=f"{challenge.id}-base")
                    if "source" in wanted:
                        controls["sources"] = gr.CheckboxGroup(list(SOURCES), value=list(SOURCES), label="Source",
                                                               scale=2, elem_id=f"{challenge.id}-sources")
                with gr.Accordion("More filters and columns", open=False):
                    with gr.Row():
                        if "comm_gb" in wanted:  # text boxes: an empty box stays empty, 0 is a bound
                            controls["comm_min"] = gr.Textbox(label=COST_FROM, placeholder="any",
                                                              elem_id=f"{challenge.id}-comm-min")
                            controls["comm_max"] = gr.Textbox(label=COST_TO, placeholder="any",
                                                              elem_id=f"{challenge.id}-comm-max")
                        if "date" in wanted:
                            controls["date_from"] = gr.Textbox(label=DATE_FROM, placeholder="YYYY-MM-DD or dd.mm.yy",
                                                               elem_id=f"{challenge.id}-date-from")
                            controls["date_to"] = gr.Textbox(label=DATE_TO, placeholder="YYYY-MM-DD or dd.mm.yy",
                                                             elem_id=f"{challenge.id}-date-to")
                    filter_note = gr.HTML("", css_template=FILTER_NOTE_CSS, elem_id=f"{challenge.id}-filter-note")
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
                    controls["page_size"] = gr.Dropdown([str(s) for s in PAGE_SIZES], value="50",
                                                        label="Rows per page", scale=0, min_width=120,
                                                        elem_id=f"{challenge.id}-page-size")
                    refresh = gr.Button("↻ Refresh", size="sm", elem_id=f"{challenge.id}-refresh")
                    export = gr.Button("Download CSV", size="sm", elem_id=f"{challenge.id}-export")
                csv_file = gr.File(label="CSV of the current view", visible=False,
                                   elem_id=f"{challenge.id}-csv")
                has_reveal = challenge.hidden_test is not None and boards.store is not None
                reveal = reveal_panel(challenge, boards.store) if has_reveal else None
            if challenge.is_flowertune:
                with gr.Tab("Efficiency plot", elem_id=f"{challenge.id}-plot-tab") as plot_tab:
                    gr.Markdown("Average score against communication cost (log scale). Orange points form "
                                "the **Pareto front**: nobody scores higher for the same or a smaller budget.")
                    plot = gr.Plot(elem_id=f"{challenge.id}-plot")
                plot_tab.select(lambda: efficiency_figure(challenge, boards.frame(challenge.id)), None, plot)
            with gr.Tab("About", elem_id=f"{challenge.id}-about"):
                about = gr.Markdown(lambda: about_markdown(challenge, boards.revealed(challenge.id)),
                                    elem_id=f"{challenge.id}-about-text")

    names = list(controls)

    def on_filter(query, shown, *values):
        """Every box at once: one that is not understood filters nothing and is named beside the boxes."""
        query, problems = read_filters(query, FilterInputs(**dict(zip(names, values))))
        return query, render(query, shown), render_filter_note(problems)

    for component in controls.values():
        component.change(on_filter, [query_state, visible, *controls.values()], [query_state, table, filter_note],
                         **FAST)
    visible.change(lambda q, shown: render(q, shown), [query_state, visible], table, **FAST)

    def on_sort(query: BoardQuery, shown, event: gr.EventData):
        key = (event._data or {}).get("sort")
        if key not in {c.key for c in board_columns(challenge, boards.revealed(challenge.id) is not None)}:
            return gr.skip(), gr.skip()
        query = query.sorted_by(key)
        return query, render(query, shown)

    table.click(on_sort, [query_state, visible], [query_state, table], **FAST)

    def turn(step: int):
        def go(query: BoardQuery, shown):
            query = replace(query, page=max(1, query.page + step))
            page = query_page(boards.frame(challenge.id), query)
            query = replace(query, page=page.page)
            return query, render(query, shown)

        return go

    previous.click(turn(-1), [query_state, visible], [query_state, table], **FAST)
    following.click(turn(+1), [query_state, visible], [query_state, table], **FAST)
    refresh.click(lambda q, shown: render(q, shown, refresh=True), [query_state, visible], table, **FAST)

    def on_export(query: BoardQuery, shown):
        frame, revealed = boards.view(challenge.id)
        rows = sort_frame(frame[filter_mask(frame, query)], query.sort_key, query.sort_desc)
        folder = Path(tempfile.mkdtemp(prefix="board-csv-"))
        path = folder / f"{challenge.id}-leaderboard.csv"
        keys = visible_keys(challenge, shown, revealed is not None)
        path.write_text(board_csv(challenge, rows, keys, revealed is not None), encoding="utf-8")
        return gr.File(value=str(path), visible=True)

    export.click(on_export, [query_state, visible], csv_file)
    if reveal is not None:
        def on_reveal(token: str, query: BoardQuery, shown):
            message = reveal.act(token)
            boards.recheck_hub()
            return message, render(query, shown, refresh=True), about_markdown(challenge, boards.revealed(challenge.id))

        reveal.button.click(on_reveal, [reveal.token, query_state, visible], [reveal.outcome, table, about],
                            concurrency_limit=1)

"""Render one page of a board as an HTML table. Every value is escaped: names are shown as plain text."""

from __future__ import annotations

import math
from datetime import date
from html import escape

import pandas as pd

from challenges.definitions import Challenge
from leaderboard.columns import BoardColumn, board_columns
from leaderboard.ranking import Correlation
from leaderboard.table import BoardQuery, Page
from uikit.tables import sortable_header


def format_cost(gb: float) -> str:
    """2.9 -> '2.9 GB' (one decimal as published; more only when the value needs it)."""
    if math.isnan(gb):
        return "—"
    text = f"{gb:.1f}" if round(gb, 1) == gb else f"{gb:g}"
    return f"{text} GB"


def format_date(iso: str) -> str:
    """'2026-01-14' -> '14.01.26', the published boards' format."""
    return date.fromisoformat(iso).strftime("%d.%m.%y") if iso else "—"


def format_score(value: float, decimals: int) -> str:
    return "—" if math.isnan(value) else f"{value:.{decimals}f}"


def format_delta(value: float, decimals: int) -> str:
    """Verified minus self-reported, signed: '+1.20', '−5.30' (a true minus sign), '—' when not re-checked."""
    if math.isnan(value):
        return "—"
    text = f"{abs(value):.{decimals}f}"
    return f"−{text}" if value < 0 and float(text) else f"+{text}"


def cell_text(column: BoardColumn, row: pd.Series, decimals: int) -> str:
    """The plain text a cell shows (also what the CSV export writes for text columns)."""
    value = row[column.key]
    if column.kind == "cost":
        return format_cost(value)
    if column.kind == "date":
        return format_date(value)
    if column.kind == "score":
        return format_score(value, decimals)
    if column.kind == "delta":
        return format_delta(value, decimals)
    if column.kind == "rank":
        return "—" if pd.isna(value) else str(int(value))  # partial rows are not ranked
    return str(value)


def _safe_url(url: str) -> str | None:
    return url if url.startswith(("https://", "http://", "?details=")) else None


SOURCE_TITLES = {
    "published": "self-reported, imported from the published board",
    "partial": "a partial (smoke) run on local data or a question limit: not comparable, never ranked; "
               "the details say why",
}


def cell_html(column: BoardColumn, row: pd.Series, decimals: int) -> str:
    if column.kind == "link":
        url = _safe_url(row[column.key])
        return f'<a href="{escape(url)}" target="_blank" rel="noopener">code</a>' if url else ""
    if column.kind == "source":
        label = escape(row["source"])
        url = _safe_url(row["details_url"])
        title = SOURCE_TITLES.get(label, "scored by this Space's evaluator")
        badge = f'<span class="src src-{label}" title="{title}">{label}</span>'
        return f'<a href="{escape(url)}" target="_blank" rel="noopener">{badge}</a>' if url else badge
    if column.kind == "delta" and row["flagged"]:
        return (f'<span class="recheck-flag" title="The re-check differs from the self-reported average by more '
                f'than the tolerance">⚠ {escape(cell_text(column, row, decimals))}</span>')
    return escape(cell_text(column, row, decimals))


def correlation_line(found: Correlation | None) -> str:
    """The line above a board whose hidden test was revealed: how validation and test averages agree."""
    if found is None:
        return ("Hidden test revealed. Validation vs test: too few ranked entries with both averages (3 needed) "
                "for a correlation.")
    return (f"Hidden test revealed. Validation vs test average over the {found.n} ranked entries with both: "
            f"Pearson r = {found.pearson:.2f}, Spearman ρ = {found.spearman:.2f}.")


def precision_line(challenge: Challenge) -> str:
    """The line above every board saying how its verified rows were loaded (the official script's way)."""
    return (f"Verified rows: models loaded at the official precision, {challenge.precision.describe()}, "
            f"{challenge.precision.per_call()} per generate call.")


def render_page(challenge: Challenge, page: Page, query: BoardQuery, visible: list[str],
                notice: str | None = None, revealed: bool = False, caption: str | None = None) -> str:
    """One page of the board; ``notice`` (e.g. that the data may be out of date) and ``caption`` (e.g. the
    validation-test correlation) are shown above it. ``revealed``: the hidden test's columns exist."""
    columns = [c for c in board_columns(challenge, revealed) if c.key in visible]
    decimals = challenge.board.decimals
    head = [sortable_header(c.key, c.label, c.numeric, query.sort_key, query.sort_desc) for c in columns]
    body = []
    for _, row in page.rows.iterrows():
        cells = "".join(
            f'<td class="{"num" if c.numeric else ""}" data-col="{c.key}">{cell_html(c, row, decimals)}</td>'
            for c in columns
        )
        body.append(f'<tr data-id="{escape(row["id"])}">{cells}</tr>')
    if not body:
        body.append(f'<tr><td colspan="{len(columns)}" class="empty">No entries match these filters.</td></tr>')
    first = (page.page - 1) * query.page_size + 1 if page.total else 0
    last = min(page.page * query.page_size, page.total)
    summary = f"Rows {first:,}–{last:,} of {page.total:,} · page {page.page:,} of {page.pages:,}"
    notice_html = f'<div class="board-notice">{escape(notice)}</div>' if notice else ""
    caption_html = (f'<div class="board-caption board-precision">{escape(precision_line(challenge))}</div>'
                    + (f'<div class="board-caption">{escape(caption)}</div>' if caption else ""))
    return (
        f'<div class="board" data-board="{challenge.id}">{notice_html}{caption_html}'
        f'<table class="board-table"><thead><tr>{"".join(head)}</tr></thead>'
        f'<tbody>{"".join(body)}</tbody></table>'
        f'<div class="board-summary">{summary}</div></div>'
    )


def render_filter_note(problems: list[str]) -> str:
    """What the filter boxes hold that is not understood (empty when all is well), shown beside the boxes."""
    if not problems:
        return ""
    items = "".join(f"<li>{escape(problem)}</li>" for problem in problems)
    return f'<div class="filter-note" role="alert"><ul>{items}</ul></div>'


FILTER_NOTE_CSS = """
.filter-note { padding: 6px 10px; border-radius: 6px; background: #fef2f2; color: #991b1b; font-size: 13px; }
.filter-note ul { margin: 0; padding-left: 18px; }
"""

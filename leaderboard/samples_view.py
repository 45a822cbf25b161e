"""A result's per-sample outputs, one page at a time: what the Details tab shows below the result.

Each page is read by slice from the result's details file (``store.details_files``), so opening a result with
thousands of samples reads a few dozen of them, never the whole file.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

from challenges.definitions import Challenge
from store.base import Store, StoreError
from store.details_files import details_columns, read_details_slice

PAGE_SIZE = 10
# Field names of the per-sample records: text suites (output/parsed/gold/correct), the Code suite
# (raw_output/program/passed/status), the merging track's xsum (rougeL).
OUTPUT_FIELDS, VERDICT_FIELDS = ("output", "raw_output"), ("correct", "passed", "rougeL")


@dataclass(frozen=True)
class SamplesPage:
    """One page of one column: the Markdown to show, where it starts, and which way the reader can page."""

    markdown: str
    offset: int
    has_previous: bool
    has_next: bool


def _label(challenge: Challenge | None, key: str) -> str:
    return next((c.label for c in challenge.columns if c.key == key), key) if challenge else key


def column_choices(challenge: Challenge | None, counts: dict[str, int]) -> list[tuple[str, str]]:
    """(label with its sample count, column key) for each column with details, in the board's column order."""
    order = [c.key for c in challenge.columns] if challenge else []
    keys = [key for key in order if key in counts] + [key for key in counts if key not in order]
    return [(f"{_label(challenge, key)} ({counts[key]:,} samples)", key) for key in keys]


def sample_counts(store: Store, result_id: str) -> tuple[dict[str, int], str | None]:
    """Each column's sample count, and a note when the details cannot be read now (the page then shows it)."""
    try:
        return details_columns(store, result_id), None
    except StoreError as error:
        return {}, f"The per-sample outputs cannot be read now: {escape(str(error))}"


def samples_page(store: Store, challenge: Challenge | None, result_id: str, column: str, offset: int) -> SamplesPage:
    """The page of ``column`` that starts at ``offset`` (moved back to the last page when past the end)."""
    label = _label(challenge, column)
    try:
        rows, total = read_details_slice(store, result_id, column, max(0, offset), PAGE_SIZE)
        if offset >= total > 0:
            offset = (total - 1) // PAGE_SIZE * PAGE_SIZE
            rows, total = read_details_slice(store, result_id, column, offset, PAGE_SIZE)
    except KeyError:
        return SamplesPage(f"This result has no per-sample outputs for {escape(label)}.", 0, False, False)
    except StoreError as error:
        return SamplesPage(f"The per-sample outputs cannot be read now: {escape(str(error))}", offset, False, False)
    offset = max(0, offset)
    if total == 0:
        return SamplesPage(f"**{escape(label)}**: no samples.", 0, False, False)
    pages = (total + PAGE_SIZE - 1) // PAGE_SIZE
    heading = (f"**{escape(label)}**: samples {offset + 1:,}–{offset + len(rows):,} of {total:,} "
               f"(page {offset // PAGE_SIZE + 1:,} of {pages:,})")
    lines = [heading, "", "| # | prompt (end) | output | parsed | gold | verdict |", "|---:|---|---|---|---|---|"]
    for row in rows:
        output = next((row[k] for k in OUTPUT_FIELDS if k in row), "")
        verdict = next((row[k] for k in VERDICT_FIELDS if k in row), "")
        prompt = " ".join(str(row.get("prompt", "")).split())[-80:]
        lines.append(f"| {row['index'] + 1:,} | …{_cell(prompt, 80)} | {_cell(output, 80)} "
                     f"| {_cell(row.get('parsed', ''), 30)} | {_cell(row.get('gold', ''), 20)} | {_cell(verdict, 10)} |")
    return SamplesPage("\n".join(lines), offset, offset > 0, offset + PAGE_SIZE < total)


def _cell(value: object, width: int) -> str:
    text = " ".join(str(value).split())
    text = text if len(text) <= width else text[: width - 1] + "…"
    return escape(text).replace("|", "&#124;")

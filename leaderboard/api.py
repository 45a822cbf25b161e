"""The boards' public API: read a board, export it, read a result's details.

Stateless: every call carries the whole query (nothing is kept in a client session), answers with plain data,
and refuses input it does not understand with a ``gr.Error`` whose message the client sees. The filtering,
sorting and paging are the board tab's own (``leaderboard/table.py``).
"""

from __future__ import annotations

import math
from dataclasses import asdict
from typing import Any

from challenges.definitions import Challenge
from leaderboard.boards import Boards
from leaderboard.columns import board_columns, test_keys
from leaderboard.export import board_csv
from leaderboard.ranking import correlation
from leaderboard.table import (
    PAGE_SIZES,
    SOURCES,
    BoardQuery,
    filter_mask,
    parse_date,
    query_page,
    sort_frame,
)
from store.aggregates import find_result
from store.base import Store, StoreError
from store.details_files import details_columns, read_details_slice
from store.record_contract import LEGACY_SOURCES
from uikit.api import json_cell, refused

MAX_PAGE_SIZE = max(PAGE_SIZES)
ROW_FIELDS = ("id", "rank", "team", "name", "model_repo", "base_model", "code_url", "comm_gb", "average", "date",
              "source", "details_url", "verified", "delta", "flagged")


def _challenge(boards: Boards, challenge_id: str) -> Challenge:
    challenge = boards.challenges.get(challenge_id)
    if challenge is None:
        raise refused(f"Unknown challenge '{challenge_id}': use one of {', '.join(boards.challenges)}.")
    return challenge


def board_query(challenge: Challenge, query: str, base_models: list[str] | None, comm_min: float | None,
                comm_max: float | None, date_from: str, date_to: str, sources: list[str] | None, sort_by: str,
                descending: bool, page: int = 1, page_size: int = 50, revealed: bool = False) -> BoardQuery:
    """The API's parameters as a board query. Raises ValueError naming the parameter that is wrong.
    ``revealed``: the hidden test's columns exist (and can be sorted by)."""
    keys = [c.key for c in board_columns(challenge, revealed)]
    if sort_by not in keys:
        raise ValueError(f"sort_by '{sort_by}' is not a column of {challenge.title}: use one of {', '.join(keys)}.")
    for value in base_models or ():
        if not value.startswith(("family:", "model:")):
            raise ValueError(f"base_models entry '{value}' must start with 'family:' or 'model:'.")
    sources = [LEGACY_SOURCES.get(s, s) for s in sources or ()]
    unknown = sorted(set(sources) - set(SOURCES))
    if unknown:
        raise ValueError(f"sources: unknown source '{unknown[0]}': use {' and/or '.join(SOURCES)}.")
    for name, value in (("comm_min", comm_min), ("comm_max", comm_max)):
        if value is not None and not (math.isfinite(value) and value >= 0):
            raise ValueError(f"{name} must be a number of GB, 0 or more (got {value}).")
    if comm_min is not None and comm_max is not None and comm_min > comm_max:
        raise ValueError(f"comm_min ({comm_min:g}) is larger than comm_max ({comm_max:g}).")
    if page < 1:
        raise ValueError(f"page must be 1 or more (got {page}).")
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise ValueError(f"page_size must be between 1 and {MAX_PAGE_SIZE} (got {page_size}).")
    try:
        dates = parse_date(date_from), parse_date(date_to)
    except ValueError as error:
        raise ValueError(f"Date filter: {error}.") from None
    return BoardQuery(search=(query or "").strip()[:200], base_models=tuple(base_models or ()), comm_min=comm_min,
                      comm_max=comm_max, date_from=dates[0], date_to=dates[1],
                      sources=tuple(sources) if sources else SOURCES, sort_key=sort_by, sort_desc=descending,
                      page=page, page_size=page_size)


def _checked_query(challenge: Challenge, *params, revealed: bool = False) -> BoardQuery:
    try:
        return board_query(challenge, *params, revealed=revealed)
    except ValueError as error:
        raise refused(str(error)) from None


def board_rows(challenge: Challenge, rows, revealed: bool = False) -> list[dict[str, Any]]:
    fields = (*ROW_FIELDS, *challenge.score_keys, *(test_keys(challenge) if revealed else ()))
    return [{field: json_cell(row[field]) for field in fields} for _, row in rows.iterrows()]


def board_api(boards: Boards, store: Store):
    """The three board endpoints, bound to the app's boards and store (named ``read_board``, ``export_board``,
    ``read_details`` when registered)."""

    def read_board(challenge: str, query: str = "", base_models: list[str] | None = None,
                   comm_min: float | None = None, comm_max: float | None = None, date_from: str = "",
                   date_to: str = "", sources: list[str] | None = None, sort_by: str = "rank",
                   descending: bool = False, page: int = 1, page_size: int = 50) -> dict:
        """One page of a board. challenge: a challenge id (general_nlp, finance, medical, code, merging).
        query: words that must all appear in team / name / model / base model. base_models: 'family:<name>' or
        'model:<repo id>' values (any of them matches). comm_min / comm_max: communication cost range in GB.
        date_from / date_to: YYYY-MM-DD or dd.mm.yy. sources: any of 'published', 'verified', 'partial' (empty:
        all; 'sample', the old name of 'partial', is read as 'partial').
        sort_by: a column key (rank, team, average, a score key, ...). Returns the rows of the page, the
        paging (total rows matching, page, pages), a notice when the results may be out of date and the
        precision verified rows were evaluated at (the official script's). Once a
        hidden test is revealed (merging), rows also hold its columns, test_average and gap (test − validation
        average), the rank follows the test average, and test_revealed_at / correlation (Pearson and Spearman of
        validation vs test average over the ranked entries with both, and their number n) are given."""
        board = _challenge(boards, challenge)
        frame, revealed = boards.view(board.id)
        wanted = _checked_query(board, query, base_models, comm_min, comm_max, date_from, date_to, sources,
                                sort_by, descending, page, page_size, revealed=revealed is not None)
        found = query_page(frame, wanted)
        answer = {"challenge": board.id, "total": found.total, "page": found.page, "pages": found.pages,
                  "page_size": page_size, "sort_by": sort_by, "descending": descending,
                  "columns": [c.key for c in board_columns(board, revealed is not None)],
                  "rows": board_rows(board, found.rows, revealed is not None), "notice": boards.notice(),
                  "precision": board.precision.describe()}
        if revealed is not None:
            found_correlation = correlation(frame, "average", "test_average")
            answer["test_revealed_at"] = revealed.first_at
            answer["correlation"] = asdict(found_correlation) if found_correlation else None
        return answer

    def export_board(challenge: str, query: str = "", base_models: list[str] | None = None,
                     comm_min: float | None = None, comm_max: float | None = None, date_from: str = "",
                     date_to: str = "", sources: list[str] | None = None, sort_by: str = "rank",
                     descending: bool = False, columns: list[str] | None = None) -> str:
        """Every row matching the filters (no paging) as CSV text, formula-safe, in the order asked.
        columns: the column keys to write, in the board's order (empty: every column). The other parameters
        are read_board's."""
        board = _challenge(boards, challenge)
        frame, revealed = boards.view(board.id)
        wanted = _checked_query(board, query, base_models, comm_min, comm_max, date_from, date_to, sources,
                                sort_by, descending, revealed=revealed is not None)
        keys = [c.key for c in board_columns(board, revealed is not None)]
        wrong = [key for key in columns or () if key not in keys]
        if wrong:
            raise refused(f"columns: '{wrong[0]}' is not a column of {board.title}: use some of {', '.join(keys)}.")
        rows = sort_frame(frame[filter_mask(frame, wanted)], sort_by, descending)
        return board_csv(board, rows, list(columns) if columns else keys, revealed is not None)

    def read_details(result_id: str, column: str = "", offset: int = 0, limit: int = 50) -> dict:
        """A result record as stored (scores, model / adapter / base commits, provenance), how many per-sample
        outputs the details store holds for each column, and one slice of them. column: a column key of
        sample_counts (empty: every column, in order). offset: the first sample of the slice (0 or more).
        limit: how many samples (1 to 100). Each sample is {"column", "index", <its fields: prompt, output,
        parsed, gold, correct, ...>}; samples.total is how many the column (or all columns) holds. When the
        details cannot be read now, samples is null and notice says why."""
        record = (boards.record(result_id) or find_result(store, result_id, boards.challenges)) if result_id else None
        if record is None:
            raise refused(f"No result with id '{result_id}'.")
        if offset < 0:
            raise refused(f"offset must be 0 or more (got {offset}).")
        if not 1 <= limit <= MAX_PAGE_SIZE:
            raise refused(f"limit must be between 1 and {MAX_PAGE_SIZE} (got {limit}).")
        try:
            counts = details_columns(store, result_id)
            if column and column not in counts:
                held = ", ".join(counts) or "none"
                raise refused(f"column '{column}' has no per-sample outputs in {result_id}: use one of {held}.")
            rows, total = read_details_slice(store, result_id, column or None, offset, limit)
        except StoreError as error:  # the result itself was read (perhaps from the last snapshot): say so
            return {"result": record, "sample_counts": {}, "samples": None,
                    "notice": f"The per-sample outputs of {result_id} cannot be read now: {error}"}
        return {"result": record, "sample_counts": counts, "notice": None,
                "samples": {"column": column or None, "offset": offset, "limit": limit, "total": total,
                            "rows": rows}}

    return read_board, export_board, read_details

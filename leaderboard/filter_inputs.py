"""What a visitor typed into a board's filter boxes -> a :class:`BoardQuery`, and what was not understood.

An input that is not understood filters nothing and is named in a note beside the boxes; a range whose
'from' is above its 'to' filters nothing either. So the rows shown depend only on what the boxes hold now,
never on the order things were typed in.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace
from typing import Sequence

from leaderboard.table import PAGE_SIZES, SOURCES, BoardQuery, parse_date

SEARCH_MAX_CHARS = 200
COST_FROM, COST_TO = "Comm. costs from (GB)", "Comm. costs to (GB)"
DATE_FROM, DATE_TO = "Date from", "Date to"


@dataclass(frozen=True)
class FilterInputs:
    """The boxes as they are; a box a board does not have keeps its default (filters nothing)."""

    search: str | None = ""
    base_models: Sequence[str] | None = ()
    comm_min: str | float | None = None
    comm_max: str | float | None = None
    date_from: str | None = None
    date_to: str | None = None
    sources: Sequence[str] | None = SOURCES
    page_size: str | int | None = 50


def parse_cost(value: str | float | None) -> float | None:
    """'' / None -> None (no bound); '2.9', '2.9 GB' or 2.9 -> 2.9; 0 is a bound like any other.
    Raises ValueError with a message for the visitor."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    text = str(value).strip()
    try:
        number = float(re.sub(r"\s*gb$", "", text, flags=re.IGNORECASE))
    except ValueError:
        number = math.nan
    if not math.isfinite(number):
        raise ValueError(f"'{text[:40]}' is not a number of GB (for example 2.9)")
    if number < 0:
        raise ValueError(f"{number:g} GB is below 0")
    return number


def _bound(parse, value, label: str, kind: str, problems: list[str]):
    """``parse(value)``, or None with a sentence in ``problems`` when the box holds something else."""
    try:
        return parse(value)
    except ValueError as error:
        problems.append(f"{label}: {error}. This box filters nothing until it holds a {kind}.")
        return None


def read_filters(query: BoardQuery, inputs: FilterInputs) -> tuple[BoardQuery, list[str]]:
    """The query the boxes ask for (sort order kept, back to page 1) and one sentence per problem."""
    problems: list[str] = []
    comm_min = _bound(parse_cost, inputs.comm_min, COST_FROM, "number", problems)
    comm_max = _bound(parse_cost, inputs.comm_max, COST_TO, "number", problems)
    if comm_min is not None and comm_max is not None and comm_min > comm_max:
        problems.append(f"Comm. costs: 'from' ({comm_min:g} GB) is larger than 'to' ({comm_max:g} GB), so no cost "
                        "filter is applied until from ≤ to.")
        comm_min = comm_max = None
    date_from = _bound(parse_date, inputs.date_from, DATE_FROM, "date", problems)
    date_to = _bound(parse_date, inputs.date_to, DATE_TO, "date", problems)
    if date_from and date_to and date_from > date_to:
        problems.append(f"Dates: 'from' ({date_from}) is later than 'to' ({date_to}), so no date filter is applied "
                        "until from ≤ to.")
        date_from = date_to = None
    sources = tuple(inputs.sources or ())
    unknown = [s for s in sources if s not in SOURCES]
    if unknown:
        problems.append(f"Source: {', '.join(repr(s) for s in unknown)} is not one of {', '.join(SOURCES)}.")
        sources = tuple(s for s in sources if s in SOURCES)
    page_size = str(inputs.page_size).strip()
    if page_size not in {str(size) for size in PAGE_SIZES}:
        problems.append(f"Rows per page: '{page_size[:40]}' is not one of {', '.join(map(str, PAGE_SIZES))}.")
        page_size = query.page_size
    return replace(
        query,
        search=(inputs.search or "").strip()[:SEARCH_MAX_CHARS],
        base_models=tuple(inputs.base_models or ()),
        comm_min=comm_min,
        comm_max=comm_max,
        date_from=date_from,
        date_to=date_to,
        sources=sources,
        page_size=int(page_size),
        page=1,
    ), problems

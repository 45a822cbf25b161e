"""Result records -> a ranked board frame; search, filter, sort and paging on the server with pandas.

Only one page of rows ever goes to the browser, so the cost of showing a board stays flat in the number
of rows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import datetime

import numpy as np
import pandas as pd

from challenges.definitions import Challenge
from leaderboard.columns import GAP, TEST_AVERAGE, board_columns, test_keys
from leaderboard.hidden_test import Revealed
from leaderboard.ranking import assign_ranks, model_family
from store.base import Record

SOURCES = ("published", "verified", "partial")
PAGE_SIZES = (25, 50, 100)


def display_source(source: str | None) -> str:
    """The one word the board and the details page show for a record's ``source``: imported (published), a
    smoke run (partial: a question limit or local data) or evaluated (verified)."""
    return source if source in ("published", "partial") else "verified"


def board_frame(challenge: Challenge, records: list[Record], revealed: Revealed | None = None) -> pd.DataFrame:
    """One row per result record of ``challenge``, ranked. An organiser's re-check of a published row is no row
    of its own: its average shows beside the row's self-reported one (``verified``, ``delta``, ``flagged``).

    ``revealed``: the challenge's revealed hidden-test scores; the frame then has the test columns, the test
    average and the validation-to-test gap, and ranks by the test average (entries without one follow)."""
    tests = test_keys(challenge) if revealed is not None else ()
    rows = []
    own = [r for r in records if r.get("challenge") == challenge.id and not r.get("hidden")]
    rechecks = latest_rechecks(own)
    for record in own:
        if record.get("rechecks"):
            continue
        scores = record.get("scores") or {}
        row = {
            "id": record["id"],
            "team": record.get("team") or "",
            "name": record.get("name") or record.get("model_repo") or "",
            "model_repo": record.get("model_repo") or "",
            "base_model": record.get("base_model") or "",
            "code_url": record.get("code_url") or "",
            "comm_gb": _float(record.get("comm_gb")),
            "average": _float(record.get("average")),
            "date": record.get("date") or "",
            "source": display_source(record.get("source")),
            "details_url": f"?details={record['id']}",
            **recheck_cells(challenge, record, rechecks.get(record["id"])),
        }
        for key in challenge.score_keys:
            row[key] = _float(scores.get(key))
        if tests:
            row.update(test_cells(revealed.entries.get(record["id"]), row["average"]))
        rows.append(row)
    columns = ["id", "team", "name", "model_repo", "base_model", "code_url", "comm_gb", "average",
               *challenge.score_keys, *tests, "date", "source", "details_url", *RECHECK_FIELDS]
    frame = pd.DataFrame(rows, columns=columns)
    for key in ("comm_gb", "average", "verified", "delta", *challenge.score_keys, *tests):
        frame[key] = frame[key].astype("float64")
    frame["flagged"] = frame["flagged"].astype(bool)
    frame["family"] = frame["base_model"].map(model_family)
    frame["haystack"] = (
        frame["team"] + "\n" + frame["name"] + "\n" + frame["model_repo"] + "\n" + frame["base_model"]
    ).str.lower()
    return add_sort_keys(assign_ranks(frame, by=TEST_AVERAGE if tests else "average"))


def test_cells(entry: dict | None, validation_average: float) -> dict[str, float]:
    """An entry's revealed test scores, their average and its gap to the validation average (test − validation;
    NaN when either is missing)."""
    scores = (entry or {}).get("scores") or {}
    test_average = _float((entry or {}).get("average"))
    return {**{key: _float(value) for key, value in scores.items()}, TEST_AVERAGE: test_average,
            GAP: round(test_average - validation_average, 6)}


RECHECK_FIELDS = ("verified", "delta", "flagged", "recheck_id")


def latest_rechecks(records: list[Record]) -> dict[str, Record]:
    """Published row id -> its latest re-check scored in full (a partial smoke run verifies nothing)."""
    found: dict[str, Record] = {}
    ordered = sorted((r for r in records if r.get("rechecks") and display_source(r.get("source")) == "verified"),
                     key=lambda r: (r.get("date") or "", r["id"]))
    for record in ordered:
        found[record["rechecks"]] = record
    return found


def recheck_gap(challenge: Challenge, reported: object, verified: object) -> tuple[float, bool]:
    """verified − self-reported (NaN when either is missing) and whether it exceeds ``recheck_tolerance``."""
    delta = round(_float(verified) - _float(reported), 6)  # 71.25 - 69.25 is 2.0, not 2.0000000000000036
    return delta, not math.isnan(delta) and abs(delta) > challenge.checks.recheck_tolerance


def recheck_cells(challenge: Challenge, record: Record, recheck: Record | None) -> dict:
    """The verified average beside a self-reported one, their difference and whether it is flagged."""
    verified = _float(recheck.get("average")) if recheck else math.nan
    delta, flagged = recheck_gap(challenge, record.get("average"), verified)
    return {"verified": verified, "delta": delta, "flagged": flagged, "recheck_id": recheck["id"] if recheck else ""}


def _float(value: object) -> float:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else math.nan


def parse_date(text: str | None) -> str | None:
    """Accept ``2025-04-12`` or ``12.04.25`` (as the published boards write dates); '' -> None."""
    text = (text or "").strip()
    if not text:
        return None
    for fmt in ("%Y-%m-%d", "%d.%m.%y", "%d.%m.%Y"):
        try:
            return datetime.strptime(text, fmt).date().isoformat()
        except ValueError:
            continue
    raise ValueError(f"'{text}' is not a date: use YYYY-MM-DD (for example 2025-04-12) or dd.mm.yy")


@dataclass(frozen=True)
class BoardQuery:
    """Everything a visitor can set on a board. Immutable: every change makes a new query."""

    search: str = ""
    base_models: tuple[str, ...] = ()  # "family:Qwen" or "model:Qwen2.5-7B-Instruct"
    comm_min: float | None = None
    comm_max: float | None = None
    date_from: str | None = None  # ISO dates
    date_to: str | None = None
    sources: tuple[str, ...] = SOURCES
    sort_key: str = "rank"
    sort_desc: bool = False
    page: int = 1
    page_size: int = 50

    def sorted_by(self, key: str) -> "BoardQuery":
        """Clicking a header: a new column sorts in its natural direction, the same column flips."""
        if key == self.sort_key:
            return replace(self, sort_desc=not self.sort_desc, page=1)
        natural_desc = key not in ("rank", "team", "name", "base_model", "model_repo", "comm_gb")
        return replace(self, sort_key=key, sort_desc=natural_desc, page=1)


@dataclass
class Page:
    rows: pd.DataFrame
    total: int  # rows matching the filters
    page: int
    pages: int


def filter_mask(frame: pd.DataFrame, query: BoardQuery) -> np.ndarray:
    mask = np.ones(len(frame), dtype=bool)
    terms = query.search.lower().split()
    for term in terms:
        mask &= frame["haystack"].str.contains(term, regex=False).to_numpy()
    if query.base_models:
        families = {v.split(":", 1)[1] for v in query.base_models if v.startswith("family:")}
        models = {v.split(":", 1)[1] for v in query.base_models if v.startswith("model:")}
        mask &= (frame["family"].isin(families) | frame["base_model"].isin(models)).to_numpy()
    cost = frame["comm_gb"].to_numpy()
    if query.comm_min is not None:
        mask &= cost >= query.comm_min
    if query.comm_max is not None:
        mask &= cost <= query.comm_max
    dates = frame["date"]
    if query.date_from:
        mask &= ((dates != "") & (dates >= query.date_from)).to_numpy()
    if query.date_to:
        mask &= ((dates != "") & (dates <= query.date_to)).to_numpy()
    if set(query.sources) != set(SOURCES):
        mask &= frame["source"].isin(query.sources).to_numpy()
    return mask


TEXT_SORT_COLUMNS = ("team", "name", "model_repo", "base_model", "code_url", "date", "source")


def add_sort_keys(frame: pd.DataFrame) -> pd.DataFrame:
    """Precompute a numeric key per text column (case-insensitive dense rank; blanks NaN), so a sort
    at request time is one numeric argsort instead of a string sort."""
    for key in TEXT_SORT_COLUMNS:
        lowered = frame[key].str.lower().replace("", np.nan)
        frame[f"_sort_{key}"] = lowered.rank(method="dense").astype("float64")
    return frame


def sorted_positions(frame: pd.DataFrame, positions: np.ndarray, key: str, descending: bool) -> np.ndarray:
    """Row positions ordered by ``key``: numbers numerically, text case-insensitively, blanks last in both
    directions, ties in rank order (the frame is kept in rank order and the sort is stable)."""
    if key == "rank" and descending:  # unranked (partial) rows stay last
        unranked = frame["rank"].isna().to_numpy()[positions]
        return np.concatenate([positions[~unranked][::-1], positions[unranked]])
    if key == "rank" or key not in frame.columns:
        return positions
    column = f"_sort_{key}" if key in TEXT_SORT_COLUMNS else key
    values = frame[column].to_numpy()[positions]
    if descending:
        values = -values
    order = np.argsort(values, kind="stable")  # NaN sorts last
    return positions[order]


def sort_frame(frame: pd.DataFrame, key: str, descending: bool) -> pd.DataFrame:
    return frame.iloc[sorted_positions(frame, np.arange(len(frame)), key, descending)]


def query_page(frame: pd.DataFrame, query: BoardQuery) -> Page:
    positions = np.flatnonzero(filter_mask(frame, query))
    ordered = sorted_positions(frame, positions, query.sort_key, query.sort_desc)
    total = len(ordered)
    pages = max(1, math.ceil(total / query.page_size))
    page = min(max(1, query.page), pages)
    start = (page - 1) * query.page_size
    return Page(rows=frame.iloc[ordered[start : start + query.page_size]], total=total, page=page, pages=pages)


def base_model_choices(frame: pd.DataFrame) -> list[tuple[str, str]]:
    """Dropdown choices: each family, then each base model, most common first."""
    families = frame["family"].value_counts()
    models = frame.loc[frame["base_model"] != "", "base_model"].value_counts()
    return [(f"{name} (family, {count})", f"family:{name}") for name, count in families.items()] + [
        (f"{name} ({count})", f"model:{name}") for name, count in models.items()
    ]


def visible_keys(challenge: Challenge, labels: list[str] | None, revealed: bool = False) -> list[str]:
    """The keys of the columns shown for the ticked ``labels``; a revealed hidden test's columns always show."""
    columns = board_columns(challenge, revealed)
    if labels is None:
        return [c.key for c in columns if c.default_visible]
    return [c.key for c in columns if c.label in labels or (revealed and c.key in test_keys(challenge))]


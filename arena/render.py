"""Render an arena board (``arena.tally.arena_board``) as an HTML table in the boards' style: header clicks
sort on the server, every value escaped. A provisional entry shows "provisional" in place of its rank and
dashes in place of an interval and rank range that would mean nothing yet."""

from __future__ import annotations

from html import escape

import pandas as pd

from arena.tally import ArenaBoard
from uikit.tables import sortable_header

# key: (header, sort columns, default descending)
ARENA_COLUMNS = {
    "rank": ("Rank", ["rank"], False),
    "label": ("Entry", ["label"], False),
    "rating": ("Rating", ["rating"], True),
    "ci": ("95% CI", ["ci_width"], False),
    "votes": ("Votes", ["votes"], True),
    "record": ("W / L / T", ["wins", "losses"], True),
    "rank_range": ("Rank range", ["rank_best", "rank_worst"], False),
}
NUMERIC = {"rank", "rating", "ci", "votes", "record", "rank_range"}

ARENA_HELP = (
    "Ratings come from a **Bradley–Terry** model fitted by maximum likelihood over the rated votes (not "
    "online Elo, so the order of votes does not matter), on the Elo scale (a 400-point gap means 10:1 odds; "
    "every entry starts at 1000). Only battles between a **random anonymous pair** are rated (as in Chatbot "
    "Arena); votes on a pair you picked are kept but not rated. A tie or *both bad* counts as half a win for "
    "each side. The **95% CI** comes from 200 bootstrap refits; the **rank range** is the best and worst rank "
    "the intervals allow. An entry with too few rated votes is **provisional**: no rank until it has enough. "
    "Each conversation counts once, and replays of the same battle by the same voter are not counted."
)


def sort_arena(frame: pd.DataFrame, key: str, descending: bool) -> pd.DataFrame:
    """Sorted on ``key``; a provisional entry has no rank, interval width or rank range, so it sorts after the
    others on those columns."""
    width = (frame["ci_high"] - frame["ci_low"]).astype(float).where(~frame["provisional"].astype(bool))
    frame = frame.assign(ci_width=width)
    columns = ARENA_COLUMNS.get(key, ARENA_COLUMNS["rank"])[1]
    return frame.sort_values(columns + ["provisional", "rank"], kind="stable", na_position="last",
                             ascending=[not descending] * len(columns) + [True, True])


def _cells(row: pd.Series) -> dict[str, str]:
    cells = {
        "rank": "provisional",
        "label": str(row["label"]),
        "rating": f"{row['rating']:.0f}",
        "ci": "—",
        "votes": str(int(row["votes"])),
        "record": f"{int(row['wins'])} / {int(row['losses'])} / {int(row['ties'])}",
        "rank_range": "—",
    }
    if not row["provisional"]:
        low, high = row["rating"] - row["ci_low"], row["ci_high"] - row["rating"]
        best, worst = int(row["rank_best"]), int(row["rank_worst"])
        cells.update(rank=str(int(row["rank"])), ci=f"+{high:.0f} / −{low:.0f}",
                     rank_range=str(best) if best == worst else f"{best}–{worst}")
    return cells


def _summary(standing: ArenaBoard) -> str:
    """How many votes are rated and why the others are not, and the provisional rule."""
    parts = [f"{len(standing.ratings):,} entries", f"{standing.rated:,} rated votes (random anonymous pairs)"]
    if standing.named:
        parts.append(f"{standing.named:,} vote{'s' if standing.named != 1 else ''} on picked pairs (kept, not rated)")
    if standing.unsigned:
        parts.append(f"{standing.unsigned:,} unsigned vote{'s' if standing.unsigned != 1 else ''} (not rated)")
    parts.append(f"a rating is provisional until an entry has {standing.min_rated_votes:,} rated votes")
    return " · ".join(parts)


def render_arena(standing: ArenaBoard, board: str, sort_key: str = "rank", descending: bool = False) -> str:
    frame = standing.ratings
    head = [sortable_header(key, label, key in NUMERIC, sort_key, descending)
            for key, (label, _, _) in ARENA_COLUMNS.items()]
    body = []
    if not frame.empty:
        for _, row in sort_arena(frame, sort_key, descending).iterrows():
            cells = "".join(f'<td class="{"num" if k in NUMERIC else ""}" data-col="{k}">{escape(v)}</td>'
                            for k, v in _cells(row).items())
            body.append(f'<tr data-id="{escape(str(row["entry"]))}">{cells}</tr>')
    else:
        body.append(f'<tr><td colspan="{len(ARENA_COLUMNS)}" class="empty">No rated votes on this board yet: '
                    "vote on a random anonymous pair on the Compare tab.</td></tr>")
    return (
        f'<div class="board" data-board="{escape(board)}">'
        f'<table class="board-table arena-table"><thead><tr>{"".join(head)}</tr></thead>'
        f'<tbody>{"".join(body)}</tbody></table>'
        f'<div class="board-summary">{escape(_summary(standing))}</div></div>'
    )

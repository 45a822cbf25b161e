"""Render an arena board (``arena.votes.arena_board``) as an HTML table in the boards' style: header clicks
sort on the server, every value escaped."""

from __future__ import annotations

from html import escape

import pandas as pd

from leaderboard.render import sortable_header

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
    "Ratings come from a **Bradley–Terry** model fitted by maximum likelihood over every counted vote (not "
    "online Elo, so the order of votes does not matter), on the Elo scale (a 400-point gap means 10:1 odds; "
    "every entry starts at 1000). A tie or *both bad* counts as half a win for each side. The **95% CI** comes "
    "from 200 bootstrap refits; the **rank range** is the best and worst rank the intervals allow. Each "
    "conversation counts once, and replays of the same battle by the same voter are not counted."
)


def sort_arena(frame: pd.DataFrame, key: str, descending: bool) -> pd.DataFrame:
    frame = frame.assign(ci_width=frame["ci_high"] - frame["ci_low"])
    columns = ARENA_COLUMNS.get(key, ARENA_COLUMNS["rank"])[1]
    return frame.sort_values(columns + ["rank"], ascending=[not descending] * len(columns) + [True], kind="stable")


def _cells(row: pd.Series) -> dict[str, str]:
    low, high = row["rating"] - row["ci_low"], row["ci_high"] - row["rating"]
    best, worst = int(row["rank_best"]), int(row["rank_worst"])
    return {
        "rank": str(int(row["rank"])),
        "label": str(row["label"]),
        "rating": f"{row['rating']:.0f}",
        "ci": f"+{high:.0f} / −{low:.0f}",
        "votes": str(int(row["votes"])),
        "record": f"{int(row['wins'])} / {int(row['losses'])} / {int(row['ties'])}",
        "rank_range": str(best) if best == worst else f"{best}–{worst}",
    }


def render_arena(frame: pd.DataFrame, board: str, sort_key: str = "rank", descending: bool = False) -> str:
    head = [sortable_header(key, label, key in NUMERIC, sort_key, descending)
            for key, (label, _, _) in ARENA_COLUMNS.items()]
    body = []
    if not frame.empty:
        for _, row in sort_arena(frame, sort_key, descending).iterrows():
            cells = "".join(f'<td class="{"num" if k in NUMERIC else ""}" data-col="{k}">{escape(v)}</td>'
                            for k, v in _cells(row).items())
            body.append(f'<tr data-id="{escape(str(row["entry"]))}">{cells}</tr>')
    else:
        body.append(f'<tr><td colspan="{len(ARENA_COLUMNS)}" class="empty">No votes on this board yet: '
                    "compare two entries on the Compare tab and vote.</td></tr>")
    votes = int(frame["votes"].sum() // 2) if not frame.empty else 0
    return (
        f'<div class="board" data-board="{escape(board)}">'
        f'<table class="board-table arena-table"><thead><tr>{"".join(head)}</tr></thead>'
        f'<tbody>{"".join(body)}</tbody></table>'
        f'<div class="board-summary">{len(frame):,} entries · {votes:,} counted votes</div></div>'
    )

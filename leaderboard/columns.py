"""The columns a board shows, derived from its challenge definition (never listed by hand per board)."""

from __future__ import annotations

from dataclasses import dataclass

from leaderboard.challenges import Challenge


@dataclass(frozen=True)
class BoardColumn:
    key: str  # column of the board frame
    label: str
    kind: str  # text | number | score | delta | cost | date | link | source | rank
    default_visible: bool = True

    @property
    def numeric(self) -> bool:
        return self.kind in ("number", "score", "delta", "cost", "rank")


def board_columns(challenge: Challenge) -> tuple[BoardColumn, ...]:
    scores = tuple(BoardColumn(c.key, c.label, "score") for c in challenge.columns)
    average = BoardColumn("average", challenge.board.average_label, "score")
    if challenge.is_flowertune:
        columns = (
            BoardColumn("rank", "Rank", "rank"),
            BoardColumn("team", challenge.board.entry_label, "text"),
            BoardColumn("code_url", "Code", "link"),
            BoardColumn("base_model", "Base Model", "text"),
            BoardColumn("comm_gb", "Comm. Costs", "cost"),
            average,
            *scores,
            BoardColumn("verified", "Verified", "score"),  # an organiser's re-check of a published row
            BoardColumn("delta", "Δ", "delta"),
            BoardColumn("date", "Date", "date"),
            BoardColumn("model_repo", "Adapter", "text", default_visible=False),
            BoardColumn("source", "Source", "source"),
        )
    else:
        columns = (
            BoardColumn("rank", "Rank", "rank"),
            BoardColumn("name", challenge.board.entry_label, "text"),
            average,
            *scores,
            BoardColumn("team", "Team", "text"),
            BoardColumn("date", "Date", "date"),
            BoardColumn("source", "Source", "source"),
        )
    defaults = challenge.board.default_columns
    if defaults is None:
        return columns
    return tuple(
        BoardColumn(c.key, c.label, c.kind, default_visible=c.key in defaults or c.key == "source")
        for c in columns
    )


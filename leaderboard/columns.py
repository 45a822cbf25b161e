"""The columns a board shows, derived from its challenge definition (never listed by hand per board)."""

from __future__ import annotations

from dataclasses import dataclass

from challenges.definitions import Challenge


@dataclass(frozen=True)
class BoardColumn:
    key: str  # column of the board frame
    label: str
    kind: str  # text | number | score | delta | cost | date | link | source | rank
    default_visible: bool = True

    @property
    def numeric(self) -> bool:
        return self.kind in ("number", "score", "delta", "cost", "rank")


TEST_AVERAGE, GAP = "test_average", "gap"


def test_keys(challenge: Challenge) -> tuple[str, ...]:
    """The columns a revealed hidden test adds (always shown once revealed); none without a hidden test."""
    if challenge.hidden_test is None:
        return ()
    return (TEST_AVERAGE, *(c.key for c in challenge.hidden_test.columns), GAP)


def test_columns(challenge: Challenge) -> tuple[BoardColumn, ...]:
    labels = {TEST_AVERAGE: "Test average", GAP: "Gap (test − val.)",
              **{c.key: c.label for c in challenge.hidden_test.columns}}
    return tuple(BoardColumn(key, labels[key], "delta" if key == GAP else "score") for key in test_keys(challenge))


def board_columns(challenge: Challenge, revealed: bool = False) -> tuple[BoardColumn, ...]:
    """``revealed``: the challenge's hidden test has been revealed, so its columns follow the validation ones."""
    scores = tuple(BoardColumn(c.key, c.label, "score") for c in challenge.columns)
    if revealed and challenge.hidden_test is not None:
        scores += test_columns(challenge)
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
        BoardColumn(c.key, c.label, c.kind,
                    default_visible=c.key in defaults or c.key == "source" or c.key in test_keys(challenge))
        for c in columns
    )


"""The arena's public API: a board's ratings as data (what the Arena tab shows)."""

from __future__ import annotations

import gradio as gr

from arena.service import ArenaService
from store.base import StoreError
from uikit.api import json_cell, refused

ARENA_OFF = "The arena is off on this Space (its Arena tab says why)."


def arena_api(service: ArenaService | None):
    """The ``arena_ratings`` endpoint, bound to the arena service (None when the arena is off)."""

    def arena_ratings(board: str) -> dict:
        """The ratings of one arena board: per entry the Bradley-Terry rating, its 95 % interval, votes (wins /
        losses / ties), whether it is still provisional, rank and rank range; and how many votes are rated and
        how many are not (picked pairs, unsigned). board: a challenge id, or 'demo'."""
        if service is None:
            raise refused(ARENA_OFF)
        boards = [board_id for _, board_id in service.boards()]
        if board not in boards:
            raise refused(f"Unknown arena board '{board}': use one of {', '.join(boards)}.")
        try:
            found = service.board_frame(board)
        except StoreError as error:
            raise gr.Error(f"The votes cannot be read right now ({error}). Try again in a minute.") from None
        entries = [{key: json_cell(value) for key, value in row.items()} for row in found.ratings.to_dict("records")]
        return {"board": board, "entries": entries, "rated_votes": found.rated, "picked_pair_votes": found.named,
                "unsigned_votes": found.unsigned, "min_rated_votes": found.min_rated_votes}

    return arena_ratings

"""CSV download of a board view, safe to open in a spreadsheet."""

from __future__ import annotations

import csv
import io

import pandas as pd

from challenges.definitions import Challenge
from leaderboard.columns import board_columns
from leaderboard.render import cell_text

# A cell starting with one of these is read as a formula by spreadsheet programs (CSV injection).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def neutralize(text: str) -> str:
    """Prefix a quote so spreadsheets show formula-like text instead of running it."""
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


def board_csv(challenge: Challenge, rows: pd.DataFrame, visible: list[str], revealed: bool = False) -> str:
    """Visible columns of ``rows`` as CSV: numbers as plain numbers, every text cell neutralized. ``revealed``:
    the hidden test's columns exist."""
    columns = [c for c in board_columns(challenge, revealed) if c.key in visible]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([neutralize(f"{c.label} (GB)" if c.kind == "cost" else c.label) for c in columns])
    for _, row in rows.iterrows():
        cells = []
        for column in columns:
            value = row[column.key]
            if column.numeric and column.kind != "cost":
                cells.append("" if pd.isna(value) else (int(value) if column.kind == "rank" else value))
            elif column.kind == "cost":
                cells.append("" if pd.isna(value) else f"{value:g}")
            elif column.kind == "source":
                cells.append(neutralize(str(value)))
            else:
                cells.append(neutralize(cell_text(column, row, challenge.board.decimals)))
        writer.writerow(cells)
    return out.getvalue()

"""Numbers typed into the submit form, read only when they cannot be misread.

Only plain ASCII decimal notation is accepted: digits with at most one point (``2.9``, ``200``, ``.5``).
Thousands separators and decimal commas (``1,000`` is 1000 to some readers and 1.0 to others), exponents
(``1e-400`` underflows to 0), ``inf``/``nan``, signs, hex, underscores and non-ASCII digits (full-width,
Arabic-Indic) are refused with a message saying what to type instead. Values are compared as decimals, so
``200.0000001`` exceeds a 200 GB budget even where a float would round it to 200.
"""

from __future__ import annotations

import re
from decimal import Decimal

MAX_LENGTH = 32
_DECIMAL = re.compile(r"^(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)$")
_WHOLE = re.compile(r"^[0-9]+$")


class NumberError(ValueError):
    """Why a typed value is not accepted, as the end of a sentence that starts with the field and value."""


def parse_decimal(text: object, whole: bool = False) -> Decimal | None:
    """'2.9' -> Decimal('2.9'); '' -> None; anything ambiguous or not plain decimal raises NumberError."""
    text = str(text if text is not None else "").strip()
    if not text:
        return None
    if len(text) > MAX_LENGTH:
        raise NumberError(f"is too long to be a number (at most {MAX_LENGTH} characters)")
    if text.startswith("-") and _DECIMAL.match(text[1:]):
        raise NumberError("cannot be negative")
    if "," in text:
        raise NumberError("is ambiguous: use a point as the decimal separator and no thousands separators "
                          "(e.g. 1000 or 2.9)")
    if not _DECIMAL.match(text):
        raise NumberError("is not a number in plain decimal notation: use the digits 0-9 and at most one point "
                          "(e.g. 2.9)")
    if whole and not _WHOLE.match(text):
        raise NumberError("is not a whole number: use the digits 0-9 only (e.g. 20)")
    return Decimal(text)

"""Operator settings read from the environment the same way in every room: a bad value is refused at start with
a message naming the variable, never silently replaced by a default."""

from __future__ import annotations

import math
from collections.abc import Mapping


def positive_number(environ: Mapping[str, str], name: str, unit: str, default: float | None = None) -> float | None:
    """``name`` as a positive finite number (``default`` when unset or blank); ValueError naming the variable
    and ``unit`` otherwise."""
    text = environ.get(name, "").strip()
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a positive number of {unit}; got {text!r}")
    return value

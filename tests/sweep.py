"""Sizes of the reliability sweeps: small in the default (CI) run, large with ``RELIABILITY_SWEEP=1``.

One switch turns every heavier sweep on (RELIABILITY.md); a sweep's own variable still sets its size exactly."""

from __future__ import annotations

import os


def heavy() -> bool:
    return os.environ.get("RELIABILITY_SWEEP", "") not in ("", "0")


def sweep_size(variable: str, default: int, heavy_size: int) -> int:
    """``$variable`` if set, else ``heavy_size`` under ``RELIABILITY_SWEEP=1``, else ``default``."""
    if os.environ.get(variable):
        return int(os.environ[variable])
    return heavy_size if heavy() else default

"""The reported communication cost checked against the adapter's size.

FlowerTune counts the bytes of every parameter array sent to and received from the clients over all rounds.
A run that sends the whole adapter to each of *k* clients per round and gets it back, for *R* rounds, costs
``2 × adapter bytes × k × R``.

Units: the official FlowerTune strategy logs ``bytes / 1024²`` as "MB" against a "200,000 MB" budget, and the
published boards' GB are those MB divided by 1000 (the 200 GB budget). One reported GB is therefore
``1000 × 1024²`` bytes (1.048576 × 10⁹), and this check computes in that unit: not 10⁹ bytes, not GiB.

A disagreement is a warning, never a refusal: a run may send less (compression, sparse or partial updates)
or more (optimizer state, extra arrays) than the plain adapter. The check is stored on the request as
``comm_check`` (figures, ``warning`` and ``summary`` in words) and copied to its result, so the queue and the
Details page show the same words.
"""

from __future__ import annotations

from store.base import Record
from submissions.hub_models import WeightsSize

BYTES_PER_GB = 1000 * 1024**2  # the unit of the published boards' "GB" (the official tracker's MB / 1000)


def expected_comm_gb(adapter_bytes: int, clients_per_round: int, rounds: int) -> float:
    """2 × adapter bytes × clients per round × rounds, in the published boards' GB."""
    return 2 * adapter_bytes * clients_per_round * rounds / BYTES_PER_GB


def check_comm_cost(reported_gb: float, size: WeightsSize, clients_per_round: int, rounds: int,
                    tolerance: float) -> Record:
    """The check as stored: the inputs, the computed cost and whether the reported one is within ``tolerance``
    (a fraction of the computed cost). ``agrees`` is None when the adapter's size is unknown."""
    check: Record = {"reported_gb": reported_gb, "clients_per_round": clients_per_round, "rounds": rounds,
                     "adapter_bytes": size.total, "adapter_size_source": size.source, "tolerance": tolerance,
                     "expected_gb": None, "relative_gap": None, "agrees": None, "unknown_reason": size.reason}
    if size.total is not None:
        expected = expected_comm_gb(size.total, clients_per_round, rounds)
        gap = abs(reported_gb - expected) / expected if expected else (0.0 if reported_gb == 0 else None)
        check.update(expected_gb=expected, relative_gap=gap, agrees=gap is not None and gap <= tolerance)
    return {**check, "warning": comm_warning(check), "summary": comm_summary(check)}


def _formula(check: Record) -> str:
    megabytes = check["adapter_bytes"] / 1024**2
    return (f"2 × {megabytes:.3g} MB adapter ({check['adapter_size_source']}) × {check['clients_per_round']} "
            f"clients per round × {check['rounds']} rounds = {check['expected_gb']:.3g} GB")


def comm_warning(check: Record | None) -> str | None:
    """What the participant, the queue and the Details page are warned of; None when the costs agree."""
    if not check or check.get("agrees") is True:
        return None
    if check.get("agrees") is None and check.get("adapter_bytes") is None:
        return f"The communication cost could not be checked: {check.get('unknown_reason') or 'adapter size unknown'}."
    gap = check.get("relative_gap")
    apart = f"{gap:.0%} apart" if gap is not None else "the computed cost is 0"
    return (f"Warning: the reported communication cost ({check['reported_gb']:g} GB) differs from "
            f"{_formula(check)} ({apart}; tolerance {check['tolerance']:.0%}). It is shown as reported.")


def comm_summary(check: Record) -> str:
    """One line for the Details page: the figures and the verdict."""
    warning = comm_warning(check)
    if warning:
        return warning
    return (f"agrees: reported {check['reported_gb']:g} GB, computed {_formula(check)} (within "
            f"{check['tolerance']:.0%})")

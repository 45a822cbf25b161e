"""The merging track's time budget: merge plus evaluation must end within ``limits.gpu_hours_max`` (the NeurIPS
2024 competition allowed one hour on one 48 GB GPU), or the request fails, caused by the submission.

The clock starts when the worker starts on the request (downloads included, as the competition timed the whole
run). :meth:`Budget.check` is called between steps (download, merge, load) and before every model call (the
same forward pre-hook that stops an evaluation whose claim was lost), so an overrun stops at the next one.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from challenges.definitions import Challenge
from evaluator.failures import SUBMISSION, EvaluationFailed

OVERRIDE_ENV = "EVALUATOR_MERGE_BUDGET_S"


class BudgetExceeded(EvaluationFailed):
    """Merge and evaluation ran past the challenge's time budget."""


class Budget:
    def __init__(self, seconds: float | None, label: str, clock: Callable[[], float] = time.monotonic):
        """``seconds`` None: no budget. ``label`` names it in the failure reason (e.g. "1 h")."""
        self.seconds, self.label, self.clock = seconds, label, clock
        self.started = clock()

    def elapsed(self) -> float:
        return self.clock() - self.started

    def check(self) -> None:
        elapsed = self.elapsed()
        if self.seconds is not None and elapsed > self.seconds:
            raise BudgetExceeded(
                f"merge and evaluation took longer than the {self.label} budget (stopped after "
                f"{elapsed:.0f} s): the merge and the evaluation together must finish within it on one "
                "GPU, as in the competition. Make the merge cheaper (fewer or smaller components) and submit "
                "again.", SUBMISSION)


def merge_budget(challenge: Challenge, override_s: float | None = None) -> Budget:
    """The budget of one merging evaluation: ``override_s`` (``EVALUATOR_MERGE_BUDGET_S``: tests, slow
    workers) when given, else the challenge's ``limits.gpu_hours_max``; none when neither is set."""
    if override_s is not None:
        return Budget(override_s, f"{override_s:g} s ({OVERRIDE_ENV})")
    hours = challenge.limits.gpu_hours_max
    return Budget(hours * 3600 if hours is not None else None, f"{hours:g} h" if hours is not None else "")

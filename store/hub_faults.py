"""How the Hub store copes with a busy or failing Hub: which answers are worth another try, and the small
budget of tries (and seconds) a transaction gets before it says so with a :class:`StoreError`."""

from __future__ import annotations

import time

from huggingface_hub.errors import HfHubHTTPError

from store.base import StoreError

TRANSIENT_STATUS = {429, 500, 502, 503, 504}  # the Hub is busy or failing: retry a little, then give up


class HubUnreachable(StoreError):
    """The Hub did not answer, or answered 429/5xx: nothing can be read from it or written to it now."""


def status_of(error: HfHubHTTPError) -> int | None:
    return error.response.status_code if error.response is not None else None


def retry_after_s(error: HfHubHTTPError) -> float | None:
    """The ``Retry-After`` of an error answer in seconds (only the delta-seconds form), else None."""
    value = error.response.headers.get("Retry-After") if error.response is not None else None
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


class FaultBudget:
    """The transient-failure budget of one transaction: a few tries within a few seconds."""

    def __init__(self, attempts: int, budget_s: float, backoff_s: float):
        self.attempts, self.budget_s, self.backoff_s = attempts, budget_s, backoff_s
        self.started, self.count = time.monotonic(), 0
        self.maybe_written = False  # a commit answered with an error that may come after it landed, not yet seen

    def wait_or_give_up(self, what: str, retry_after: float | None) -> None:
        """Sleep before the next try, or raise StoreError when the budget is spent."""
        self.count += 1
        elapsed = time.monotonic() - self.started
        wait = retry_after if retry_after is not None else self.backoff_s * 2 ** (self.count - 1)
        wait = min(wait, max(0.0, self.budget_s - elapsed))
        if self.count >= self.attempts or elapsed + wait >= self.budget_s:
            outcome = ("the last commit may or may not have been recorded; check again shortly"
                       if self.maybe_written else "nothing was written")
            raise HubUnreachable(f"{what} ({self.count} tries in {elapsed:.1f} s); {outcome}.", self.maybe_written)
        time.sleep(wait)

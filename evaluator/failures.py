"""Why an evaluation failed, and whose fault it was.

Every FAILED request carries ``failure = {"reason", "log_tail", "cause"}``. ``cause`` is ``"submission"`` when
the participant's files are at fault (the adapter could not be loaded, had no effect, does not match its base,
does not fit in memory beside the base) and ``"evaluator"`` when we are (a dataset could not be read, the
worker was interrupted too often, the base model does not fit our machine, generated code cannot be isolated
here, any unexpected crash of our code). A failure caused by the evaluator does not count against a team's
submission limit. Reason and log tail go into the public requests dataset, so both pass through
:func:`evaluator.redaction.redact`.
"""

from __future__ import annotations

from evaluator.redaction import redact
from evaluator.sandbox import SandboxUnavailable

SUBMISSION = "submission"
EVALUATOR = "evaluator"
CAUSES = (SUBMISSION, EVALUATOR)
REASON_LIMIT = 500


class EvaluationFailed(Exception):
    """A failure with a reason a participant understands and the party at fault."""

    def __init__(self, reason: str, cause: str = SUBMISSION):
        if cause not in CAUSES:
            raise ValueError(f"unknown failure cause {cause!r}")
        super().__init__(reason)
        self.reason, self.cause = reason, cause


def classify(error: BaseException) -> tuple[str, str]:
    """(reason in words, cause) for an exception that ended an evaluation."""
    if isinstance(error, EvaluationFailed):
        return error.reason, error.cause
    if isinstance(error, SandboxUnavailable):  # includes a sandbox that failed to set up
        return (f"generated code cannot be run in isolation on this worker ({error}); the operator must enable "
                "the sandbox. This does not count against your submission limit.", EVALUATOR)
    return (f"the evaluator failed on its side ({type(error).__name__}: {error}). This does not count against "
            "your submission limit; the operator has the log.", EVALUATOR)


def failure_record(reason: str, cause: str, log_text: str | None) -> dict:
    """The ``failure`` field of a FAILED request, safe to publish."""
    if cause not in CAUSES:
        raise ValueError(f"unknown failure cause {cause!r}")
    return {"reason": redact(reason, limit=REASON_LIMIT), "log_tail": redact(log_text), "cause": cause}

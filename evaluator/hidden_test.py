"""The merging track's hidden test: the same model scored on private test columns, written only to the
private store's ``hidden_scores`` collection until an organiser reveals them.

The challenge definition's ``hidden_test`` block names the columns (suites as in validation); where their data
lives is private: the environment variable it names (``MERGING_HIDDEN_TEST``) holds a local folder of
``<column key>.jsonl`` files, or a private dataset repo (``owner/name``, read with the worker's ``HF_TOKEN``)
holding those files. Unset: there is no hidden test and nothing is written.

Nothing of the hidden test reaches what is published: its scores, samples and progress stay out of the
result, the details, the request and the logs, and its own failures are reported without the error text (which
could name the data's location or quote its rows).
"""

from __future__ import annotations

import dataclasses
import logging
import os
import re
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path

from challenges.definitions import Challenge
from evaluator.failures import EVALUATOR, EvaluationFailed
from evaluator.suites import SuiteResult
from store.base import Record, Store
from store.timestamps import utc_stamp

COLLECTION = "hidden_scores"
_DATASET_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9][A-Za-z0-9_.-]*$")
log = logging.getLogger(__name__)


class HiddenTestUnavailable(EvaluationFailed):
    """The hidden test is configured but cannot be run or stored; the reason names no location or data."""

    def __init__(self, reason: str):
        super().__init__(f"{reason}. This does not count against your submission limit; the operator has the log.",
                         EVALUATOR)


def location(challenge: Challenge, environ: Mapping[str, str] = os.environ) -> str | None:
    """Where the challenge's hidden test data is configured to be (None: no hidden test on this worker)."""
    if challenge.hidden_test is None:
        return None
    return environ.get(challenge.hidden_test.source_env, "").strip() or None


def check_ready(challenge: Challenge, store: Store, environ: Mapping[str, str] = os.environ) -> None:
    """Refuse, before any work, a configured hidden test whose scores would have nowhere private to go."""
    if location(challenge, environ) is not None and not store.serves(COLLECTION):
        raise HiddenTestUnavailable("the hidden test is configured but this worker has no private store for its "
                                    "scores (the operator must set PRIVATE_DATASET)")


def scored_as_challenge(challenge: Challenge) -> Challenge:
    """The challenge with the hidden columns as its columns, so the validation suites can run them."""
    return dataclasses.replace(challenge, columns=challenge.hidden_test.columns, hidden_test=None)


def data_folder(where: str, work: Path, environ: Mapping[str, str] = os.environ) -> Path:
    """A local folder of the hidden columns' JSONL files: ``where`` itself, or the private dataset downloaded."""
    if Path(where).is_dir():
        return Path(where)
    if not _DATASET_ID.match(where):
        raise HiddenTestUnavailable("the hidden test's location is neither a folder nor a dataset repo id")
    from huggingface_hub import snapshot_download

    try:
        return Path(snapshot_download(where, repo_type="dataset", local_dir=work / "hidden-test",
                                      allow_patterns=["*.jsonl"], token=environ.get("HF_TOKEN") or None,
                                      endpoint=environ.get("HF_ENDPOINT") or None))
    except Exception:  # noqa: BLE001 - the error text would name the private repo; the log keeps it
        log.exception("the hidden test data could not be downloaded")
        raise HiddenTestUnavailable("the hidden test data could not be read on this worker") from None


def hidden_record(result: Record, suite: SuiteResult, now: datetime) -> Record:
    """The ``hidden_scores`` record of one evaluated result (see the merging contract)."""
    return {"id": result["id"], "challenge": result["challenge"], "request_id": result["request_id"],
            "team": result.get("team"), "name": result.get("name"), "scores": suite.scores,
            "average": suite.average, "evaluated_at": utc_stamp(now)}

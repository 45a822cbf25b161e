"""The record contract (DESIGN.md 2b): the minimal shape each collection's records must have to be read.

Records are JSON files that anyone with write access to a dataset (or to the data folder) can change, so the
store reads every file through :func:`read_record`. A file that is not a JSON object, whose ``id`` is not its
file name, or whose fields readers rely on have the wrong type is refused with a reason in words; the store
sets it aside and lists it for the operator instead of letting one bad file stop the Space.

Only fields that readers index directly are required; the others are checked only for their type when
present (``null`` is always allowed for an optional field). Timestamps must be readable by
:func:`store.timestamps.parse_utc`; one written without a UTC offset is read as UTC and handed on with
``+00:00`` added, so it compares with every other timestamp. Values stored under an older name are handed on
under today's: a result of a smoke run stored with ``source: "sample"`` and its reasons in
``provenance.sample`` reads as ``source: "partial"`` with ``provenance.partial`` (see :data:`LEGACY_SOURCES`).
"""

from __future__ import annotations

import json
import re
from datetime import date, datetime
from typing import Any, Callable

from store.timestamps import parse_utc

Record = dict[str, Any]
Check = Callable[[Any], str | None]  # a value -> None when it fits, else what is wrong with it


class RecordRejected(ValueError):
    """A stored file does not fit the record contract; ``str(error)`` says why, for the operator."""


def _text(value: Any) -> str | None:
    return None if isinstance(value, str) else "must be text"


def _number(value: Any) -> str | None:
    return None if isinstance(value, (int, float)) and not isinstance(value, bool) else "must be a number"


def _whole(value: Any) -> str | None:
    return None if isinstance(value, int) and not isinstance(value, bool) else "must be a whole number"


def _object(value: Any) -> str | None:
    return None if isinstance(value, dict) else "must be a JSON object"


def _timestamp(value: Any) -> str | None:
    return None if parse_utc(value) is not None else "must be an ISO 8601 time (e.g. 2026-01-14T09:30:00+00:00)"


_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _date(value: Any) -> str | None:
    """Result dates are ISO dates (the boards filter and sort them as text); empty means unknown."""
    if value == "":
        return None
    if isinstance(value, str) and _ISO_DATE.match(value):
        try:
            date.fromisoformat(value)
            return None
        except ValueError:
            pass
    return "must be a date written YYYY-MM-DD"


def _scores(value: Any) -> str | None:
    if not isinstance(value, dict):
        return "must be a JSON object of scores"
    wrong = sorted(k for k, v in value.items() if v is not None and _number(v))
    return f"has scores that are not numbers: {', '.join(wrong)}" if wrong else None


def _progress(value: Any) -> str | None:
    if not isinstance(value, dict):
        return "must be a JSON object"
    wrong = sorted(k for k in ("done", "total") if value.get(k) is not None and _whole(value[k]))
    return f"has {' and '.join(wrong)} that are not whole numbers" if wrong else None


# Result sources stored under an older name -> today's: smoke runs were "sample" before they were "partial"
# (DESIGN.md 2b: "partial for smoke runs, never ranked"); their reasons moved from provenance.sample likewise.
LEGACY_SOURCES = {"sample": "partial"}

VOTE_OUTCOMES = ("a", "b", "tie", "both_bad")  # what arena.ratings counts (a test keeps the two lists equal)


def _outcome(value: Any) -> str | None:
    return None if value in VOTE_OUTCOMES else f"must be one of {', '.join(VOTE_OUTCOMES)}"


def _rows(value: Any) -> str | None:
    """An aggregated board's rows: result records (each read as a result when the board is shown)."""
    if not isinstance(value, list) or not all(isinstance(row, dict) for row in value):
        return "must be a list of JSON objects"
    return None


def _failure(value: Any) -> str | None:
    """Why a request failed: the queue shows its ``reason`` as text."""
    if not isinstance(value, dict):
        return "must be a JSON object"
    return None if value.get("reason") is None or isinstance(value["reason"], str) else "has a reason that is not text"


def _side(value: Any) -> str | None:
    """One side of an arena battle: at least the entry id it names."""
    if not isinstance(value, dict) or not isinstance(value.get("entry"), str):
        return "must be a JSON object with an 'entry' text"
    return None


# collection -> field -> (check, required)
CONTRACT: dict[str, dict[str, tuple[Check, bool]]] = {
    "requests": {
        "submitted_at": (_timestamp, True),
        **{key: (_text, False) for key in ("state", "challenge", "team", "team_key", "repo_id", "revision",
                                           "commit", "base_model", "worker", "result_id", "account", "rechecks")},
        **{key: (_timestamp, False) for key in ("heartbeat_at", "started_at", "finished_at")},
        "attempts": (_whole, False),
        "comm_gb": (_number, False),
        "progress": (_progress, False),
        "failure": (_failure, False),
        "comm_check": (_object, False),
    },
    "results": {
        "challenge": (_text, True),
        **{key: (_text, False) for key in ("team", "name", "model_repo", "model_commit", "base_model",
                                           "base_commit", "code_url", "source", "request_id", "rechecks")},
        "average": (_number, False),
        "comm_gb": (_number, False),
        "params_total": (_whole, False),
        "scores": (_scores, False),
        "date": (_date, False),
        "provenance": (_object, False),
        "comm_check": (_object, False),
    },
    "votes": {
        **{key: (_text, True) for key in ("board", "conversation_id")},
        "outcome": (_outcome, True),
        "created_at": (_timestamp, True),
        "a": (_side, True),
        "b": (_side, True),
        **{key: (_text, False) for key in ("voter", "fingerprint")},
    },
    "details": {"samples": (_object, False)},
    "reveals": {"challenge": (_text, True), "revealed_at": (_timestamp, True), "entries": (_object, True)},
    "private": {},
    "boards": {"challenge": (_text, True), "built_at": (_timestamp, True), "results_version": (_text, False),
               "backlog": (_whole, False), "rows": (_rows, True)},
    "hidden_scores": {"challenge": (_text, True), "scores": (_scores, True), "average": (_number, False),
                      **{key: (_text, False) for key in ("request_id", "team", "name")},
                      "evaluated_at": (_timestamp, False)},
}

TIMESTAMP_FIELDS = {
    collection: tuple(key for key, (check, _) in fields.items() if check is _timestamp)
    for collection, fields in CONTRACT.items()
}


def admit(collection: str, record: Any, file_id: str | None = None) -> Record:
    """``record`` as readers may use it (naive timestamps marked UTC), or :class:`RecordRejected`."""
    if not isinstance(record, dict):
        kind = "an array" if isinstance(record, list) else f"a JSON {type(record).__name__}"
        raise RecordRejected(f"holds {kind}, not a record (a JSON object)")
    record_id = record.get("id")
    if not isinstance(record_id, str) or not record_id:
        raise RecordRejected("has no 'id'")
    if file_id is not None and record_id != file_id:
        raise RecordRejected(f"has the id '{record_id[:80]}', not its file name '{file_id}'")
    problems = []
    for key, (check, required) in CONTRACT[collection].items():
        if key not in record or record[key] is None:
            if required:
                problems.append(f"'{key}' is missing")
            continue
        problem = check(record[key])
        if problem:
            problems.append(f"'{key}' {problem} (found {json.dumps(record[key], ensure_ascii=False)[:60]})")
    if problems:
        raise RecordRejected("; ".join(problems))
    record = _mark_utc(collection, record)
    return _current_names(record) if collection == "results" else record


def _current_names(result: Record) -> Record:
    """A result stored under older names (see :data:`LEGACY_SOURCES`) as today's readers expect it."""
    old = result.get("source")
    if old not in LEGACY_SOURCES:
        return result
    provenance = result.get("provenance") or {}
    if "sample" in provenance and "partial" not in provenance:
        provenance = {("partial" if key == "sample" else key): value for key, value in provenance.items()}
    return {**result, "source": LEGACY_SOURCES[old], "provenance": provenance}


def _mark_utc(collection: str, record: Record) -> Record:
    """Timestamps without an offset (or with spaces around them) rewritten as UTC with ``+00:00``."""
    fixed = {}
    for key in TIMESTAMP_FIELDS[collection]:
        value = record.get(key)
        if isinstance(value, str) and (value != value.strip() or datetime.fromisoformat(value.strip()).tzinfo is None):
            fixed[key] = parse_utc(value).isoformat()
    return {**record, **fixed} if fixed else record


def read_record(collection: str, file_id: str, content: bytes) -> Record:
    """Parse one stored file of ``collection`` named ``<file_id>.json``; :class:`RecordRejected` if it is not
    a record that fits the contract."""
    if not content.strip():
        raise RecordRejected("is empty")
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError:
        raise RecordRejected("is not UTF-8 text") from None
    try:
        record = json.loads(text)
    except json.JSONDecodeError as error:
        raise RecordRejected(f"is not valid JSON ({error.msg} at line {error.lineno}, column {error.colno})") \
            from None
    except RecursionError:
        raise RecordRejected("is not valid JSON (nested too deeply)") from None
    return admit(collection, record, file_id)

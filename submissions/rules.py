"""Pure rule checks for a submission form; every failed rule yields its own message for the participant.

The limits come from the challenge definition (``leaderboard/challenges/*.yaml``); nothing here is
specific to one challenge.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Iterable

from huggingface_hub.utils import HFValidationError, validate_repo_id

from leaderboard.challenges import Challenge
from submissions.store import Record

TEAM_MAX = 64
DESCRIPTION_MAX = 2000
URL_MAX = 300
_REVISION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,99}$")
_EMAIL = re.compile(r"^[^@\s<>]{1,64}@[^@\s<>]{1,190}\.[A-Za-z]{2,}$")
_URL = re.compile(r"^https?://[^\s<>\"']+$")


@dataclass(frozen=True)
class SubmissionForm:
    challenge_id: str
    repo_id: str
    revision: str = "main"
    team: str = ""
    code_url: str = ""
    comm_gb: str = ""  # numbers arrive as typed; check_form says when one is not a number
    base_model: str = ""
    contact_email: str = ""
    description: str = ""
    num_clients: str = ""
    num_rounds: str = ""


def parse_number(text: str | float | None) -> float | None:
    """'2.9', '2,9' or 2.9 -> 2.9; '' or None -> None; anything else raises ValueError."""
    if text is None or isinstance(text, (int, float)):
        return None if text is None else float(text)
    text = text.strip().replace(",", ".")
    if not text:
        return None
    value = float(text)
    if value != value or value in (float("inf"), float("-inf")):
        raise ValueError(text)
    return value


def _number_field(text: str, label: str, reasons: list[str]) -> float | None:
    try:
        return parse_number(text)
    except ValueError:
        reasons.append(f"{label} '{str(text).strip()}' is not a number.")
        return None


def normalize_team(team: str) -> str:
    """The key limits are counted under: case, accents' composition and spacing do not make a new team."""
    return " ".join(unicodedata.normalize("NFKC", team).casefold().split())


def _has_control_chars(text: str) -> bool:
    return any(unicodedata.category(ch) == "Cc" and ch not in "\n\t" for ch in text)


def check_repo_id(repo_id: str, what: str = "Adapter repo ID") -> list[str]:
    repo_id = repo_id.strip()
    if not repo_id:
        return [f"{what} is empty: enter it as owner/name, e.g. my-team/flowertune-adapter."]
    if repo_id.count("/") != 1:
        return [f"{what} '{repo_id}' must have the form owner/name (exactly one '/')."]
    try:
        validate_repo_id(repo_id)
    except HFValidationError:
        return [f"{what} '{repo_id}' is not a valid Hugging Face repo ID: use letters, digits, '-', '_' and "
                "'.', no '--' or '..', at most 96 characters."]
    return []


def check_form(challenge: Challenge, form: SubmissionForm) -> list[str]:
    """Everything that can be checked without the Hub; an empty list means the form is fine."""
    reasons = check_repo_id(form.repo_id)
    limits = challenge.limits
    if not _REVISION.match(form.revision.strip() or "main"):
        reasons.append(f"Revision '{form.revision}' is not a branch, tag or commit name.")
    team = form.team.strip()
    if not team:
        reasons.append("Team name is empty.")
    elif len(team) > TEAM_MAX:
        reasons.append(f"Team name is {len(team)} characters long; at most {TEAM_MAX} are allowed.")
    elif "<" in team or ">" in team or _has_control_chars(team):
        reasons.append("Team name may not contain '<', '>' or control characters (names are shown as plain text).")
    url = form.code_url.strip()
    if limits.code_url_required and not url:
        reasons.append("A link to your code repository is required (e.g. https://github.com/you/project).")
    elif url and (len(url) > URL_MAX or not _URL.match(url)):
        reasons.append("Code repository link must be an http(s):// URL of at most 300 characters.")
    if limits.comm_gb_max is not None:
        comm_gb = _number_field(form.comm_gb, "Communication cost", reasons)
        if comm_gb is None and not str(form.comm_gb).strip():
            reasons.append("Communication cost (GB) is required: take it from your training log.")
        elif comm_gb is not None and comm_gb < 0:
            reasons.append("Communication cost cannot be negative.")
        elif comm_gb is not None and comm_gb > limits.comm_gb_max:
            reasons.append(f"Communication cost {comm_gb:g} GB exceeds the {limits.comm_gb_max:g} GB budget "
                           "of this challenge.")
    if limits.submission_kind == "adapter":
        reasons += check_repo_id(form.base_model, "Base model repo ID") if form.base_model.strip() else [
            "Declare the base model your adapter was trained on (its Hub repo ID, e.g. mistralai/Mistral-7B-v0.3)."]
    if not _EMAIL.match(form.contact_email.strip()):
        reasons.append("Contact e-mail is missing or not an e-mail address (it is kept private).")
    if len(form.description) > DESCRIPTION_MAX:
        reasons.append(f"Method description is {len(form.description)} characters; at most {DESCRIPTION_MAX}.")
    if _has_control_chars(form.description):
        reasons.append("Method description contains control characters.")
    for label, text in (("Number of clients", form.num_clients), ("Number of rounds", form.num_rounds)):
        value = _number_field(text, label, reasons)
        if value is not None and (value != int(value) or not 1 <= value <= 1_000_000):
            reasons.append(f"{label} must be a whole number between 1 and 1,000,000.")
    return reasons


def _parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text)


def recent_requests(requests: Iterable[Record], challenge_id: str, now: datetime, days: int) -> list[Record]:
    since = now - timedelta(days=days)
    return [r for r in requests if r.get("challenge") == challenge_id and _parse_time(r["submitted_at"]) > since]


def check_rate_limit(challenge: Challenge, requests: Iterable[Record], team: str, account: str | None,
                     now: datetime) -> list[str]:
    """At most N submissions per team (and per signed-in account) per challenge in any rolling window."""
    limits = challenge.limits
    recent = recent_requests(requests, challenge.id, now, limits.per_team_days)
    window = "24 hours" if limits.per_team_days == 1 else f"{limits.per_team_days} days"
    reasons = []
    by_team = [r for r in recent if r.get("team_key") == normalize_team(team)]
    if len(by_team) >= limits.per_team_count:
        oldest = min(_parse_time(r["submitted_at"]) for r in by_team)
        reasons.append(
            f"Team '{team.strip()}' already has {len(by_team)} submission(s) to {challenge.title} in the last "
            f"{window} (limit {limits.per_team_count}). The next one is possible after "
            f"{(oldest + timedelta(days=limits.per_team_days)):%Y-%m-%d %H:%M} UTC."
        )
    if account:
        by_account = [r for r in recent if r.get("account") == account]
        if len(by_account) >= limits.per_team_count:
            reasons.append(f"Your account '{account}' already made {len(by_account)} submission(s) to "
                           f"{challenge.title} in the last {window} (limit {limits.per_team_count}).")
    return reasons


def find_duplicate(requests: Iterable[Record], challenge_id: str, repo_id: str, commit: str) -> Record | None:
    """The same adapter commit already submitted to the same challenge (failed attempts do not count)."""
    for record in requests:
        if (record.get("challenge"), record.get("repo_id"), record.get("commit")) == (challenge_id, repo_id, commit) \
                and record.get("state") != "FAILED":
            return record
    return None

"""Pure rule checks for a submission form; every failed rule yields its own message for the participant.

The limits come from the challenge definition (``challenges/*.yaml``); nothing here is
specific to one challenge.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Iterable

from huggingface_hub.utils import HFValidationError, validate_repo_id

from challenges.definitions import Challenge
from store.base import Record
from store.timestamps import parse_utc
from submissions.form_numbers import NumberError, parse_decimal
from submissions.form_text import (
    MAX_STACKED_MARKS,
    clean_name,
    has_stacked_marks,
    mixed_script_words,
    refused_characters,
    shown,
    team_key,
)

TEAM_MAX = 64
DESCRIPTION_MAX = 2000
URL_MAX = 300
EMAIL_MAX = 254
_REVISION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,99}$")
_EMAIL = re.compile(r"^[^@\s<>]{1,64}@[^@\s<>]{1,190}\.[A-Za-z]{2,}$")
# ASCII only (a look-alike host name would pass a Unicode check): scheme, host, optional port and path.
_URL = re.compile(r"^https?://[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?(?::[0-9]{1,5})?"
                  r"(?:[/?#][A-Za-z0-9._~:/?#\[\]@!$&()*+,;=%-]*)?$")


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


def parse_number(text: object, whole: bool = False) -> float | None:
    """A checked form number as stored: '2.9' -> 2.9, '' -> None (NumberError for what check_form refuses)."""
    value = parse_decimal(text, whole)
    return None if value is None else float(value)


def _number_field(text: object, label: str, reasons: list[str], whole: bool = False) -> Decimal | None:
    try:
        return parse_decimal(text, whole)
    except NumberError as problem:
        reasons.append(f"{label} '{shown(str(text))}' {problem}.")
        return None


def normalize_team(team: str) -> str:
    """The key limits are counted under (see form_text.team_key)."""
    return team_key(team)


def _refused_in(label: str, text: str, allow_newlines: bool = False) -> list[str]:
    found = refused_characters(text, allow_newlines)
    if not found:
        return []
    return [f"{label} contains invisible, control or text-direction characters ({', '.join(found[:3])}); "
            "type it without them."]


def check_repo_id(repo_id: str, what: str = "Adapter repo ID") -> list[str]:
    if refused := _refused_in(what, repo_id):
        return refused
    repo_id = repo_id.strip()
    if not repo_id:
        return [f"{what} is empty: enter it as owner/name, e.g. my-team/flowertune-adapter."]
    if repo_id.count("/") != 1:
        return [f"{what} '{shown(repo_id)}' must have the form owner/name (exactly one '/')."]
    try:
        validate_repo_id(repo_id)
    except HFValidationError:
        return [f"{what} '{shown(repo_id)}' is not a valid Hugging Face repo ID: use letters, digits, '-', '_' "
                "and '.', no '--' or '..', at most 96 characters."]
    return []


def check_revision(revision: str) -> list[str]:
    if refused := _refused_in("Revision", revision):
        return refused
    if not _REVISION.match(revision.strip() or "main"):
        return [f"Revision '{shown(revision)}' is not a branch, tag or commit name."]
    return []


def check_team(team: str) -> list[str]:
    """A name shown on the boards: visible characters only, one script per word, no markup."""
    if refused := _refused_in("Team name", team):
        return refused
    name = clean_name(team)
    if not name:
        return ["Team name is empty."]
    if len(name) > TEAM_MAX:
        return [f"Team name is {len(name)} characters long; at most {TEAM_MAX} are allowed."]
    if "<" in name or ">" in name:
        return ["Team name may not contain '<', '>' or control characters (names are shown as plain text)."]
    if mixed := mixed_script_words(name):
        return [f"Team name mixes alphabets in one word ('{shown(mixed[0])}', e.g. a Cyrillic letter among Latin "
                "ones), which makes it look like another name: type each word in one alphabet."]
    if has_stacked_marks(name):
        return [f"Team name stacks more than {MAX_STACKED_MARKS} accents or marks on one letter."]
    return []


def check_code_url(url: str, required: bool) -> list[str]:
    if refused := _refused_in("Code repository link", url):
        return refused
    url = url.strip()
    if required and not url:
        return ["A link to your code repository is required (e.g. https://github.com/you/project)."]
    if url and (len(url) > URL_MAX or not _URL.match(url)):
        return [f"Code repository link must be an http(s):// URL of at most {URL_MAX} characters, in plain ASCII "
                "(percent-encode other characters)."]
    return []


def check_comm_gb(text: str, budget: float) -> list[str]:
    reasons: list[str] = []
    value = _number_field(text, "Communication cost", reasons)
    if reasons:
        return reasons
    if value is None:
        return ["Communication cost (GB) is required: take it from your training log."]
    if value > Decimal(str(budget)):
        return [f"Communication cost {shown(str(text))} GB exceeds the {budget:g} GB budget of this challenge."]
    return []


def check_email(text: str) -> list[str]:
    if refused := _refused_in("Contact e-mail", text):
        return refused
    email = text.strip()
    if len(email) > EMAIL_MAX or not _EMAIL.match(email):
        return ["Contact e-mail is missing or not an e-mail address (it is kept private)."]
    return []


def check_description(text: str) -> list[str]:
    if len(text) > DESCRIPTION_MAX:
        return [f"Method description is {len(text)} characters; at most {DESCRIPTION_MAX}."]
    return _refused_in("Method description", text, allow_newlines=True)


def check_form(challenge: Challenge, form: SubmissionForm) -> list[str]:
    """Everything that can be checked without the Hub; an empty list means the form is fine."""
    reasons = check_repo_id(form.repo_id)
    limits = challenge.limits
    reasons += check_revision(form.revision)
    reasons += check_team(form.team)
    reasons += check_code_url(form.code_url, limits.code_url_required)
    if limits.comm_gb_max is not None:
        reasons += check_comm_gb(form.comm_gb, limits.comm_gb_max)
    if limits.submission_kind == "adapter":
        reasons += check_repo_id(form.base_model, "Base model repo ID") if form.base_model.strip() else [
            "Declare the base model your adapter was trained on (its Hub repo ID, e.g. mistralai/Mistral-7B-v0.3)."]
    reasons += check_email(form.contact_email)
    reasons += check_description(form.description)
    for label, text in (("Clients per round", form.num_clients), ("Number of rounds", form.num_rounds)):
        value = _number_field(text, label, reasons, whole=True)
        if value is not None and not 1 <= value <= 1_000_000:
            reasons.append(f"{label} must be a whole number between 1 and 1000000.")
    return reasons


def counts_against_limit(record: Record) -> bool:
    """Every request counts, except an organiser's re-check of a published row (``rechecks``) and one that
    failed because of the evaluator (not the submission's fault). A FAILED request that names no cause counts,
    as before causes were recorded."""
    if record.get("rechecks"):
        return False
    failure = record.get("failure") if isinstance(record.get("failure"), dict) else {}
    return not (record.get("state") == "FAILED" and failure.get("cause") == "evaluator")


def recent_requests(requests: Iterable[Record], challenge_id: str, now: datetime, days: int) -> list[Record]:
    """Requests to this challenge in the window that count against a limit (an unreadable time is not recent)."""
    since = now - timedelta(days=days)
    return [r for r in requests if r.get("challenge") == challenge_id and counts_against_limit(r)
            and (parse_utc(r.get("submitted_at")) or since) > since]


def _record_team_key(record: Record) -> str | None:
    """Recomputed from the stored name, so requests stored before the current normalisation count alike."""
    return team_key(record["team"]) if isinstance(record.get("team"), str) else record.get("team_key")


def check_rate_limit(challenge: Challenge, requests: Iterable[Record], team: str, account: str | None,
                     now: datetime) -> list[str]:
    """At most N submissions per team (and per signed-in account) per challenge in any rolling window."""
    limits = challenge.limits
    recent = recent_requests(requests, challenge.id, now, limits.per_team_days)
    window = "24 hours" if limits.per_team_days == 1 else f"{limits.per_team_days} days"
    reasons = []
    by_team = [r for r in recent if _record_team_key(r) == team_key(team)]
    if len(by_team) >= limits.per_team_count:
        oldest = min(parse_utc(r["submitted_at"]) for r in by_team)
        reasons.append(
            f"Team '{shown(clean_name(team))}' already has {len(by_team)} submission(s) to {challenge.title} in the "
            f"last {window} (limit {limits.per_team_count}). The next one is possible after "
            f"{(oldest + timedelta(days=limits.per_team_days)):%Y-%m-%d %H:%M} UTC."
        )
    if account:
        by_account = [r for r in recent if r.get("account") == account]
        if len(by_account) >= limits.per_team_count:
            reasons.append(f"Your account '{account}' already made {len(by_account)} submission(s) to "
                           f"{challenge.title} in the last {window} (limit {limits.per_team_count}).")
    return reasons


def find_duplicate(requests: Iterable[Record], challenge_id: str, repo_id: str, commit: str) -> Record | None:
    """The same adapter commit already submitted to the same challenge (failed attempts and organisers'
    re-checks of published rows do not count)."""
    for record in requests:
        if (record.get("challenge"), record.get("repo_id"), record.get("commit")) == (challenge_id, repo_id, commit) \
                and record.get("state") != "FAILED" and not record.get("rechecks"):
            return record
    return None

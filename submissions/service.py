"""Taking a submission: check the form, check the repos on the Hub, then queue it in one store transaction.

The transaction re-reads the stored requests the checks concern (the team's, the account's and the repo's:
:func:`check_scopes`, by index on the SQL store), so the per-team limit and the duplicate check hold across
restarts and replicas without reading every request; the queue position is counted by the store afterwards.

The contact e-mail goes to the private collection, keyed by the request id, and only once the transaction
has queued the request: refused and duplicate submissions leave no e-mail behind. The two writes are not one
transaction (they live in different datasets), so the order decides what a crash between them leaves: a
queued request without its contact (it is still evaluated; the request names the team and, on a Space, the
signed-in account), never a stored e-mail without a request. A private write that fails is logged as an error
and the participant is asked to send their e-mail to the organisers with the request id. The request itself
holds no trace of the e-mail (no hash: an unsalted hash confirms a guessed address).
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timezone

from challenges.definitions import Challenge, challenges
from store.base import Record, Store, StoreError
from store.states import PENDING
from store.timestamps import utc_stamp
from submissions.comm_check import check_comm_cost, comm_warning
from submissions.form_text import clean_name, shown, team_key
from submissions.hub_models import HubCheckError, HubModels
from submissions.rules import (
    SubmissionForm,
    check_form,
    check_rate_limit,
    find_duplicate,
    parse_number,
)

SIGN_IN_REQUIRED = "Sign in with Hugging Face to submit (the button above the form)."
log = logging.getLogger(__name__)


@dataclass
class Outcome:
    status: str  # queued | duplicate | refused | unsaved (the store failed; see reasons)
    reasons: list[str] = field(default_factory=list)
    request: Record | None = None
    position: int | None = None  # 1-based place among PENDING requests
    notes: list[str] = field(default_factory=list)  # for a queued request: what the participant should still do

    @property
    def message(self) -> str:
        if self.status == "queued":
            place = f", position {self.position} in the queue" if self.position else ""
            return " ".join([f"Queued as {self.request['id']}{place}.", *self.notes])
        if self.status == "duplicate":
            return (f"This commit of '{self.request['repo_id']}' was already submitted to this challenge: request "
                    f"{self.request['id']} "
                    f"({self.request['state']}). Nothing new was queued.")
        if self.status == "unsaved":
            return " ".join(self.reasons)
        return "Not accepted:\n" + "\n".join(f"- {reason}" for reason in self.reasons)


def queue_position(requests: list[Record], request_id: str) -> int | None:
    pending = sorted((r for r in requests if r.get("state") == PENDING), key=lambda r: (r["submitted_at"], r["id"]))
    return next((i for i, r in enumerate(pending, start=1) if r["id"] == request_id), None)


def check_scopes(challenge: Challenge, request: Record, check_duplicate: bool) -> list[dict[str, str]]:
    """The stored requests :func:`queue_request` decides on, instead of every request: the team's and the
    account's in this challenge (the rate limits; the team's include ``request`` itself if an earlier commit
    landed) and the same repo's (the duplicate check).

    The team is matched by its stored ``team_key``, which :func:`request_record` writes with the current
    normalisation (a request stored before it counts under the key it was stored with)."""
    scopes = [{"team_key": team_key(request["team"]), "challenge": challenge.id}]
    if request.get("account"):
        scopes.append({"account": request["account"], "challenge": challenge.id})
    if check_duplicate:
        scopes.append({"repo_id": request["repo_id"], "challenge": challenge.id})
    return scopes


def check_on_hub(hub: HubModels, challenge: Challenge, form: SubmissionForm) -> tuple[list[str], dict]:
    """Adapter exists, is public, is a PEFT adapter on the declared base, and the base is small enough. When the
    form gives clients per round and rounds, the adapter's weight bytes are read too (``facts["weights"]``),
    for the communication cost check."""
    facts: dict = {}
    try:
        adapter = hub.resolve(form.repo_id, form.revision)
        facts.update(repo_id=adapter.repo_id, commit=adapter.commit)
        config = hub.adapter_config(adapter)
        adapter_base = hub.base_model(config, adapter.repo_id)
    except HubCheckError as error:
        return error.reasons, facts
    if form.num_clients.strip() and form.num_rounds.strip() and challenge.limits.comm_gb_max is not None:
        facts["weights"] = hub.adapter_weight_bytes(adapter)
    declared = form.base_model.strip()
    reasons = []
    if adapter_base.lower() != declared.lower():
        reasons.append(f"The adapter's base model does not match: adapter_config.json names '{adapter_base}', "
                       f"you declared '{declared}'.")
    try:
        base = hub.resolve(adapter_base, "main", allow_gated=True)
    except HubCheckError as error:
        return reasons + [f"Base model: {r}" for r in error.reasons], facts
    facts.update(base_model=base.repo_id, base_commit=base.commit)
    count = hub.parameter_count(base)
    cap = challenge.limits.base_params_max
    if count.total is None:
        reasons.append(f"The size of base model '{base.repo_id}' cannot be determined ({count.reason}); the cap is "
                       f"{cap / 1e9:g} B parameters.")
    elif count.total > cap:
        reasons.append(f"Base model '{base.repo_id}' has {count.total / 1e9:.2f} B parameters; this challenge allows "
                       f"at most {cap / 1e9:g} B.")
    facts["base_params"] = count.total
    return reasons, facts


def _whole(text: str) -> int | None:
    value = parse_number(text, whole=True)
    return None if value is None else int(value)


def _comm_check(challenge: Challenge, form: SubmissionForm, facts: dict) -> Record | None:
    reported, clients, rounds = parse_number(form.comm_gb), _whole(form.num_clients), _whole(form.num_rounds)
    if facts.get("weights") is None or None in (reported, clients, rounds):
        return None
    return check_comm_cost(reported, facts["weights"], clients, rounds, challenge.checks.comm_tolerance)


def request_record(challenge: Challenge, now: datetime, *, team: str, account: str | None, description: str,
                   **fields) -> Record:
    """A new PENDING request of ``challenge``: its id, the team as stored, the rules version and an empty
    evaluation state, around the kind's own ``fields`` (repo, commits, recipe, ...)."""
    return {
        "id": f"{challenge.id}-{now:%Y%m%d%H%M%S}-{secrets.token_hex(4)}",
        "challenge": challenge.id,
        **fields,
        "team": clean_name(team),
        "team_key": team_key(team),
        "account": account,
        "description": description.strip(),
        "rules_version": challenge.version,
        "submitted_at": utc_stamp(now),
        "state": PENDING,
        "attempts": 0,
        "worker": None,
        "heartbeat_at": None,
        "progress": None,
        "failure": None,
        "result_id": None,
    }


def new_request(challenge: Challenge, form: SubmissionForm, facts: dict, account: str | None, now: datetime) -> Record:
    """``num_clients`` is the number of clients per round (what the communication cost scales with)."""
    return request_record(
        challenge, now, team=form.team, account=account, description=form.description,
        kind=challenge.limits.submission_kind,
        repo_id=facts["repo_id"],
        revision=form.revision.strip() or "main",
        commit=facts["commit"],
        base_model=facts["base_model"],
        base_commit=facts["base_commit"],
        base_params=facts["base_params"],
        code_url=form.code_url.strip(),
        comm_gb=parse_number(form.comm_gb),
        num_clients=_whole(form.num_clients),
        num_rounds=_whole(form.num_rounds),
        comm_check=_comm_check(challenge, form, facts),
    )


def submit(store: Store, hub: HubModels, form: SubmissionForm, account: str | None = None,
           now: datetime | None = None, require_account: bool = False) -> Outcome:
    """``require_account``: on a Space (OAuth present) only a signed-in participant may submit."""
    if require_account and not account:
        return Outcome("refused", [SIGN_IN_REQUIRED])
    challenge = challenges().get(form.challenge_id) if isinstance(form.challenge_id, str) else None
    if challenge is None:
        return Outcome("refused", [f"Unknown challenge '{shown(str(form.challenge_id))}'."])
    if challenge.limits.submission_kind != "adapter":  # the form and the Hub checks are for PEFT adapters
        return Outcome("refused", [f"{challenge.title} does not take submissions through this form."])
    now = now or datetime.now(timezone.utc)
    reasons = check_form(challenge, form)
    if reasons:  # no Hub round trips for a form that cannot pass anyway
        return Outcome("refused", reasons)
    hub_reasons, facts = check_on_hub(hub, challenge, form)
    if hub_reasons:
        return Outcome("refused", hub_reasons)
    request = new_request(challenge, form, facts, account, now)
    outcome = queue_request(store, challenge, request, form.contact_email, now)
    if outcome.status == "queued" and outcome.request["id"] == request["id"]:
        outcome.notes[:0] = [w for w in (comm_warning(request["comm_check"]),) if w]
    return outcome


def queue_request(store: Store, challenge: Challenge, request: Record, contact_email: str, now: datetime,
                  *, check_duplicate: bool = True) -> Outcome:
    """Store a checked ``request`` in one transaction (unless it duplicates a stored one, by repo and commit,
    or the team / account is over its limit), then its private contact record.

    Args:
        check_duplicate: False for requests without a commit of their own (a merge recipe).
    """

    def decide(found: dict[str, Record]) -> tuple[list[Record], Outcome]:
        existing = list(found.values())
        if request["id"] in found:  # our own earlier commit landed although its answer was an error
            return [], Outcome("queued", request=request)
        duplicate = check_duplicate and find_duplicate(existing, challenge.id, request["repo_id"], request["commit"])
        if duplicate:
            return [], Outcome("duplicate", request=duplicate)
        limited = check_rate_limit(challenge, existing, request["team"], request["account"], now)
        if limited:
            return [], Outcome("refused", limited)
        return [request], Outcome("queued", request=request)

    try:
        outcome = store.transact_where("requests", check_scopes(challenge, request, check_duplicate), decide)
        if outcome.request is not None:
            outcome.position = _queue_place(store, outcome.request["id"])
    except StoreError as error:
        outcome = _after_failed_commit(store, request, error)
    if outcome.status == "queued" and outcome.request["id"] == request["id"]:
        outcome.notes += _save_contact(store, request, contact_email.strip(), request["account"])
    return outcome


def _queue_place(store: Store, request_id: str) -> int | None:
    """The request's place among the PENDING ones, counted by the store (what :func:`queue_position` finds in a
    list), just after its transaction; None if it is not PENDING or the store cannot count now."""
    try:
        return store.position("requests", request_id, ("submitted_at", "id"), state=PENDING)
    except StoreError:
        return None


def _after_failed_commit(store: Store, request: Record, error: StoreError) -> Outcome:
    """The store gave up; say whether the request is stored after all, so the participant knows what to do."""
    log.error("submission %s could not be committed: %s", request["id"], error)
    try:
        landed = store.get("requests", request["id"]) is not None
        current = store.stale_note("requests") is None  # not an answer from the last data read before an outage
    except (StoreError, OSError, ValueError):  # the store is down or the record unreadable
        landed = current = False
    if landed:
        return Outcome("queued", request=request, position=None)
    if error.maybe_written and not current:
        return Outcome("unsaved", [f"The submission could not be saved: {_short(error)}. It may or may not have "
                                   "been queued: look for your team in the Queue tab before trying again."])
    return Outcome("unsaved", [f"The submission could not be saved: {_short(error)}. Nothing was queued; please "
                               "try again in a few minutes."])


def _save_contact(store: Store, request: Record, email: str, account: str | None) -> list[str]:
    """Write the private contact record of a queued request; a note for the participant if that failed."""
    if not store.serves("private"):
        return []
    try:
        store.put("private", {"id": request["id"], "contact_email": email, "account": account})
    except StoreError as error:
        log.error("contact e-mail of queued request %s was NOT saved: %s", request["id"], error)
        return [f"Your contact e-mail could not be saved: please send it to the organisers with your request id "
                f"{request['id']}."]
    return []


def _short(error: Exception, limit: int = 300) -> str:
    text = " ".join(str(error).split())
    return text if len(text) <= limit else text[:limit] + "…"

"""An organiser's re-check of a published (self-reported) row.

The published CSVs carry no adapter ids, so the organiser names the row's public adapter on the Hub (+ revision)
and its base model repo. The re-check is then a normal PENDING request, checked like a submission (public,
pinned to a commit, a PEFT adapter on the declared base, the base within the size cap) and linked to the row
by ``rechecks: <published result id>``. It counts against no team's submission limit and is no duplicate of
the team's own submissions; the worker copies ``rechecks`` to its result, and the board shows that result's
average beside the self-reported one. The published record itself is never changed.

Who is an organiser: see :mod:`uikit.organiser`. Without the organiser secret, re-checks are off. Anyone else
is refused and nothing is written.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from challenges.definitions import challenges
from store.aggregates import find_result
from store.base import Record, Store, StoreError
from store.states import PENDING
from submissions.hub_models import HubModels
from submissions.rules import SubmissionForm, check_repo_id, check_revision
from submissions.service import Outcome, check_on_hub, new_request, queue_position
from uikit.organiser import ORGANISER_TOKEN_ENV, organiser_refusal

RECHECKS_OFF = (f"Re-checks are off on this Space: the operator has not set the {ORGANISER_TOKEN_ENV} secret. "
                "Nothing was queued.")
NOT_ORGANISER = "Only organisers can queue a re-check, and this is not the organiser token. Nothing was queued."


@dataclass(frozen=True)
class RecheckForm:
    published_id: str  # the result id of the published row
    repo_id: str  # the row's public adapter on the Hub
    revision: str = "main"
    base_model: str = ""
    organiser_token: str = ""


def _published_row(store: Store, result_id: str) -> Record | None:
    row = find_result(store, result_id, challenges())
    return row if row is not None and row.get("source") == "published" else None


def queue_recheck(store: Store, hub: HubModels, form: RecheckForm, now: datetime | None = None,
                  environ: Mapping[str, str] = os.environ) -> Outcome:
    """Queue a re-evaluation of a published row, or say why not (an :class:`Outcome` as ``submit`` gives)."""
    refusal = organiser_refusal(form.organiser_token, RECHECKS_OFF, NOT_ORGANISER, environ)
    if refusal:
        return Outcome("refused", [refusal])
    try:
        row = _published_row(store, (form.published_id or "").strip())
    except StoreError as error:
        return Outcome("unsaved", [f"The results cannot be read right now ({error}). Nothing was queued."])
    if row is None:
        return Outcome("refused", [(f"'{form.published_id}' is not a published row: only self-reported rows "
                                    "imported from the published boards can be re-checked.")])
    challenge = challenges().get(row.get("challenge", ""))
    if challenge is None or challenge.limits.submission_kind != "adapter":
        return Outcome("refused", ["This row's challenge takes no PEFT adapters, so it cannot be re-checked here."])
    reasons = check_repo_id(form.repo_id) + check_revision(form.revision)
    reasons += check_repo_id(form.base_model, "Base model repo ID") if form.base_model.strip() else [
        "Give the base model repo the adapter was trained on (e.g. internlm/internlm3-8b-instruct)."]
    if reasons:
        return Outcome("refused", reasons)
    comm_gb = row.get("comm_gb")
    as_submitted = SubmissionForm(challenge_id=challenge.id, repo_id=form.repo_id, revision=form.revision,
                                  team=row.get("team") or "", code_url=row.get("code_url") or "",
                                  comm_gb="" if comm_gb is None else f"{comm_gb:g}", base_model=form.base_model)
    hub_reasons, facts = check_on_hub(hub, challenge, as_submitted)
    if hub_reasons:
        return Outcome("refused", hub_reasons)
    request = {**new_request(challenge, as_submitted, facts, None, now or datetime.now(UTC)),
               "rechecks": row["id"], "description": f"Organiser re-check of the published row {row['id']}."}

    def decide(snapshot: dict[str, Record]) -> tuple[list[Record], Outcome]:
        existing = list(snapshot.values())
        if request["id"] in snapshot:
            return [], _queued(request, existing)
        same = next((r for r in existing if r.get("rechecks") == row["id"] and r.get("commit") == request["commit"]
                     and r.get("state") != "FAILED"), None)
        if same:
            return [], Outcome("duplicate", request=same, position=queue_position(existing, same["id"]))
        return [request], _queued(request, [*existing, request])

    try:
        return store.transact_where("requests", [{"rechecks": row["id"]}, {"state": PENDING}], decide)
    except StoreError as error:
        return Outcome("unsaved", [(f"The re-check could not be saved ({error}). It may or may not have been "
                                    "queued: look in the Queue tab before trying again.")])


def _queued(request: Record, requests: list[Record]) -> Outcome:
    note = (f"It re-checks the published row {request['rechecks']} ({request['team']}) and counts against no "
            "team's submission limit.")
    return Outcome("queued", request=request, position=queue_position(requests, request["id"]), notes=[note])

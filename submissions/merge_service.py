"""Taking a Merging submission (a merged model repo or a merge recipe): the form's checks, the Hub checks,
then the same queueing as every submission (``service.queue_request``: one store transaction, the per-team
limit, the private contact record)."""

from __future__ import annotations

from datetime import UTC, datetime

from challenges.definitions import Challenge, challenges
from merges.recipe import Recipe
from store.base import Record, Store
from submissions.form_text import shown
from submissions.hub_models import HubModels
from submissions.merge_form import (
    MERGE_RECIPE,
    MERGED_MODEL,
    MergeForm,
    check_merge_form,
)
from submissions.merge_hub import (
    MergeFacts,
    check_merged_model,
    check_recipe_components,
)
from submissions.service import SIGN_IN_REQUIRED, Outcome, queue_request, request_record


def takes_merges(challenge_id: object) -> bool:
    """Whether ``challenge_id`` names a challenge whose entries are merges (not adapters)."""
    challenge = challenges().get(challenge_id) if isinstance(challenge_id, str) else None
    return challenge is not None and challenge.limits.submission_kind == "merge"


def recipe_name(recipe: Recipe) -> str:
    """The entry's display name: ``recipe:<method>:<first model>``."""
    first = next(c for c in recipe.components if c.kind == "model")
    return f"recipe:{recipe.method}:{first.repo}"


def new_merge_request(challenge: Challenge, form: MergeForm, recipe: Recipe | None, facts: MergeFacts,
                      account: str | None, now: datetime) -> Record:
    """The request record of the contract (prompts: merged_model / merge_recipe fields, no base model)."""
    kind_fields: Record
    if form.kind == MERGED_MODEL:
        kind_fields = {"repo_id": facts.repo_id, "revision": form.revision.strip() or "main", "commit": facts.commit}
    else:
        kind_fields = {"repo_id": recipe_name(recipe), "revision": None, "commit": None, "recipe": recipe.text,
                       "components": facts.components, "method": recipe.method}
    return request_record(challenge, now, team=form.team, account=account, description=form.description,
                          kind=form.kind, **kind_fields, params_total=facts.params_total)


def submit_merge(store: Store, hub: HubModels, form: MergeForm, account: str | None = None,
                 now: datetime | None = None, require_account: bool = False) -> Outcome:
    """Check and queue a Merging entry; refused with every reason found, and nothing stored, on failure.

    Args:
        require_account: on a Space (OAuth present) only a signed-in participant may submit.
    """
    if require_account and not account:
        return Outcome("refused", [SIGN_IN_REQUIRED])
    challenge = challenges().get(form.challenge_id) if isinstance(form.challenge_id, str) else None
    if challenge is None or challenge.limits.submission_kind != "merge":
        return Outcome("refused", [f"'{shown(str(form.challenge_id))}' is not a challenge that takes merges."])
    reasons, recipe = check_merge_form(form)
    if reasons:  # no Hub round trips for a form that cannot pass anyway
        return Outcome("refused", reasons)
    if form.kind == MERGE_RECIPE:
        reasons, facts = check_recipe_components(hub, challenge, recipe)
    else:
        reasons, facts = check_merged_model(hub, challenge, form.repo_id, form.revision)
    if reasons:
        return Outcome("refused", reasons)
    now = now or datetime.now(UTC)
    request = new_merge_request(challenge, form, recipe, facts, account, now)
    return queue_request(store, challenge, request, form.contact_email, now, check_duplicate=form.kind == MERGED_MODEL)

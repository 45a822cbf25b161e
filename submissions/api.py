"""The submissions' public API: submit (the same service and checks as the Submit tab, sign-in included, but
answering plain data) and read the queue."""

from __future__ import annotations

import gradio as gr

from challenges.definitions import challenges
from store.base import Store, StoreError
from submissions.hub_models import HubModels
from submissions.merge_form import MERGE_RECIPE, MERGED_MODEL, MergeForm
from submissions.merge_service import submit_merge, takes_merges
from submissions.queue_view import queue_requests, queue_rows
from submissions.rules import SubmissionForm
from submissions.service import submit as submit_form
from uikit.api import refused

MAX_PAGE_SIZE = 100


def query_problem(challenge: str, page: int, page_size: int) -> str | None:
    """What is wrong with a queue query, in words, or None."""
    if challenge and challenge not in challenges():
        return f"Unknown challenge '{challenge}': use one of {', '.join(challenges())}, or empty for all."
    if page < 1:
        return f"page must be 1 or more (got {page})."
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        return f"page_size must be between 1 and {MAX_PAGE_SIZE} (got {page_size})."
    return None


def submit_api(store: Store, hub: HubModels, require_sign_in: bool):
    """The ``submit`` endpoint, bound to the app's store and Hub look-ups; ``require_sign_in`` on a Space."""

    def submit(challenge: str, team: str, repo_id: str = "", revision: str = "main", base_model: str = "",
               code_url: str = "", comm_gb: str = "", num_clients: str = "", num_rounds: str = "",
               contact_email: str = "", description: str = "", kind: str = "", recipe: str = "",
               profile: gr.OAuthProfile | None = None) -> dict:
        """Submit an entry, checked as the Submit tab checks it. On a Space the caller must be signed in.

        FlowerTune challenges take a PEFT adapter: repo_id, revision, base_model, code_url, comm_gb (numbers
        are text, as typed: '2.9'). num_clients (clients per round) and num_rounds are optional; given both,
        comm_gb is compared with 2 × adapter size × clients per round × rounds and ``comm_check`` holds the
        figures (a mismatch is a warning in ``notes``, not a refusal).

        The merging challenge takes kind 'merged_model' (repo_id and revision of a merged model repo) or
        'merge_recipe' (recipe: mergekit's YAML, every component pinned as owner/name@<40-hex commit>); an
        empty kind means merge_recipe when a recipe is given. base_model, code_url and the numbers are unused.

        ``status``: queued | duplicate | refused | unsaved; ``reasons`` say why it was refused (a recipe's
        with their line); ``message`` is the Submit tab's answer as plain text."""
        account = profile.username if profile is not None else None
        if takes_merges(challenge):
            form = MergeForm(challenge_id=challenge, kind=kind or (MERGE_RECIPE if recipe.strip() else MERGED_MODEL),
                             team=team, repo_id=repo_id, revision=revision or "main", recipe=recipe,
                             contact_email=contact_email, description=description)
            outcome = submit_merge(store, hub, form, account=account, require_account=require_sign_in)
        else:
            form = SubmissionForm(challenge_id=challenge, team=team, repo_id=repo_id, revision=revision or "main",
                                  base_model=base_model, code_url=code_url, comm_gb=comm_gb, num_clients=num_clients,
                                  num_rounds=num_rounds, contact_email=contact_email, description=description)
            outcome = submit_form(store, hub, form, account=account, require_account=require_sign_in)
        request = outcome.request or {}
        return {"status": outcome.status, "message": outcome.message, "request_id": request.get("id"),
                "position": outcome.position, "reasons": outcome.reasons, "notes": outcome.notes,
                "comm_check": request.get("comm_check")}

    return submit


def queue_api(store: Store):
    """The ``read_queue`` endpoint, bound to the app's store."""

    def read_queue(challenge: str = "", team: str = "", page: int = 1, page_size: int = 50) -> dict:
        """Requests as the Queue tab lists them (running and pending first, newest first), with state and
        position / progress / failure reason. challenge: a challenge id, or empty for all. team: only this
        team's requests (spelling variants of the name match). Every pending and running request is listed, and
        the 500 latest submitted; ``notice`` says when older ones are left out or the queue shown may be out of
        date."""
        problem = query_problem(challenge, page, page_size)
        if problem:
            raise refused(problem)
        try:
            requests, older = queue_requests(store)
        except StoreError as error:
            raise gr.Error(f"The queue cannot be read right now ({error}). Try again in a minute.") from None
        rows = queue_rows(requests, team or "", challenge or "")
        start = (page - 1) * page_size
        notice = " ".join(note for note in (store.stale_note("requests"), older) if note) or None
        return {"total": len(rows), "page": page, "pages": max(1, -(-len(rows) // page_size)),
                "rows": rows[start:start + page_size], "notice": notice}

    return read_queue

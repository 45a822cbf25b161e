"""The Submit and Queue tabs (Gradio). Wiring only: the checks live in rules.py and service.py."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping

import gradio as gr

from challenges.definitions import challenges
from store.base import Store
from submissions.hub_models import HubModels
from submissions.merge_form import MergeForm
from submissions.merge_service import submit_merge, takes_merges
from submissions.merge_ui import layout, merge_fields
from submissions.queue_view import queue_page
from submissions.recheck import RecheckForm, queue_recheck
from submissions.rules import SubmissionForm
from submissions.samples import local_sample_catalog, samples_markdown
from submissions.service import submit
from uikit.settings import positive_number
from uikit.tables import BOARD_CSS

SUBMIT_HELP = (
    "Submit the **PEFT adapter** your federated fine-tuning produced, as a public Hugging Face Hub repo. "
    "It is checked against the challenge rules at once, pinned to the commit the revision points at now "
    "(later pushes do not change what is evaluated), and queued for evaluation. Your e-mail is kept private. "
    "Give clients per round and rounds to have your communication cost checked against 2 × adapter size × "
    "clients per round × rounds: a mismatch is a warning on the request, not a refusal. For the **LLM Merging "
    "Competition**, choose it as the challenge: the form then asks for a merged model repo or a merge recipe."
)


_MARKDOWN_PUNCTUATION = re.compile(r"([!-/:-@\[-`{-~])")  # every ASCII punctuation character


def literal_markdown(message: str) -> str:
    """A message shown as typed: it quotes what the participant entered, which must not turn into a link,
    emphasis or HTML. Only its '- ' bullet list stays Markdown."""
    lines = []
    for line in message.split("\n"):
        bullet = "- " if line.startswith("- ") else ""
        lines.append(bullet + _MARKDOWN_PUNCTUATION.sub(r"\\\1", line[len(bullet):]))
    return "\n".join(lines)


def _account(profile: gr.OAuthProfile | None) -> str | None:
    return profile.username if profile is not None else None


def submit_handler(store: Store, hub: HubModels, require_sign_in: bool):  # noqa: ANN201 - a Gradio callback
    """The Submit button's function. The sign-in check is made in the service, so this event, even if called
    without the page (it is hidden from the API; clients use ``submissions.api``'s ``submit``), is refused like
    the button is."""

    def on_submit(challenge_id, team, repo_id, revision, base_model, code_url, comm_gb, clients, rounds, email,
                  description, kind="", recipe="", profile: gr.OAuthProfile | None = None):
        if takes_merges(challenge_id):
            merge = MergeForm(challenge_id=challenge_id, kind=kind or "", team=team or "", repo_id=repo_id or "",
                              revision=revision or "main", recipe=recipe or "", contact_email=email or "",
                              description=description or "")
            outcome = submit_merge(store, hub, merge, account=_account(profile), require_account=require_sign_in)
            return literal_markdown(outcome.message)
        form = SubmissionForm(
            challenge_id=challenge_id, repo_id=repo_id or "", revision=revision or "main", team=team or "",
            code_url=code_url or "", comm_gb=comm_gb or "", base_model=base_model or "", contact_email=email or "",
            description=description or "", num_clients=clients or "", num_rounds=rounds or "",
        )
        outcome = submit(store, hub, form, account=_account(profile), require_account=require_sign_in)
        return literal_markdown(outcome.message)

    return on_submit


def recheck_handler(store: Store, hub: HubModels):
    """The Details tab's "Queue re-check" button: the organiser token is checked in the service."""

    def on_recheck(published_id, repo_id, revision, base_model, organiser_token) -> str:
        form = RecheckForm(published_id=published_id or "", repo_id=repo_id or "", revision=revision or "main",
                           base_model=base_model or "", organiser_token=organiser_token or "")
        return literal_markdown(queue_recheck(store, hub, form).message)

    return on_recheck


def submit_tab(store: Store, hub: HubModels, with_login: bool) -> None:
    """``with_login`` (a Space, where OAuth is present): submitting requires signing in, also through the API."""
    choices = [(c.title, c.id) for c in challenges().values() if c.limits.submission_kind in ("adapter", "merge")]
    with gr.Tab("Submit", id="tab-submit", elem_id="tab-submit"):
        gr.Markdown(SUBMIT_HELP)
        catalog = local_sample_catalog(os.environ.get("HF_ENDPOINT"))
        if catalog:
            titles = {c.id: c.title for c in challenges().values()}
            gr.Markdown(samples_markdown(catalog, titles), elem_id="submit-samples")
        if with_login:
            gr.Markdown("**Sign in with Hugging Face to submit**: submissions are counted per account as well as "
                        "per team.")
            gr.LoginButton()
        with gr.Row():
            challenge = gr.Dropdown(choices, value=choices[0][1], label="Challenge", elem_id="submit-challenge")
            team = gr.Textbox(label="Team name", max_length=64, elem_id="submit-team")
        merge = merge_fields()
        with gr.Row():
            repo_id = gr.Textbox(label="Adapter repo ID", placeholder="owner/name", elem_id="submit-repo")
            revision = gr.Textbox(label="Revision", value="main", elem_id="submit-revision")
            base_model = gr.Textbox(label="Base model repo ID", placeholder="mistralai/Mistral-7B-v0.3",
                                    elem_id="submit-base")
        with gr.Row() as flowertune_only:
            code_url = gr.Textbox(label="Code repository URL", placeholder="https://github.com/…", elem_id="submit-code")
            comm_gb = gr.Textbox(label="Communication cost (GB, from your training log)", placeholder="e.g. 2.9",
                                 elem_id="submit-comm")
            clients = gr.Textbox(label="Clients per round (optional)", elem_id="submit-clients")
            rounds = gr.Textbox(label="Number of rounds (optional)", elem_id="submit-rounds")
        with gr.Row():
            email = gr.Textbox(label="Contact e-mail (private)", elem_id="submit-email")
            description = gr.Textbox(label="Method description", lines=2, max_length=2000, elem_id="submit-description")
        send = gr.Button("Submit for evaluation", variant="primary", elem_id="submit-button")
        outcome = gr.Markdown(elem_id="submit-outcome")

    for change in (challenge.change, merge.kind.change):
        change(layout, [challenge, merge.kind], [merge.kind, merge.recipe_box, repo_id, revision, base_model,
                                                 flowertune_only], queue=False)
    send.click(submit_handler(store, hub, require_sign_in=with_login),
               [challenge, team, repo_id, revision, base_model, code_url, comm_gb, clients, rounds, email, description,
                merge.kind, merge.recipe], outcome, concurrency_limit=4, api_name="submit_form")


def queue_tab(store: Store, note: str | None = None) -> None:
    """``note``: shown above the table (e.g. that evaluations run on workers elsewhere)."""
    options = [("All challenges", "")] + [(c.title, c.id) for c in challenges().values()]
    interval = queue_refresh_s()
    with gr.Tab("Queue", id="tab-queue", elem_id="tab-queue"):
        gr.Markdown("Every request and its state, newest first: **PENDING** (with its place in the queue) → "
                    "**RUNNING** (with progress) → **FINISHED** or **FAILED** (with the reason). Refreshes when "
                    f"you open the tab and every {interval:g} seconds while it is shown.")
        if note:
            gr.Markdown(f"ℹ️ {note}", elem_id="queue-evaluator-note")
        with gr.Row():
            team = gr.Textbox(label="Your team", placeholder="show only this team's requests", elem_id="queue-team")
            challenge = gr.Dropdown(options, value="", label="Challenge", elem_id="queue-challenge")
            refresh = gr.Button("↻ Refresh", size="sm", scale=0, elem_id="queue-refresh")
        table = gr.HTML("", css_template=BOARD_CSS, js_on_load=REPORT_SHOWN_JS, elem_id="queue-table")
        timer = gr.Timer(interval, active=False)

    def show(team: str, challenge_id: str) -> str:
        return queue_page(store, team or "", challenge_id or "")

    def on_shown(team: str, challenge_id: str, event: gr.EventData):
        """The table came into view (refresh it, start polling) or went out of it (stop polling)."""
        if (event._data or {}).get("shown"):
            return show(team, challenge_id), gr.Timer(active=True)
        return gr.skip(), gr.Timer(active=False)

    table.select(on_shown, [team, challenge], [table, timer], queue=False, show_progress="hidden")
    for trigger in (team.change, challenge.change, refresh.click, timer.tick):
        trigger(show, [team, challenge], table, queue=False, show_progress="hidden")


def queue_refresh_s(environ: Mapping[str, str] = os.environ) -> float:
    """Seconds between refreshes of a shown Queue tab (``QUEUE_REFRESH_S``, default 10); ValueError naming the
    variable when it is not a positive number."""
    return positive_number(environ, "QUEUE_REFRESH_S", "seconds", default=10.0)


# The Queue tab polls only while a visitor can see it: this reports to the server whenever the table is shown or
# hidden, by a tab switch (the table's size drops to nothing) or by the page going to the background.
REPORT_SHOWN_JS = """
let last = null;
const report = () => {
  const shown = document.visibilityState === 'visible' && element.getClientRects().length > 0;
  if (shown !== last) { last = shown; trigger('select', {shown: shown}); }
};
document.addEventListener('visibilitychange', report);
new ResizeObserver(report).observe(element);
report();
"""

"""The Submit button's function served over HTTP and called with the real client: it enforces sign-in and shows
typed values literally by itself, whoever calls it (the public ``/submit`` endpoint is tested in
tests/test_public_api.py)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import gradio as gr
import pytest
from gradio_client import Client

from store.base import LocalStore
from submissions.hub_models import HubModels, hub_api
from submissions.ui import submit_handler
from tests.browser import free_port
from tests.hub_server import HubServer
from tests.test_submit_service import SMALL_BASE, adapter

FIELDS = ("general_nlp", "API Team", "team/adapter", "main", "org/small-base", "https://github.com/t/fl", "3.5", "",
          "", "lead@team.org", "")


@pytest.fixture
def serve(hub_server: HubServer, tmp_path) -> Iterator:
    hub_server.add_model("org/small-base", {"config.json": json.dumps(SMALL_BASE).encode()})
    hub_server.add_model("team/adapter", adapter("org/small-base"))
    store = LocalStore(tmp_path)
    demos = []

    def start(require_sign_in: bool) -> Client:
        """The handler wired as submit_tab wires it (a session-less caller gets no profile, as without login)."""
        with gr.Blocks() as demo:
            boxes = [gr.Textbox() for _ in FIELDS]
            gr.Button().click(submit_handler(store, HubModels(hub_api(hub_server.url)), require_sign_in), boxes,
                              gr.Markdown(), api_name="submit")
        port = free_port()
        demo.launch(prevent_thread_lock=True, server_port=port, quiet=True)
        demos.append(demo)
        return Client(f"http://127.0.0.1:{port}/", verbose=False)

    yield start, store
    for demo in demos:
        demo.close()


def test_the_api_route_refuses_an_unsigned_submission_on_a_space(serve):
    start, store = serve
    answer = start(require_sign_in=True).predict(*FIELDS, api_name="/submit")
    assert "Sign in with Hugging Face to submit" in answer
    assert store.all("requests") == [] and store.all("private") == []


def test_without_oauth_the_api_route_takes_an_unsigned_submission(serve):
    start, store = serve
    answer = start(require_sign_in=False).predict(*FIELDS, api_name="/submit")
    assert answer.startswith("Queued as ") and len(store.all("requests")) == len(store.all("private")) == 1


def test_values_quoted_in_the_answer_cannot_become_links_or_markup(serve):
    start, store = serve
    fields = list(FIELDS)
    fields[2] = "[verify](https://evil.example/login)<img src=x onerror=alert(1)>"
    answer = start(require_sign_in=False).predict(*fields, api_name="/submit")
    assert answer.startswith("Not accepted\\:\n- Adapter repo ID \\'\\[verify\\]\\(https\\:\\/\\/evil")
    assert re.search(r"(?<!\\)[<>\[\]()]", answer) is None and store.all("requests") == []  # all escaped

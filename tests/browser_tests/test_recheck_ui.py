"""In Debian's chromium: an organiser re-checks a published row from its Details page and the board shows the
verified score beside it; a submission whose communication cost disagrees with its adapter size is queued
with a warning."""

from __future__ import annotations

import json

import pytest

from tests.browser import app_store, chromium, running_app
from tests.hub_server import HubServer
from tests.test_comm_check import one_mib_adapter
from tests.test_submit_service import SMALL_BASE

pytestmark = pytest.mark.timeout(300)
TOKEN = "a-long-organiser-secret"
ROW = "published-general_nlp-zeroone.ai-internlm3-8b-instruct-2026-01-14"  # ZeroOne.AI, self-reported average 69.25


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    with HubServer() as hub:
        hub.add_model("org/small-base", {"config.json": json.dumps(SMALL_BASE).encode()})
        hub.add_model("team/adapter", one_mib_adapter())
        data = tmp_path_factory.mktemp("recheck") / "data"
        env = {"HF_ENDPOINT": hub.url, "ORGANISER_TOKEN": TOKEN}
        with running_app(data, env) as url, chromium() as browser:
            page = browser.new_page(viewport={"width": 1400, "height": 1100})
            yield page, url, app_store(data)


def box(elem_id: str) -> str:
    return f"#{elem_id} input, #{elem_id} textarea"


def open_details(page, url: str, result_id: str, expect: str) -> str:
    page.goto(f"{url}/?details={result_id}")
    page.wait_for_function(f"document.querySelector('#details')?.innerText.includes({json.dumps(expect)})")
    return page.locator("#details").inner_text()


def queue_recheck(page, token: str, expect: str) -> str:
    page.fill(box("recheck-repo"), "team/adapter")
    page.fill(box("recheck-base"), "org/small-base")
    page.fill(box("recheck-token"), token)
    page.click("#recheck-button")
    page.wait_for_function("expect => document.querySelector('#recheck-outcome md, #recheck-outcome .md')"
                           "?.innerText.includes(expect)", arg=expect)
    return page.locator("#recheck-outcome .md").inner_text()


def test_an_organiser_rechecks_a_published_row_and_the_board_shows_both(app):
    page, url, store = app
    assert "This row has not been re-checked yet." in open_details(page, url, ROW, "ZeroOne.AI")
    page.get_by_text("Organisers: re-check this published row").click()
    page.wait_for_selector("#recheck-button", state="visible")

    assert "this is not the organiser token" in queue_recheck(page, "guess", "Not accepted")
    assert store.all("requests") == []
    answer = queue_recheck(page, TOKEN, "Queued as")
    assert answer.startswith("Queued as") and "counts against no team" in answer
    (request,) = store.all("requests")
    assert request["rechecks"] == ROW and request["state"] == "PENDING"

    page.get_by_role("tab", name="Queue").click()
    row = page.locator(f"#queue-table tr[data-id='{request['id']}']")
    row.wait_for()
    assert f"Organiser re-check of the published row {ROW}" in row.locator("td[data-col=notes]").inner_text()

    # the worker scored it (written as evaluator/worker.py writes a re-check's result)
    store.put("results", {"id": f"result-{request['id']}", "request_id": request["id"], "challenge": "general_nlp",
                          "source": "evaluated", "rechecks": ROW, "team": "ZeroOne.AI", "average": 64.25,
                          "scores": {"stem": 60.0, "social_sciences": 70.0, "humanities": 62.75},
                          "date": "2026-03-11", "provenance": {}})
    store.put("requests", {**request, "state": "FINISHED", "result_id": f"result-{request['id']}"})
    page.goto(url)
    page.wait_for_selector("#general_nlp-table table")
    page.click("#general_nlp-refresh")
    board_row = page.locator(f"#general_nlp-table tr[data-id='{ROW}']")
    page.wait_for_function(f"document.querySelector(\"#general_nlp-table tr[data-id='{ROW}'] "
                           "td[data-col=verified]\")?.innerText === '64.25'")
    assert board_row.locator("td[data-col=average]").inner_text() == "69.25"  # as published
    assert board_row.locator("td[data-col=delta]").inner_text() == "⚠ −5.00"
    assert board_row.locator("td[data-col=delta] .recheck-flag").count() == 1
    assert page.locator(f"#general_nlp-table tr[data-id='result-{request['id']}']").count() == 0

    details = open_details(page, url, ROW, "Verified (re-evaluated by this Space)")
    assert "69.25" in details and "64.25" in details and "differs by more than 2 points" in details
    recheck_details = open_details(page, url, f"result-{request['id']}", "Self-reported (published)")
    assert "−5.00" in recheck_details and not page.locator("#recheck-button").is_visible()


def test_a_comm_cost_that_disagrees_with_the_adapter_is_queued_with_a_warning(app):
    page, url, store = app
    page.goto(url)
    page.get_by_role("tab", name="Submit").click()
    page.wait_for_selector("#submit-button", state="visible")
    for name, value in {"team": "Comm Team", "repo": "team/adapter", "base": "org/small-base",
                        "code": "https://github.com/t/fl", "comm": "3.5", "clients": "5", "rounds": "100",
                        "email": "lead@team.org"}.items():
        page.fill(box(f"submit-{name}"), value)
    page.click("#submit-button")
    page.wait_for_function("document.querySelector('#submit-outcome').innerText.includes('Queued as')")
    outcome = page.locator("#submit-outcome").inner_text()
    assert "Warning: the reported communication cost (3.5 GB) differs from 2 × 1 MB adapter" in outcome
    assert "× 5 clients per round × 100 rounds = 1 GB" in outcome
    (request,) = [r for r in store.all("requests") if r["team"] == "Comm Team"]
    page.get_by_role("tab", name="Queue").click()
    notes = page.locator(f"#queue-table tr[data-id='{request['id']}'] td[data-col=notes]")
    notes.wait_for()
    assert notes.inner_text() == request["comm_check"]["warning"]

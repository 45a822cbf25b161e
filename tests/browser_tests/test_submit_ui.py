"""Submit a valid adapter (served by the local Hub) and an invalid one; see the queue and the reasons."""

import json
import time

import pytest

from challenges.definitions import challenges
from tests.browser import app_store, chromium, running_app
from tests.hub_fixtures import add_store_datasets
from tests.hub_server import HubServer
from tests.test_submit_service import SMALL_BASE, adapter

pytestmark = pytest.mark.timeout(300)


HUB_STORE_ENV = {"REQUESTS_DATASET": "org/requests", "RESULTS_DATASET": "org/results",
                 "PRIVATE_DATASET": "org/private", "HF_TOKEN": HubServer.token,
                 "PUBLISH_EVERY_S": "1"}  # the outbox reaches the datasets within a second


@pytest.fixture(scope="module", params=["local store", "hub store"])
def page(request, tmp_path_factory):
    """The app as run locally, and as deployed on a Space with a token and dataset repo IDs."""
    with HubServer() as hub:
        hub.add_model("org/small-base", {"config.json": json.dumps(SMALL_BASE).encode()})
        hub.add_model("team/adapter", adapter("org/small-base"))
        add_store_datasets(hub, "org/requests", "org/results", "org/private")
        env = {"HF_ENDPOINT": hub.url, **(HUB_STORE_ENV if request.param == "hub store" else {})}
        data = tmp_path_factory.mktemp("submit") / "data"
        with running_app(data, env) as url, chromium() as browser:
            page = browser.new_page(viewport={"width": 1400, "height": 1100})
            page.goto(url)
            page.get_by_role("tab", name="Submit").click()
            page.wait_for_selector("#submit-button", state="visible")
            page.hub, page.uses_hub, page.data = hub, request.param == "hub store", data
            yield page


def fill(page, **fields):
    for name, value in fields.items():
        page.locator(f"#submit-{name} textarea, #submit-{name} input").first.fill(value)


def test_submit_valid_adapter_then_see_it_queued(page):
    """The Queue tab shows the new request as soon as it is opened (before: only at the next 10 s tick)."""
    page.reload()
    loaded = time.monotonic()
    page.get_by_role("tab", name="Submit").click()
    fill(page, team="Browser Team", repo="team/adapter", base="org/small-base", code="https://github.com/t/fl",
         comm="3.5", email="lead@team.org")
    page.click("#submit-button")
    page.wait_for_function("document.querySelector('#submit-outcome').innerText.includes('Queued as')")
    assert "position 1 in the queue" in page.locator("#submit-outcome").inner_text()
    page.get_by_role("tab", name="Queue").click()
    opened = time.monotonic()
    row = page.locator("#queue-table tr[data-state=PENDING]")
    row.wait_for(timeout=2500)
    assert opened - loaded < 7, "too slow to tell a refresh on opening from the 10 s tick"
    assert row.locator("td[data-col=team]").inner_text() == "Browser Team"
    assert row.locator("td[data-col=status]").inner_text() == "position 1"
    assert row.locator("td[data-col=model]").inner_text().startswith("team/adapter@")
    page.fill("#queue-team textarea, #queue-team input", "someone else")
    page.wait_for_function("document.querySelector('#queue-table').innerText.includes('No requests match')")
    page.fill("#queue-team textarea, #queue-team input", "browser team")
    page.wait_for_selector("#queue-table tr[data-state=PENDING]")
    (stored,) = app_store(page.data).all("requests")  # in the queue database, never a commit of its own
    assert stored["team"] == "Browser Team" and "lead@team.org" not in json.dumps(stored)
    assert not any(p.startswith("requests/") for p in page.hub.files("org/requests", repo_type="dataset"))
    if page.uses_hub:  # the e-mail only in the private dataset, where the app's publishing job commits it
        path, deadline = f"private/{stored['id']}.json", time.monotonic() + 30
        while path not in (private := page.hub.files("org/private", repo_type="dataset")):
            assert time.monotonic() < deadline, "the contact record was not published"
            time.sleep(0.2)
        assert b"lead@team.org" in private[path]
        boards = page.hub.files("org/results-boards", repo_type="dataset")  # the published rows, aggregated
        assert {p for p in boards if p.startswith("boards/")} == {f"boards/{cid}.json" for cid in challenges()}
        assert not any(p.startswith("results/") for p in page.hub.files("org/results", repo_type="dataset"))


def test_invalid_submission_lists_every_reason(page):
    page.get_by_role("tab", name="Submit").click()
    fill(page, team="<b>x</b>", repo="team/adapter", base="org/small-base", code="", comm="250", email="nope")
    page.click("#submit-button")
    page.wait_for_function("document.querySelector('#submit-outcome').innerText.includes('Not accepted')")
    text = page.locator("#submit-outcome").inner_text()
    for reason in ("may not contain '<', '>'", "link to your code repository is required",
                   "exceeds the 200 GB budget", "Contact e-mail is missing"):
        assert reason in text
    assert page.locator("#submit-outcome b").count() == 0
    fill(page, team="Team", code="https://github.com/t/fl", comm="", email="a@b.org")
    page.click("#submit-button")
    page.wait_for_function("document.querySelector('#submit-outcome').innerText.includes('is required: take it')")
    assert "Team name" not in page.locator("#submit-outcome").inner_text()


def test_typed_values_are_shown_literally(page):
    page.get_by_role("tab", name="Submit").click()
    typed = "[verify](https://evil.example/)<i>x</i>"
    fill(page, team="Team", repo=typed, base="org/small-base", code="https://github.com/t/fl", comm="1",
         email="a@b.org")
    page.click("#submit-button")
    page.wait_for_function("document.querySelector('#submit-outcome').innerText.includes('Adapter repo ID')")
    assert f"'{typed}'" in page.locator("#submit-outcome").inner_text()
    assert page.locator("#submit-outcome a, #submit-outcome i").count() == 0

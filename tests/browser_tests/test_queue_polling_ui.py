"""The Queue tab asks the store for the queue only while a visitor can see it, and a Space without a GPU says
that evaluations run on workers elsewhere (in the tab and in its start-up log).

The queue lives in the SQL database (here the tests' real PostgreSQL, which logs every statement with its
parameters), so its reads are counted there."""

import time

import pytest

from tests.browser import chromium, running_app
from tests.hub_fixtures import add_store_datasets
from tests.hub_server import HubServer
from tests.postgres import PostgresServer
from tests.space_oauth import SPACE_OAUTH

pytestmark = pytest.mark.timeout(300)

REFRESH_S = 1.0
WINDOW_S = 4.5


@pytest.fixture(scope="module")
def app(tmp_path_factory, postgres_server):
    """The app as a CPU Space runs it: Hub datasets, a PostgreSQL queue, ``SPACE_ID`` set, ``EVALUATOR_ENABLED``
    left unset."""
    with HubServer() as hub:
        add_store_datasets(hub, "org/requests", "org/results")
        env = {"HF_ENDPOINT": hub.url, "REQUESTS_DATASET": "org/requests", "RESULTS_DATASET": "org/results",
               "DATABASE_URL": postgres_server.new_database(log_statements=True),
               "HF_TOKEN": HubServer.token, "SYSTEM": "spaces", "SPACE_ID": "org/space", **SPACE_OAUTH,
               "EVALUATOR_ENABLED": "", "ARENA_DEMO": "off", "QUEUE_REFRESH_S": str(REFRESH_S)}
        data = tmp_path_factory.mktemp("queue") / "data"
        with running_app(data, env) as url, chromium() as browser:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(url)
            page.wait_for_selector("#general_nlp-table table")
            yield page, postgres_server, data


def reads_during(database: PostgresServer, seconds: float) -> int:
    """How many statements on the requests collection the app ran in ``seconds`` (at least one per refresh)."""
    before = database.parameters_logged("requests")
    time.sleep(seconds)
    return database.parameters_logged("requests") - before


def set_page_visibility(page, state: str) -> None:
    """What the browser does when the visitor switches to another browser tab or window (and back)."""
    page.evaluate("""(state) => {
        Object.defineProperty(document, 'visibilityState', {value: state, configurable: true});
        document.dispatchEvent(new Event('visibilitychange'));
    }""", state)


def test_the_queue_is_read_only_while_its_tab_is_shown(app):
    page, database, _ = app
    assert reads_during(database, WINDOW_S) == 0, "the Queue tab is hidden, yet the queue was read"

    page.get_by_role("tab", name="Queue").click()
    page.wait_for_selector("#queue-table table", state="visible")
    shown = reads_during(database, WINDOW_S)
    assert shown >= 2, f"a shown Queue tab refreshes every {REFRESH_S} s; it read the queue {shown} times"

    page.get_by_role("tab", name="Finance", exact=True).click()
    page.wait_for_selector("#finance-table table", state="visible")
    time.sleep(REFRESH_S)  # a tick already under way may still land
    assert reads_during(database, WINDOW_S) == 0, "the Queue tab was left, yet the queue was still read"

    page.get_by_role("tab", name="Queue").click()
    page.wait_for_selector("#queue-table table", state="visible")
    assert reads_during(database, WINDOW_S) >= 2

    set_page_visibility(page, "hidden")
    time.sleep(REFRESH_S)
    assert reads_during(database, WINDOW_S) == 0, "the page is in the background, yet the queue was still read"
    set_page_visibility(page, "visible")
    assert reads_during(database, WINDOW_S) >= 2


def test_a_space_without_a_gpu_says_evaluations_run_elsewhere(app):
    page, _, data = app
    page.get_by_role("tab", name="Queue").click()
    note = page.locator("#queue-evaluator-note")
    note.wait_for(state="visible")
    assert "python -m evaluator" in note.inner_text() and "PENDING" in note.inner_text()
    log = "".join(path.read_text() for path in data.parent.glob("app-*.log"))
    assert "the evaluator is off in this app" in log and "python -m evaluator" in log

"""In Debian's chromium: before the reveal the merging board, a merged entry's Details and About (and the page's
Gradio config) show no hidden-test score; a wrong organiser token reveals nothing; the organiser's reveal shows
the test columns, the rank by test average, the gaps and the validation-test correlation."""

from __future__ import annotations

import json
import statistics
import urllib.request

import pytest

from leaderboard.hidden_test import HIDDEN_SCORES, REVEALS
from tests.board_records import finish
from tests.browser import app_store, chromium, running_app
from tests.merge_records import HIDDEN, RESULTS, leaks

pytestmark = pytest.mark.timeout(300)
TOKEN = "organiser-secret-for-the-reveal"


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    data = tmp_path_factory.mktemp("reveal") / "data"
    store = app_store(data)
    for record in RESULTS:
        finish(store, record)
    for record in HIDDEN:
        store.put(HIDDEN_SCORES, record)
    with running_app(data, {"ORGANISER_TOKEN": TOKEN}) as url, chromium() as browser:
        page = browser.new_page(viewport={"width": 1500, "height": 1100})
        yield page, url, store


def column(page, key: str) -> list[str]:
    return [c.inner_text() for c in page.query_selector_all(f"#merging-table td[data-col={key}]")]


def open_merging(page, url: str) -> None:
    page.goto(url)
    page.get_by_role("tab", name="LLM Merging Competition", exact=True).click()
    page.wait_for_selector("#merging-table tr[data-id='m-alpha']", state="visible")


def open_about(page) -> str:
    page.locator("#tab-merging").get_by_role("tab", name="About", exact=True).click()
    page.wait_for_selector("#merging-about-text", state="visible")
    return page.locator("#merging-about-text").inner_text()


def reveal(page, token: str, expect: str) -> str:
    page.fill("#merging-reveal-token input", token)
    page.click("#merging-reveal-button")
    page.wait_for_function("expect => document.querySelector('#merging-reveal-outcome')?.innerText.includes(expect)",
                           arg=expect)
    return page.locator("#merging-reveal-outcome").inner_text()


def test_nothing_hidden_shows_before_the_reveal(app):
    page, url, _ = app
    open_merging(page, url)
    assert column(page, "name")[:2] == ["alpha-merge", "beta-merge"]  # by validation, beside the published rows
    assert column(page, "cosmos_qa")[0] == "70.0" and column(page, "xsum")[0] == "50.0"
    assert page.locator("#merging-table th[data-sort=test_average]").count() == 0
    seen = {"board": page.content()}
    about = open_about(page)
    assert "Status: not revealed yet." in about and "0.83 on the public set and 0.41" in about
    seen["about"] = page.content()
    page.goto(f"{url}/?details=m-alpha")
    page.wait_for_function("document.querySelector('#details')?.innerText.includes('Merged weights sha256')")
    details = page.locator("#details").inner_text()
    assert "# <script>alert('recipe')</script> | a pipe" in details and page.locator("#details script").count() == 0
    assert f"org/math-7b\t{'a' * 40}" in details
    seen["details"] = page.content()
    with urllib.request.urlopen(f"{url}/config") as answer:  # every component's initial value
        seen["config"] = answer.read().decode()
    assert {name: leaks(text) for name, text in seen.items() if leaks(text)} == {}


def test_a_wrong_token_reveals_nothing_and_the_organiser_reveals_the_test(app):
    page, url, store = app
    open_merging(page, url)
    page.get_by_text("Organisers: reveal the hidden test").click()
    page.wait_for_selector("#merging-reveal-button", state="visible")
    assert "this is not the organiser token" in reveal(page, "a guess", "Nothing was revealed")
    assert store.all(REVEALS) == [] and leaks(page.content()) == []

    assert "the test scores of 4 entries are now public" in reveal(page, TOKEN, "Revealed the hidden test")
    page.wait_for_selector("#merging-table th[data-sort=test_average]")
    assert column(page, "name")[:4] == ["beta-merge", "alpha-merge", "gamma-merge", "readapt_median"]
    assert column(page, "rank")[:3] == ["1", "2", "3"]
    assert column(page, "test_average")[:4] == ["43.5", "29.3", "15.6", "—"]
    assert column(page, "test_cosmos_qa")[:3] == ["45.7", "31.4", "12.3"]
    assert column(page, "gap")[:4] == ["−6.5", "−30.7", "−24.4", "—"]
    pearson = statistics.correlation([60, 50, 40], [29.29935, 43.4567, 15.5555])
    caption = page.locator("#merging-table .board-caption:not(.board-precision)").inner_text()
    assert caption == ("Hidden test revealed. Validation vs test average over the 3 ranked entries with both: "
                       f"Pearson r = {pearson:.2f}, Spearman ρ = 0.50.")
    assert "Status: revealed on" in open_about(page)
    (record,) = store.all(REVEALS)
    assert json.dumps(record["entries"]["m-alpha"]["scores"]) == '{"test_cosmos_qa": 31.4159, "test_xsum": 27.1828}'

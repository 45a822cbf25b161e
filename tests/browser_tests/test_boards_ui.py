"""The boards as a visitor uses them, in Debian's chromium."""

import re

import pytest

from submissions.store import LocalStore
from tests.board_records import result
from tests.browser import chromium, running_app

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    data = tmp_path_factory.mktemp("store") / "data"
    verified = result("evaluated-fin-1", "<b>Bold</b> Team", 50.5, comm_gb=3.5, date="2026-02-01",
                      challenge="finance", fpb=40.0, fiqa=60.0, tfns=51.5)
    LocalStore(data).put("results", verified)
    with running_app(data) as url, chromium() as browser:
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(url)
        page.wait_for_selector("#general_nlp-table table")
        page.base_url = url
        yield page


def column(page, board, key):
    return [c.inner_text() for c in page.query_selector_all(f"#{board}-table td[data-col={key}]")]


def click_header(page, board, key, arrow):
    page.click(f"#{board}-table th[data-sort={key}]")
    page.wait_for_function(
        f"document.querySelector('#{board}-table th[data-sort={key}]').textContent.includes('{arrow}')")


def open_board(page, board, title):
    page.get_by_role("tab", name=title, exact=True).click()
    page.wait_for_selector(f"#{board}-table table", state="visible")


def test_every_board_shows_its_published_rows(page):
    open_board(page, "general_nlp", "General NLP")
    assert column(page, "general_nlp", "team")[:3] == ["ZeroOne.AI", "Gachon Cognitive Computing Lab", "T-IoI@UNR"]
    assert len(column(page, "general_nlp", "rank")) == 19
    assert column(page, "general_nlp", "comm_gb")[7] == "44.7 GB"
    for board, title, first in [("finance", "Finance", "<b>Bold</b> Team"), ("medical", "Medical", "ZeroOne.AI"),
                                ("code", "Code", "Baseline")]:
        open_board(page, board, title)
        assert column(page, board, "team")[0] == first
    open_board(page, "merging", "LLM Merging Competition")
    assert column(page, "merging", "name")[:2] == ["readapt_median", "lore_route"]
    assert column(page, "merging", "average")[-1] == "37.1"
    headers = [h.inner_text().rstrip(" ▲▼") for h in page.query_selector_all("#merging-table th")]
    assert headers == ["Rank", "Model / Submission", "Validation Performance", "Source"]


def test_sort_by_average_and_comm_costs(page):
    open_board(page, "general_nlp", "General NLP")
    click_header(page, "general_nlp", "average", "▼")
    averages = [float(v) for v in column(page, "general_nlp", "average")]
    assert averages == sorted(averages, reverse=True) and averages[0] == 69.25
    click_header(page, "general_nlp", "average", "▲")
    assert [float(v) for v in column(page, "general_nlp", "average")] == sorted(averages)
    click_header(page, "general_nlp", "comm_gb", "▲")
    costs = [float(v.removesuffix(" GB")) for v in column(page, "general_nlp", "comm_gb")]
    assert costs == sorted(costs) and costs[-1] == 44.7  # numeric: 2.9 before 27.4 before 44.7
    click_header(page, "general_nlp", "rank", "▲")


def test_search_a_team_and_state_survives_tab_switch(page):
    open_board(page, "general_nlp", "General NLP")
    page.fill("#general_nlp-search textarea, #general_nlp-search input", "zjudai")
    page.wait_for_function("document.querySelectorAll('#general_nlp-table td[data-col=team]').length === 6")
    assert set(column(page, "general_nlp", "team")) == {"ZJUDAI"}
    open_board(page, "finance", "Finance")
    open_board(page, "general_nlp", "General NLP")
    assert set(column(page, "general_nlp", "team")) == {"ZJUDAI"}
    page.fill("#general_nlp-search textarea, #general_nlp-search input", "")
    page.wait_for_function("document.querySelectorAll('#general_nlp-table td[data-col=team]').length === 19")


def test_plot_and_about_tabs(page):
    open_board(page, "general_nlp", "General NLP")
    page.click("#general_nlp-plot-tab-button")
    page.wait_for_selector("#general_nlp-plot .js-plotly-plot", timeout=30000)
    assert page.locator("#general_nlp-plot").get_by_text("Pareto front").count() >= 1
    page.click("#general_nlp-about-button")
    about = page.locator("#general_nlp-about")
    about.wait_for(state="visible")
    text = about.inner_text()
    assert "13 B parameters" in text and "200 GB" in text and re.search(r"at most 2 submissions per team", text)


def test_source_filter_and_verified_row_details(page):
    open_board(page, "finance", "Finance")
    assert column(page, "finance", "team") == ["<b>Bold</b> Team", "Baseline"]  # shown as text, not HTML
    assert column(page, "finance", "source") == ["verified", "published"]
    page.locator("#finance-sources").get_by_label("published").uncheck()
    page.wait_for_function("document.querySelectorAll('#finance-table td[data-col=team]').length === 1")
    assert column(page, "finance", "team") == ["<b>Bold</b> Team"]
    link = page.locator("#finance-table td[data-col=source] a").get_attribute("href")
    assert link == "?details=evaluated-fin-1"
    page.locator("#finance-sources").get_by_label("published").check()
    page.wait_for_function("document.querySelectorAll('#finance-table td[data-col=team]').length === 2")
    page.goto(page.base_url + "/" + link)
    page.wait_for_selector("#details h2")
    text = page.locator("#details").inner_text()
    assert "Finance" in text and "FPB" in text and "51.50" in text and "50.50" in text
    page.goto(page.base_url)
    page.wait_for_selector("#general_nlp-table table")


def test_cost_filter_visible_columns_and_csv_download(page):
    open_board(page, "general_nlp", "General NLP")
    page.get_by_text("More filters and columns").locator("visible=true").first.click()
    page.fill("#general_nlp-comm-max input", "0.7")
    page.locator("#general_nlp-comm-max input").press("Enter")
    page.wait_for_function("document.querySelectorAll('#general_nlp-table td[data-col=team]').length === 7")
    assert set(column(page, "general_nlp", "comm_gb")) == {"0.5 GB", "0.7 GB"}
    page.locator("#general_nlp-columns").get_by_label("Date", exact=True).uncheck()
    page.wait_for_function("!document.querySelector('#general_nlp-table th[data-sort=date]')")
    assert column(page, "general_nlp", "date") == []
    with page.expect_download() as download_info:
        page.click("#general_nlp-export")
        page.locator("#general_nlp-csv a").first.click()
    lines = open(download_info.value.path(), encoding="utf-8").read().splitlines()
    assert lines[0].startswith("Rank,Team,Code,Base Model,Comm. Costs (GB),Average (↑),STEM")
    assert "Date" not in lines[0] and len(lines) == 8
    assert lines[1].startswith("3,T-IoI@UNR,,Gemma2-9b-cpt-sahabatai-v1-instruct,0.7,67.78")
    page.locator("#general_nlp-columns").get_by_label("Date", exact=True).check()
    page.fill("#general_nlp-comm-max input", "")
    page.locator("#general_nlp-comm-max input").press("Enter")
    page.wait_for_function("document.querySelectorAll('#general_nlp-table td[data-col=team]').length === 19")

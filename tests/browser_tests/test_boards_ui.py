"""The boards as a visitor uses them, in Debian's chromium."""

import re

import pytest

from arena.votes import make_vote
from tests.board_records import finish, result
from tests.browser import app_store, chromium, running_app

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    data = tmp_path_factory.mktemp("store") / "data"
    verified = result("evaluated-fin-1", "<b>Bold</b> Team", 50.5, comm_gb=3.5, date="2026-02-01",
                      challenge="finance", fpb=40.0, fiqa=60.0, tfns=51.5)
    verified["provenance"] = {"device": "cpu", "dtype": "float32", "duration_s": 78.4,
                              "versions": {"torch": "2.13.0"}, "precision_official": False}
    partial = result("partial-med-1", "Smoke Team", 99.0, date="2026-02-02", challenge="medical", pubmedqa=99.0)
    partial["source"] = "partial"
    partial["provenance"] = {"partial": ["at most 1 questions per dataset (EVALUATOR_LIMIT)"],
                             "dataset_revisions": {"pubmedqa": "5e0c6a1f" * 5}}
    store = app_store(data)
    finish(store, verified)  # evaluated: the result and its FINISHED request
    finish(store, partial)
    for conversation in ("c1", "c2"):  # votes on a board the arena would not open on by itself
        store.put("votes", make_vote(board="medical", conversation_id=conversation, a={"entry": "x", "label": "Xena"},
                                     b={"entry": "y", "label": "Yuri"}, outcome="a", voter="session-1",
                                     conversation=[{"user": "hi", "a": "1", "b": "2"}], anonymous=True))
    with running_app(data) as url, chromium() as browser:
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(url)
        page.wait_for_selector("#general_nlp-table table")
        page.base_url = url
        yield page


def box(elem_id):
    """A text box's field (Gradio renders an input or a textarea)."""
    return f"#{elem_id} input, #{elem_id} textarea"


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
    caption = page.locator('[data-board="general_nlp"] .board-precision').inner_text()
    assert "official precision, 4-bit FP4 (bitsandbytes, float32 compute), float32, one prompt per" in caption
    for board, title, first in [("finance", "Finance", "<b>Bold</b> Team"), ("medical", "Medical", "ZeroOne.AI"),
                                ("code", "Code", "Baseline")]:
        open_board(page, board, title)
        assert column(page, board, "team")[0] == first
    open_board(page, "merging", "LLM Merging Competition")
    assert column(page, "merging", "name")[:2] == ["readapt_median", "lore_route"]
    assert column(page, "merging", "average")[-1] == "37.1"
    headers = [h.inner_text().rstrip(" ▲▼") for h in page.query_selector_all("#merging-table th")]
    assert headers == ["Rank", "Model / Submission", "Validation Performance", "CosmosQA", "XSum", "Date", "Source"]


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
    assert re.search(r"official evaluation script loads them:\s+4-bit FP4 \(bitsandbytes, float32 compute\), "
                     r"float32, one prompt per generate call", text)


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
    assert "Source\tverified" in text  # the board's word for it (was "evaluated")
    provenance = page.locator("#details table").nth(2)
    assert "1 min 18 s" in provenance.inner_text() and "torch 2.13.0" in provenance.inner_text()
    assert "Precision\tfloat32 (not the official precision: float16, no quantization)" in provenance.inner_text()
    raw = page.locator("#details details pre")
    assert not raw.is_visible()  # the stored JSON is folded away
    page.locator("#details details summary").click()
    assert '"duration_s": 78.4' in raw.inner_text()
    page.goto(page.base_url)
    page.wait_for_selector("#general_nlp-table table")


def test_a_partial_row_is_unranked_last_and_its_details_say_why_and_what_data(page):
    open_board(page, "medical", "Medical")
    assert column(page, "medical", "team")[-1] == "Smoke Team"  # its 99.0 would top the board if it counted
    assert column(page, "medical", "source")[-1] == "partial" and column(page, "medical", "rank")[-1] == "—"
    badge = page.locator("#medical-table tr", has_text="Smoke Team").locator("td[data-col=source] span")
    assert "never ranked" in badge.get_attribute("title")
    link = page.locator("#medical-table tr", has_text="Smoke Team").locator("td[data-col=source] a")
    page.goto(page.base_url + "/" + link.get_attribute("href"))
    page.wait_for_selector("#details h2")
    text = page.locator("#details").inner_text()
    assert "Source\tpartial" in text
    assert "Not ranked\ta partial (smoke) run: at most 1 questions per dataset (EVALUATOR_LIMIT)" in text
    assert f"Dataset commits\tPubMedQA {'5e0c6a1f' * 5}" in text
    page.goto(page.base_url)
    page.wait_for_selector("#general_nlp-table table")


def test_cost_filter_visible_columns_and_csv_download(page):
    open_board(page, "general_nlp", "General NLP")
    page.get_by_text("More filters and columns").locator("visible=true").first.click()
    page.fill(box("general_nlp-comm-max"), "0.7")
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
    page.fill(box("general_nlp-comm-max"), "")
    page.wait_for_function("document.querySelectorAll('#general_nlp-table td[data-col=team]').length === 19")


def rows(page, board):
    return page.locator(f"#{board}-table td[data-col=rank]").count()


def open_more_filters(page, board):
    toggle = page.locator(f"#{board}-leaderboard").get_by_text("More filters and columns")
    if not page.locator(f"#{board}-date-from").is_visible():
        toggle.click()
    page.locator(box(f"{board}-date-from")).wait_for(state="visible")


def test_plot_of_a_board_without_communication_costs_says_so(page):
    """Code as shipped has no communication cost: the plot tab showed a red "Error"."""
    open_board(page, "code", "Code")
    page.click("#code-plot-tab-button")
    page.locator("#code-plot").get_by_text("No entry on this board has a communication cost yet").wait_for()
    assert page.locator("#code-plot-tab").get_by_text("Error", exact=True).count() == 0
    page.click("#code-leaderboard-button")


def test_filter_input_that_is_not_understood_is_named_beside_the_box(page):
    """Before: ignored without a word (the warning went to the server log), and min > max kept the old rows
    or showed none depending on the order the boxes were typed in."""
    open_board(page, "general_nlp", "General NLP")
    open_more_filters(page, "general_nlp")
    note = page.locator("#general_nlp-filter-note")
    page.fill(box("general_nlp-date-from"), "garbage")
    note.get_by_text("Date from: 'garbage' is not a date").wait_for()
    assert rows(page, "general_nlp") == 19  # the box filters nothing
    page.fill(box("general_nlp-date-from"), "01.01.26")
    page.wait_for_function("document.querySelectorAll('#general_nlp-table td[data-col=rank]').length === 1")
    assert note.inner_text().strip() == ""
    page.fill(box("general_nlp-date-from"), "")
    for first, second in (("comm-min", "comm-max"), ("comm-max", "comm-min")):  # either order: the same rows
        page.fill(box(f"general_nlp-{first}"), "5" if first == "comm-min" else "3")
        page.fill(box(f"general_nlp-{second}"), "3" if second == "comm-max" else "5")
        note.get_by_text("'from' (5 GB) is larger than 'to' (3 GB)").wait_for()
        page.wait_for_function("document.querySelectorAll('#general_nlp-table td[data-col=rank]').length === 19")
        page.fill(box("general_nlp-comm-min"), "")
        page.fill(box("general_nlp-comm-max"), "")
        page.wait_for_function("document.querySelector('#general_nlp-filter-note').innerText.trim() === ''")


def test_empty_cost_boxes_stay_empty_and_zero_is_a_bound(page):
    """Before: the empty boxes showed 0 and 0, and typing 0 in "to" then showed no rows."""
    open_board(page, "general_nlp", "General NLP")
    open_more_filters(page, "general_nlp")
    for name in ("comm-min", "comm-max"):
        field = page.locator(box(f"general_nlp-{name}"))
        assert field.input_value() == "" and field.get_attribute("placeholder") == "any"
    page.fill(box("general_nlp-comm-max"), "0")
    page.wait_for_function("document.querySelector('#general_nlp-table').innerText.includes('No entries match')")
    page.fill(box("general_nlp-comm-max"), "")
    page.wait_for_function("document.querySelectorAll('#general_nlp-table td[data-col=rank]').length === 19")


def test_the_merging_board_shows_only_its_own_controls(page):
    open_board(page, "merging", "LLM Merging Competition")
    assert page.locator("#merging-base, #merging-comm-min, #merging-comm-max").count() == 0
    search = page.locator("#merging-search input, #merging-search textarea").first
    assert search.get_attribute("placeholder") == "e.g. readapt or llama3"
    assert page.locator("#merging-sources").is_visible()
    assert page.locator("#general_nlp-base").count() == 1 and page.locator("#general_nlp-comm-min").count() == 1


def test_compare_and_arena_open_on_the_board_that_has_the_votes(page):
    """After a restart they opened on another board, so the votes looked lost."""
    page.get_by_role("tab", name="Compare", exact=True).click()
    board = page.locator("#compare-board input")
    board.wait_for(state="visible")
    assert board.input_value() == "Medical"
    page.get_by_role("tab", name="Arena", exact=True).click()
    page.locator("#arena-table").get_by_text("Xena").wait_for()
    assert page.locator("#arena-board input").input_value() == "Medical"

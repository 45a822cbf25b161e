"""A result's per-sample outputs in the Details tab, page by page, in Debian's chromium: read by slice from its
Parquet details file (or from the JSON details stored before it)."""

from __future__ import annotations

import pytest

from store.base import LocalStore
from store.details_files import write_details
from tests.board_records import result
from tests.browser import choose, chromium, running_app

pytestmark = pytest.mark.timeout(300)
FPB = [{"prompt": f"Instruction: sentiment? Input: news item {i}. Answer: ", "output": "positive",
        "parsed": "positive", "gold": "positive" if i % 3 else "negative", "correct": bool(i % 3)} for i in range(23)]
TFNS = [{"prompt": f"tweet {i}", "output": "<b>neutral</b>", "parsed": "neutral", "gold": "neutral",
         "correct": True} for i in range(3)]


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    data = tmp_path_factory.mktemp("details") / "data"
    store = LocalStore(data)
    store.put("results", result("fin-1", "Paging Team", 50.0, challenge="finance", fpb=40.0, fiqa=60.0, tfns=50.0))
    write_details(store, "fin-1", 1, "gpu-1", {"fpb": FPB, "tfns": TFNS})
    store.put("results", result("fin-old", "Old Team", 40.0, challenge="finance", fpb=40.0))
    store.put("details", {"id": "fin-old", "samples": {"fiqa": [{"prompt": "an old one", "output": "negative",
                                                                 "parsed": "negative", "gold": "negative",
                                                                 "correct": True}]}})
    store.put("results", result("fin-none", "Bare Team", 30.0, challenge="finance", fpb=30.0))
    with running_app(data) as url, chromium() as browser:
        yield browser.new_page(viewport={"width": 1400, "height": 1100}), url


def samples_text(page, expect: str) -> str:
    page.wait_for_function("expect => document.querySelector('#samples-page')?.innerText.includes(expect)",
                           arg=expect)
    return page.locator("#samples-page").inner_text()


def enabled(page, elem_id: str) -> bool:
    return page.locator(f"#{elem_id}").is_enabled()



def test_the_samples_of_each_column_page_forward_and_back_with_their_totals(app):
    page, url = app
    page.goto(f"{url}/?details=fin-1")
    text = samples_text(page, "samples 1–10 of 23 (page 1 of 3)")
    assert "FPB" in text and "news item 0." in text and "news item 9." in text and "news item 10." not in text
    assert page.locator("#samples-column input").input_value() == "FPB (23 samples)"
    assert not enabled(page, "samples-previous") and enabled(page, "samples-next")

    page.click("#samples-next")
    text = samples_text(page, "samples 11–20 of 23 (page 2 of 3)")
    assert "news item 10." in text and "news item 19." in text and "news item 9." not in text
    page.click("#samples-next")
    text = samples_text(page, "samples 21–23 of 23 (page 3 of 3)")
    assert "news item 22." in text
    page.wait_for_function("!document.querySelector('#samples-next').matches(':enabled')")
    page.click("#samples-previous")
    samples_text(page, "samples 11–20 of 23 (page 2 of 3)")

    choose(page, "samples-column", "TFNS (3 samples)")
    text = samples_text(page, "TFNS: samples 1–3 of 3 (page 1 of 1)")
    assert "<b>neutral</b>" in text  # shown as text, not HTML
    page.wait_for_function("!document.querySelector('#samples-next').matches(':enabled')")
    assert not enabled(page, "samples-previous")


def test_json_details_stored_before_the_parquet_files_still_show(app):
    page, url = app
    page.goto(f"{url}/?details=fin-old")
    text = samples_text(page, "FIQA: samples 1–1 of 1 (page 1 of 1)")
    assert "an old one" in text


def test_a_result_without_details_shows_no_samples_section(app):
    page, url = app
    page.goto(f"{url}/?details=fin-none")
    page.wait_for_function("document.querySelector('#details')?.innerText.includes('Bare Team')")
    assert not page.locator("#samples-page").is_visible() and not page.locator("#samples-column").is_visible()

"""Compare two entries, vote, see the Arena board; anonymous mode hides names until the vote; only anonymous
pairs are rated and a rating is provisional until an entry has enough votes; the tab says before the first
message that conversations are public. The real app, a tiny Llama with two real LoRA adapters as two
verified General NLP results, Debian's chromium."""

import pytest

from tests.board_records import finish
from tests.browser import app_store, choose, chromium, running_app
from tests.tiny_models import build_lora, build_tiny_llama

pytestmark = pytest.mark.timeout(300)
LABEL_1, LABEL_2 = "Alpha Team · alpha/adapter", "Beta Team · beta/adapter"


def result(i: int, team: str, name: str, average: float, base, adapter) -> dict:
    return {"id": f"result-req-{i}", "request_id": f"req-{i}", "challenge": "general_nlp", "source": "evaluated",
            "team": team, "name": name, "average": average, "date": "2026-01-14", "scores": {},
            "model_repo": str(adapter), "model_commit": f"{i}" * 40, "base_model": str(base),
            "base_commit": "b" * 40}


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    root = tmp_path_factory.mktemp("arena-ui")
    base = build_tiny_llama(root / "base")
    store = app_store(root / "data")
    finish(store, result(1, "Alpha Team", "alpha/adapter", 70.0, base, build_lora(base, root / "a", seed=1)))
    finish(store, result(2, "Beta Team", "beta/adapter", 60.0, base,
                                build_lora(base, root / "b", seed=2, scale=2.0)))
    with running_app(root / "data", {"ARENA_DEMO": "off"}) as url, chromium() as browser:
        page = browser.new_page(viewport={"width": 1600, "height": 1200})
        page.goto(url)
        page.wait_for_selector("#general_nlp-table table")
        open_tab(page, "Compare")
        page.get_by_text("Sampling", exact=True).click()
        set_number(page, "#compare-temperature input[type=number]", "0")  # greedy: deterministic answers
        page.store = store
        yield page


def set_number(page, selector, value):
    """Type ``value`` into a slider's number box until it holds: a box typed into while the accordion around it
    is still mounting can be reset to its initial value a moment later."""
    box = page.locator(selector)
    for _ in range(20):
        box.fill(value)
        box.press("Enter")
        page.wait_for_timeout(300)
        if box.input_value() == value:
            page.wait_for_timeout(300)
            if box.input_value() == value:
                return
    raise AssertionError(f"{selector} kept {box.input_value()!r} instead of {value!r}")


def open_tab(page, name):
    page.get_by_role("tab", name=name, exact=True).click()


def pane_text(page, side):
    return page.locator(f"#compare-chat-{side}").inner_text()



def send_and_wait(page, text):
    page.fill("#compare-message textarea", text)
    page.click("#compare-send")
    page.wait_for_function("document.querySelector('#compare-status').innerText.includes('Vote when you are ready')",
                           timeout=60_000)


def test_the_compare_tab_says_conversations_are_public_before_the_first_message(page):
    open_tab(page, "Compare")
    notice = page.locator("#compare-public-notice")
    notice.wait_for(state="visible")
    assert "stored in a public dataset" in notice.inner_text()
    assert "capital" not in pane_text(page, "a")  # nothing has been sent yet
    box, warning = page.locator("#compare-message").bounding_box(), notice.bounding_box()
    assert warning["y"] < box["y"] and box["y"] - (warning["y"] + warning["height"]) < 100  # right above the input


def test_picked_pair_vote_is_kept_but_not_rated(page):
    open_tab(page, "Compare")
    page.wait_for_selector("#compare-send", state="visible")
    assert page.locator("#compare-entry-a input").input_value() == f"#1 · {LABEL_1}"  # defaults: the top two
    assert page.locator("#compare-entry-b input").input_value() == f"#2 · {LABEL_2}"
    choose(page, "compare-entry-a", f"#2 · {LABEL_2}")  # swap sides
    choose(page, "compare-entry-b", f"#1 · {LABEL_1}")
    send_and_wait(page, "What is the capital of France?")
    a, b = pane_text(page, "a"), pane_text(page, "b")
    assert a.count("What is the capital of France?") == 1 and b.count("What is the capital of France?") == 1
    answer_a = a.split("What is the capital of France?")[1].strip()
    answer_b = b.split("What is the capital of France?")[1].strip()
    assert answer_a and answer_b and answer_a != answer_b  # both panes filled, differently
    page.click("#vote-a")
    page.wait_for_function("document.querySelector('#compare-status').innerText.includes('is recorded')")
    assert "not rated" in page.locator("#compare-status").inner_text()
    (vote,) = page.store.all("votes")
    assert vote["a"]["entry"] == "result-req-2" and vote["outcome"] == "a" and vote["board"] == "general_nlp"
    assert vote["anonymous"] is False
    page.click("#vote-b")  # a second click on the same conversation is refused
    page.wait_for_function("document.querySelector('#compare-status').innerText.includes('already voted')")
    assert len(page.store.all("votes")) == 1
    open_tab(page, "Arena")
    page.wait_for_function("document.querySelector('#arena-table').innerText.includes('1 vote on picked pairs')")
    table = page.locator("#arena-table").inner_text()
    assert "No rated votes on this board yet" in table and "0 rated votes" in table


def test_anonymous_pair_is_rated_provisionally_and_sorts(page):
    open_tab(page, "Compare")
    page.locator("#compare-mode label", has_text="Random anonymous pair").click()
    page.wait_for_selector("#compare-entry-a", state="hidden")
    send_and_wait(page, "hello world")
    body = page.locator("#tab-compare").inner_text()
    assert "Model A" in body and "Model B" in body
    assert "Alpha Team" not in body and "Beta Team" not in body
    page.click("#vote-a")
    page.wait_for_function("document.querySelector('#compare-status').innerText.includes('Model A was')")
    status = page.locator("#compare-status").inner_text()
    winner, loser = (LABEL_1, LABEL_2) if status.index(LABEL_1) < status.index(LABEL_2) else (LABEL_2, LABEL_1)
    body = page.locator("#tab-compare").inner_text()
    assert "A: " in body and "B: " in body  # the pane titles name the entries now
    assert len(page.store.all("votes")) == 2 and any(v["anonymous"] for v in page.store.all("votes"))
    open_tab(page, "Arena")
    page.wait_for_function("document.querySelector('#arena-table').innerText.includes('1 rated votes')")
    first = page.locator("#arena-table tbody tr").first
    assert first.locator("td[data-col=label]").inner_text() == winner  # the winner leads
    assert first.locator("td[data-col=votes]").inner_text() == "1"
    # one vote: a rank or interval would mean nothing yet
    assert first.locator("td[data-col=rank]").inner_text() == "provisional"
    assert first.locator("td[data-col=ci]").inner_text() == "—"
    assert "provisional until an entry has 10 rated votes" in page.locator("#arena-table").inner_text()
    page.click("#arena-table th[data-sort=rating]")  # sortable like the boards: rating, best first, then flip
    page.wait_for_function("document.querySelector('#arena-table th[data-sort=rating]').textContent.includes('▼')")
    page.click("#arena-table th[data-sort=rating]")
    page.wait_for_function("document.querySelector('#arena-table th[data-sort=rating]').textContent.includes('▲')")
    assert page.locator("#arena-table tbody tr td[data-col=label]").first.inner_text() == loser
    open_tab(page, "Compare")
    page.click("#compare-clear")  # a new round: names hidden again, panes empty
    page.wait_for_function("!document.querySelector('#tab-compare').innerText.includes('Alpha Team')")
    assert "hello world" not in pane_text(page, "a")

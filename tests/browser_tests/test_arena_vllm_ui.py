"""The Compare tab on the vLLM backend (ARENA_BACKEND=vllm): both panes fill with what the server streamed,
and a server that goes down is a message in the status line, not a stack trace. The real app, a small real
server speaking vLLM's protocol (tests/vllm_server.py), Debian's chromium."""

import pytest

from tests.board_records import finish
from tests.browser import app_store, chromium, running_app
from tests.browser_tests.test_arena_ui import open_tab, pane_text, result
from tests.tiny_models import build_lora, build_tiny_llama
from tests.vllm_server import VllmStandIn

pytestmark = pytest.mark.timeout(300)
QUESTION = "What is the capital of France?"


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("arena-vllm-ui")
    base = build_tiny_llama(root / "base")
    adapters = {"a": build_lora(base, root / "a", seed=1), "b": build_lora(base, root / "b", seed=2)}
    store = app_store(root / "data")
    finish(store, result(1, "Alpha Team", "alpha/adapter", 70.0, base, adapters["a"]))
    finish(store, result(2, "Beta Team", "beta/adapter", 60.0, base, adapters["b"]))
    answers = {str(adapters["a"].resolve()): ["Paris ", "is ", "the ", "capital."],
               str(adapters["b"].resolve()): ["It ", "is ", "Lyon."]}
    with VllmStandIn(str(base), answers=answers) as server:
        env = {"ARENA_DEMO": "off", "ARENA_BACKEND": "vllm", "ARENA_VLLM_URL": server.url,
               "ARENA_VLLM_BASE": f"{base}@{'b' * 40}"}
        with running_app(root / "data", env) as url, chromium() as browser:
            page = browser.new_page(viewport={"width": 1600, "height": 1200})
            page.goto(url)
            page.wait_for_selector("#general_nlp-table table")
            open_tab(page, "Compare")
            page.wait_for_selector("#compare-send", state="visible")
            yield page, server


def send(page, text, wait_for):
    page.fill("#compare-message textarea", text)
    page.click("#compare-send")
    page.wait_for_function(f"document.querySelector('#compare-status').innerText.includes({wait_for!r})",
                           timeout=60_000)


def test_both_panes_show_what_the_server_streamed(setup):
    page, server = setup
    send(page, QUESTION, "Vote when you are ready")
    assert pane_text(page, "a").split(QUESTION)[1].strip() == "Paris is the capital."
    assert pane_text(page, "b").split(QUESTION)[1].strip() == "It is Lyon."
    assert server.max_in_flight == 2 and len(server.load_calls) == 2


def test_a_server_that_went_down_is_a_message(setup):
    page, server = setup
    page.click("#compare-clear")
    server.__exit__(None, None, None)
    send(page, QUESTION, "not reachable")
    status = page.locator("#compare-status").inner_text()
    assert f"The generation server ({server.url}) is not reachable, so nothing was answered." in status
    assert "Traceback" not in page.content() and "Paris" not in pane_text(page, "a")

"""The Compare tab of a machine too small for a board's base says so instead of loading it: the real app with
``ARENA_MEMORY_GB`` below what the tiny Llama needs in fp32, Debian's chromium."""

import pytest

from arena.memory import HEADROOM, local_parameter_count
from tests.board_records import finish
from tests.browser import app_store, chromium, running_app
from tests.browser_tests.test_arena_ui import open_tab, result
from tests.tiny_models import build_lora, build_tiny_llama

pytestmark = pytest.mark.timeout(300)


def test_a_board_whose_base_does_not_fit_is_not_offered_and_says_why(tmp_path):
    base = build_tiny_llama(tmp_path / "base")
    store = app_store(tmp_path / "data")
    finish(store, result(1, "Alpha Team", "alpha/adapter", 70.0, base, build_lora(base, tmp_path / "a", seed=1)))
    finish(store, result(2, "Beta Team", "beta/adapter", 60.0, base, build_lora(base, tmp_path / "b", seed=2)))
    need_gb = local_parameter_count(base) * 4 * HEADROOM / 1e9
    budget = f"{need_gb / 2:.2g}"  # written as the tab writes sizes under 0.1 GB
    with running_app(tmp_path / "data", {"ARENA_DEMO": "off", "ARENA_MEMORY_GB": budget}) as url, \
            chromium() as browser:
        page = browser.new_page(viewport={"width": 1600, "height": 1200})
        page.goto(url)
        page.wait_for_selector("#general_nlp-table table")
        open_tab(page, "Compare")
        note = page.locator("#compare-note")
        note.wait_for(state="visible")
        text = note.inner_text()
        assert "This board has 0 entries the arena can serve" in text and "2 more are left out" in text
        assert "needs about" in text and "GB of memory (ARENA_MEMORY_GB)" in text
        assert f"this machine has {budget} GB: it is not served here." in text
        assert page.locator("#compare-entry-a input").input_value() == ""

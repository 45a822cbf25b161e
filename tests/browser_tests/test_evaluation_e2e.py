"""End to end: submit an adapter served by the local Hub -> the scheduler claims it -> lm-eval scores it ->
the result is in the results store -> the row is on the board, marked verified."""

import json
from pathlib import Path

import pytest

from tests.browser import chromium, running_app
from tests.eval_helpers import FIXTURES
from tests.hub_server import HubServer
from tests.tiny_models import build_lora, build_tiny_llama

pytestmark = pytest.mark.timeout(600)


def folder_files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}


def test_submission_is_evaluated_and_lands_on_the_board(tmp_path):
    base = build_tiny_llama(tmp_path / "base")
    lora = build_lora(base, tmp_path / "lora")
    adapter_files = folder_files(lora)
    config = json.loads(adapter_files["adapter_config.json"])
    adapter_files["adapter_config.json"] = json.dumps({**config, "base_model_name_or_path": "org/tiny-base"}).encode()
    with HubServer() as hub:
        hub.add_model("org/tiny-base", folder_files(base))
        hub.add_model("team/tiny-lora", adapter_files)
        env = {"HF_ENDPOINT": hub.url, "HF_HOME": str(tmp_path / "hf-home"), "EVALUATOR_ENABLED": "1",
               "EVALUATOR_INTERVAL_S": "1", "EVALUATOR_DATA_DIR": str(FIXTURES), "EVALUATOR_LIMIT": "1"}
        with running_app(tmp_path / "data", env) as url, chromium() as browser:
            page = browser.new_page(viewport={"width": 1400, "height": 1100})
            page.goto(url)
            page.get_by_role("tab", name="Submit").click()
            for name, value in dict(team="E2E Team", repo="team/tiny-lora", base="org/tiny-base",
                                    code="https://github.com/e2e/fl", comm="0.4", email="e2e@team.org").items():
                page.locator(f"#submit-{name} textarea, #submit-{name} input").first.fill(value)
            page.click("#submit-button")
            page.wait_for_function("document.querySelector('#submit-outcome').innerText.includes('Queued as')")
            page.get_by_role("tab", name="Queue").click()
            for _ in range(120):  # the queue refreshes itself; give the evaluation up to ~4 minutes
                page.click("#queue-refresh")
                page.wait_for_timeout(2000)
                state = page.locator("#queue-table tr[data-id] td[data-col=state]").first.inner_text()
                if state in ("FINISHED", "FAILED"):
                    break
            status = page.locator("#queue-table tr[data-id] td[data-col=status]").first.inner_text()
            assert state == "FINISHED", status
            page.get_by_role("tab", name="General NLP").click()
            page.click("#general_nlp-refresh")
            page.wait_for_function("document.querySelector('#general_nlp-table').innerText.includes('E2E Team')")
            page.fill("#general_nlp-search textarea, #general_nlp-search input", "E2E")
            page.wait_for_function(
                "[...document.querySelectorAll('#general_nlp-table td[data-col=team]')].map(td => td.innerText)"
                ".join() === 'E2E Team'")
            row = page.locator("#general_nlp-table tbody tr").first
            assert row.locator("td[data-col=source]").inner_text() == "partial"  # local data + a limit
            assert row.locator("td[data-col=comm_gb]").inner_text() == "0.4 GB"
            average = float(row.locator("td[data-col=average]").inner_text())
            assert 0.0 <= average <= 100.0
        results = [json.loads(p.read_text()) for p in (tmp_path / "data" / "results").glob("result-*.json")]
        assert len(results) == 1 and results[0]["model_commit"] == hub.head("team/tiny-lora")
        assert results[0]["base_commit"] == hub.head("org/tiny-base")

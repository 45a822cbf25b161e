"""End to end on the merging track, in Chromium: a merge recipe of two tiny Llamas and a merged-model repo, pushed
to the local Hub at pinned commits, are submitted in the Submit tab -> the in-app scheduler merges and scores
them on the local validation fixtures -> both rows are on the merging board with their CosmosQA / XSum scores,
and the recipe's Details show the recipe and the merged weights' sha256 -> once verified, both are offered in
the Compare tab and answer, the recipe entry merged again by the arena from its stored recipe."""

import json

import pytest

from tests.board_records import finish
from tests.browser import app_store, choose, chromium, running_app
from tests.browser_tests.test_arena_ui import open_tab, send_and_wait
from tests.eval_helpers import FIXTURES
from tests.hub_server import HubServer
from tests.merge_hub_repos import OLD, average, folder_files
from tests.tiny_models import build_tiny_llama

pytestmark = pytest.mark.timeout(600)
MERGING = "LLM Merging Competition"


def fill(page, **fields):
    for name, value in fields.items():
        page.locator(f"#submit-{name} textarea, #submit-{name} input").first.fill(value)


def submit(page, kind: str, **fields) -> None:
    page.get_by_role("tab", name="Submit").click()
    choose(page, "submit-challenge", MERGING)
    page.get_by_label(kind, exact=True).check()
    fill(page, **fields)
    page.click("#submit-button")
    page.wait_for_function("document.querySelector('#submit-outcome').innerText.includes('Queued as')")


def wait_until_finished(page) -> None:
    page.get_by_role("tab", name="Queue").click()
    for _ in range(120):
        page.click("#queue-refresh")
        page.wait_for_timeout(2000)
        states = [c.inner_text() for c in page.query_selector_all("#queue-table tr[data-id] td[data-col=state]")]
        if len(states) == 2 and all(s in ("FINISHED", "FAILED") for s in states):
            break
    statuses = [c.inner_text() for c in page.query_selector_all("#queue-table tr[data-id] td[data-col=status]")]
    assert states == ["FINISHED", "FINISHED"], statuses


def test_recipe_and_merged_repo_are_scored_onto_the_board_and_served_in_compare(tmp_path):
    repos = {"org/tiny-llama": 0, "org/tiny-llama-b": 1, "team/merged": 4}
    data, cache = tmp_path / "data", tmp_path / "merge-cache"
    with HubServer() as hub:
        heads = {repo: hub.add_model(repo, folder_files(build_tiny_llama(tmp_path / repo.replace("/", "-"), seed=seed)),
                                     date=OLD) for repo, seed in repos.items()}
        recipe = average(f"org/tiny-llama@{heads['org/tiny-llama']}", f"org/tiny-llama-b@{heads['org/tiny-llama-b']}")
        env = {"HF_ENDPOINT": hub.url, "HF_HOME": str(tmp_path / "hf-home"), "EVALUATOR_ENABLED": "1",
               "EVALUATOR_INTERVAL_S": "1", "EVALUATOR_DATA_DIR": str(FIXTURES), "EVALUATOR_LIMIT": "1",
               "ARENA_MERGE_CACHE": str(cache), "ARENA_DEMO": "off"}
        with running_app(data, env) as url, chromium() as browser:
            page = browser.new_page(viewport={"width": 1500, "height": 1300})
            page.goto(url)
            submit(page, "merge recipe", team="Recipe Team", recipe=recipe, email="r@team.org")
            submit(page, "merged model repo", team="Repo Team", repo="team/merged", email="m@team.org")
            wait_until_finished(page)

            results = {r["team"]: r for r in app_store(data).all("results") if r.get("request_id")}
            page.get_by_role("tab", name=MERGING, exact=True).click()
            page.click("#merging-refresh")
            names = {"Recipe Team": "recipe:linear:org/tiny-llama", "Repo Team": "team/merged"}  # the board's names
            page.wait_for_function(f"{list(names.values())}.every(name => "
                                   "document.querySelector('#merging-table').innerText.includes(name))")
            for team, result in results.items():
                row = page.locator("#merging-table tbody tr", has_text=names[team]).first
                assert row.locator("td[data-col=source]").inner_text() == "partial"  # local data + a limit
                for key in ("cosmos_qa", "xsum"):
                    assert float(row.locator(f"td[data-col={key}]").inner_text()) == pytest.approx(
                        result["scores"][key], abs=0.01)
            row = page.locator("#merging-table tbody tr", has_text=names["Recipe Team"]).first
            page.goto(url + "/" + row.locator("td[data-col=source] a").get_attribute("href"))
            page.wait_for_function("document.querySelector('#details')?.innerText.includes('Merged weights sha256')")
            details = page.locator("#details").inner_text()
            digest = results["Recipe Team"]["merge"]["merged_sha256"]
            assert digest in details and f"org/tiny-llama-b@{heads['org/tiny-llama-b']}" in details

            store = app_store(data)  # as a full evaluation (official data, no limit) would have written them:
            for result in results.values():  # results are written once, so a new request and result each
                finish(store, {**result, "id": f"full-{result['id']}", "request_id": f"full-{result['request_id']}",
                               "source": "evaluated",
                               "provenance": {**result["provenance"], "partial": None, "limit": None}})
            page.goto(url)
            page.get_by_role("tab", name=MERGING, exact=True).click()
            page.click("#merging-refresh")  # the boards (which the arena's entries come from) read them now
            page.wait_for_function("document.querySelector('#merging-table').innerText.includes('verified')")
            open_tab(page, "Compare")
            choose(page, "compare-board", MERGING)
            page.locator("#compare-entry-a input").click()
            options = page.get_by_role("option").all_inner_texts()
            assert {"Recipe Team · recipe:linear:org/tiny-llama", "Repo Team · team/merged"} <= {
                option.split(" · ", 1)[1] for option in options if " · " in option}
            page.locator("#compare-entry-a input").press("Escape")
            send_and_wait(page, "Hello there")
            for side in ("a", "b"):
                messages = page.locator(f"#compare-chat-{side} .message")
                assert messages.count() >= 2 and messages.last.inner_text().strip()
        assert [p.name for p in cache.iterdir()] == [digest]  # the arena redid the merge and kept it
        assert json.loads((data / "results" / f"full-{results['Recipe Team']['id']}.json").read_text())["source"] == \
            "evaluated"

"""The Submit tab's Merging entry in Chromium: the form adapts to the challenge, a starter-kit template fills
the recipe box and is queued (its pinned repos served by the local Hub at the kit's commits), a bad recipe
lists its problems by line, and a merged model repo is taken too."""

import pytest

from merges.templates import TWO_MODEL_AVERAGE
from tests.browser import choose, chromium, running_app
from tests.hub_server import HubServer
from tests.merge_hub_repos import OLD, build_folders, folder_files

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    folders = build_folders(tmp_path_factory.mktemp("tiny"))
    with HubServer() as hub:
        for name, reference in TWO_MODEL_AVERAGE.defaults.items():  # the kit's repos, at the commits it pins
            repo, _, sha = reference.partition("@")
            hub.add_model(repo, folder_files(folders["tiny-a" if name == "first" else "tiny-b"]), date=OLD, sha=sha)
        hub.add_model("team/merged", folder_files(folders["tiny-a"]))
        data = tmp_path_factory.mktemp("merge-submit") / "data"
        with running_app(data, {"HF_ENDPOINT": hub.url}) as url, chromium() as browser:
            page = browser.new_page(viewport={"width": 1400, "height": 1300})
            page.goto(url)
            page.get_by_role("tab", name="Submit").click()
            page.wait_for_selector("#submit-button", state="visible")
            yield page


def fill(page, **fields):
    for name, value in fields.items():
        page.locator(f"#submit-{name} textarea, #submit-{name} input").first.fill(value)


def outcome_with(page, text: str) -> str:
    page.wait_for_function(f"document.querySelector('#submit-outcome').innerText.includes({text!r})")
    return page.locator("#submit-outcome").inner_text()


def test_merging_form_fields_follow_the_challenge(page):
    assert page.locator("#submit-base").is_visible() and not page.locator("#submit-recipe").is_visible()
    choose(page, "submit-challenge", "LLM Merging Competition")
    page.wait_for_selector("#submit-recipe", state="visible")
    assert not page.locator("#submit-base").is_visible() and not page.locator("#submit-comm").is_visible()
    assert not page.locator("#submit-code").is_visible() and not page.locator("#submit-repo").is_visible()
    page.get_by_label("merged model repo", exact=True).check()
    page.wait_for_selector("#submit-recipe", state="hidden")
    assert page.locator("#submit-repo").is_visible() and "Merged model repo ID" in page.locator("#submit-repo").inner_text()
    page.get_by_label("merge recipe", exact=True).check()
    page.wait_for_selector("#submit-recipe", state="visible")


def test_a_template_fills_the_recipe_and_is_queued(page):
    choose(page, "submit-challenge", "LLM Merging Competition")
    page.get_by_label("merge recipe", exact=True).check()
    page.click("#merge-template-two_model_average")
    page.wait_for_function("document.querySelector('#submit-recipe textarea').value.includes('TinyLlama_v1.1_math')")
    assert page.locator("#submit-recipe textarea").input_value() == TWO_MODEL_AVERAGE.render()
    fill(page, team="Browser mergers", email="lead@mergers.org")
    page.click("#submit-button")
    assert "position 1 in the queue" in outcome_with(page, "Queued as")
    page.get_by_role("tab", name="Queue").click()
    row = page.locator("#queue-table tr[data-state=PENDING]")
    row.wait_for(timeout=5000)
    assert row.locator("td[data-col=model]").inner_text() == (
        "merge recipe: recipe:linear:TinyLlama/TinyLlama_v1.1 (2 components)")
    page.get_by_role("tab", name="Submit").click()


def test_an_uploaded_bad_recipe_shows_its_problems_by_line(page, tmp_path):
    choose(page, "submit-challenge", "LLM Merging Competition")
    page.get_by_label("merge recipe", exact=True).check()
    uploaded = tmp_path / "recipe.yaml"
    uploaded.write_text("merge_method: avg\nmodels:\n  - model: TinyLlama/TinyLlama_v1.1@main\n")
    page.locator("#submit-recipe-file input[type=file]").set_input_files(str(uploaded))
    page.wait_for_function("document.querySelector('#submit-recipe textarea').value.startsWith('merge_method: avg')")
    fill(page, team="Other mergers", email="a@b.org")
    page.click("#submit-button")
    text = outcome_with(page, "Not accepted")
    assert "Recipe line 1: unknown merge method 'avg'" in text
    assert "Recipe line 3: 'TinyLlama/TinyLlama_v1.1@main' is not pinned to a commit" in text


def test_a_merged_model_repo_is_queued(page):
    choose(page, "submit-challenge", "LLM Merging Competition")
    page.get_by_label("merged model repo", exact=True).check()
    fill(page, team="Repo mergers", email="a@b.org", repo="team/merged")
    page.click("#submit-button")
    assert "Queued as" in outcome_with(page, "Queued as")

"""Merging submissions through the service and the public ``submit`` endpoint, against the local Hub: a
merge recipe (tiny Llamas and LoRA adapters pushed in the test) or a merged model repo."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import gradio as gr
import pytest
from gradio_client import Client

from challenges.definitions import challenges
from store.base import LocalStore
from submissions.api import submit_api
from submissions.hub_models import HubModels, estimate_parameters, hub_api
from submissions.merge_form import MERGE_RECIPE, MERGED_MODEL, MergeForm
from submissions.merge_service import submit_merge
from submissions.queue_view import queue_rows
from tests.browser import free_port
from tests.hub_server import HubServer
from tests.merge_hub_repos import add_merging_repos, average, build_folders, two_loras

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    return build_folders(tmp_path_factory.mktemp("tiny"))


@pytest.fixture
def heads(hub_server: HubServer, folders) -> dict[str, str]:
    return add_merging_repos(hub_server, folders)


@pytest.fixture
def store(tmp_path) -> LocalStore:
    return LocalStore(tmp_path)


def send(hub: HubServer, store, now: datetime = NOW, team: str = "Mergers", **fields):
    form = MergeForm(challenge_id="merging", team=team, contact_email="lead@mergers.org", **fields)
    return submit_merge(store, HubModels(hub_api(hub.url)), form, now=now)


def recipe(hub, store, text: str, **kw):
    return send(hub, store, kind=MERGE_RECIPE, recipe=text, **kw)


def test_two_lora_recipe_is_queued_with_its_pinned_components(hub_server, heads, store):
    text = two_loras(heads)
    outcome = recipe(hub_server, store, text)
    assert outcome.status == "queued", outcome.reasons
    stored = store.get("requests", outcome.request["id"])
    assert (stored["kind"], stored["challenge"], stored["method"], stored["recipe"]) == (
        "merge_recipe", "merging", "linear", text)
    assert stored["repo_id"] == "recipe:linear:org/tiny-llama" and "base_model" not in stored
    assert stored["components"] == [
        {"repo": "org/tiny-llama", "revision": heads["org/tiny-llama"], "kind": "model"},
        {"repo": "team/lora-a", "revision": heads["team/lora-a"], "kind": "lora"},
        {"repo": "team/lora-b", "revision": heads["team/lora-b"], "kind": "lora"},
    ]
    config = json.loads(hub_server.files("org/tiny-llama")["config.json"])
    assert stored["params_total"] == estimate_parameters(config) > 0
    assert store.get("private", stored["id"])["contact_email"] == "lead@mergers.org"
    assert "lead@mergers.org" not in json.dumps(stored)


def test_recipe_errors_are_listed_with_their_lines_and_nothing_is_stored(hub_server, heads, store):
    text = (f"merge_method: avg\nmodels:\n  - model: org/tiny-llama@{heads['org/tiny-llama']}\n"
            "  - model: org/tiny-llama-b@main\nbogus: 1\n")
    outcome = recipe(hub_server, store, text, team="")
    assert outcome.status == "refused"
    assert outcome.reasons[:3] == [
        ("Recipe line 1: unknown merge method 'avg'. Available: linear, task_arithmetic, ties, dare_ties, dare_linear, "
        "slerp."),
        ("Recipe line 4: 'org/tiny-llama-b@main' is not pinned to a commit: use the full 40-character commit hash, not "
        "a branch, tag or short hash."),
        ("Recipe line 5: unknown key 'bogus'. Recipes accept: merge_method, base_model, models, slices, parameters, "
        "dtype, out_dtype, tokenizer_source."),
    ]
    assert "Team name is empty." in outcome.reasons
    assert store.all("requests") == [] and store.all("private") == []


def test_missing_private_or_unknown_components_are_named(hub_server, heads, store):
    missing = "f" * 40
    text = average(f"org/tiny-llama@{missing}", f"org/hidden-llama@{heads['org/hidden-llama']}")
    text += f"tokenizer_source: org/nowhere@{'e' * 40}\n"
    outcome = recipe(hub_server, store, text)
    assert outcome.status == "refused"
    assert outcome.reasons == [
        f"Revision '{missing}' does not exist in 'org/tiny-llama': give a branch, a tag or a full commit hash.",
        ("Model repo 'org/hidden-llama' was not found on the Hugging Face Hub, or it is private: check the spelling and "
        "make the repo public."),
        ("Model repo 'org/nowhere' was not found on the Hugging Face Hub, or it is private: check the spelling and make "
        "the repo public."),
    ]
    unpinned = recipe(hub_server, store, average("org/tiny-llama", f"org/tiny-llama-b@{heads['org/tiny-llama-b']}"))
    assert unpinned.reasons == [("Recipe line 3: 'org/tiny-llama' is not pinned: write 'org/tiny-llama@<commit>' with "
                                "the full 40-character commit hash.")]
    assert store.all("requests") == []


def with_cut_off(monkeypatch, day: str) -> None:
    merging = challenges()["merging"]
    changed = replace(merging, limits=replace(merging.limits, components_uploaded_before=day))
    monkeypatch.setattr("submissions.merge_service.challenges", lambda: {**challenges(), "merging": changed})


def test_a_component_committed_after_the_cut_off_is_refused(hub_server, heads, store, monkeypatch):
    with_cut_off(monkeypatch, "2025-01-01")
    late = average(f"org/tiny-llama@{heads['org/tiny-llama']}", f"org/late-llama@{heads['org/late-llama']}")
    outcome = recipe(hub_server, store, late)
    assert outcome.reasons == [(f"'org/late-llama@{heads['org/late-llama']}' was committed on 2025-06-01; components "
                               "must be uploaded before 2025-01-01.")]
    early = average(f"org/tiny-llama@{heads['org/tiny-llama']}", f"org/tiny-llama-b@{heads['org/tiny-llama-b']}")
    assert recipe(hub_server, store, early).status == "queued"


def test_size_cap_on_config_only_repos(hub_server, heads, store):
    """Llama-3-8B (8,030,261,248 parameters) fits the 8.1e9 cap; the same with 36 layers (8.90 B) does not."""
    eight = average(f"org/llama3-8b-config@{heads['org/llama3-8b-config']}",
                    f"org/llama3-8b-config-b@{heads['org/llama3-8b-config-b']}")
    accepted = recipe(hub_server, store, eight)
    assert accepted.status == "queued" and accepted.request["params_total"] == 8_030_261_248
    nine = average(f"org/llama-9b-config@{heads['org/llama-9b-config']}",
                   f"org/llama-9b-config-b@{heads['org/llama-9b-config-b']}")
    refused = recipe(hub_server, store, nine, team="Other team")
    assert refused.reasons == ["The merged model has 8.90 B parameters; the limit is 8.1 B."]


def test_incompatible_models_and_adapters_on_another_base_are_refused(hub_server, heads, store):
    mixed = average(f"org/tiny-llama@{heads['org/tiny-llama']}", f"org/llama3-8b-config@{heads['org/llama3-8b-config']}")
    problems = recipe(hub_server, store, mixed).reasons
    assert len(problems) == 1 and problems[0].startswith(
        "'org/llama3-8b-config' cannot be merged with 'org/tiny-llama': hidden_size 4096 vs 64")
    wrong_base = recipe(hub_server, store, two_loras(heads, base="org/tiny-llama-b"))
    assert wrong_base.reasons == [
        f"The adapter '{lora}' is applied to 'org/tiny-llama-b', but its adapter_config.json names 'org/tiny-llama' "
        "as its base model." for lora in ("team/lora-a", "team/lora-b")]


def test_one_evaluation_per_team_per_day(hub_server, heads, store):
    first = recipe(hub_server, store, two_loras(heads))
    assert first.status == "queued"
    again = recipe(hub_server, store, two_loras(heads), now=NOW + timedelta(hours=3), team="  mergers ")
    assert again.status == "refused" and again.reasons == [
        ("Team 'mergers' already has 1 submission(s) to LLM Merging Competition in the last 24 hours (limit 1). The "
        "next one is possible after 2026-03-11 12:00 UTC.")]
    store.put("requests", {**store.get("requests", first.request["id"]), "state": "FAILED",
                           "failure": {"reason": "worker ran out of disk", "cause": "evaluator"}})
    retried = recipe(hub_server, store, two_loras(heads), now=NOW + timedelta(hours=4))
    assert retried.status == "queued"  # an evaluator failure does not count
    assert recipe(hub_server, store, two_loras(heads), now=NOW + timedelta(hours=5)).status == "refused"
    assert recipe(hub_server, store, two_loras(heads), now=NOW + timedelta(days=1, hours=5)).status == "queued"


def test_merged_model_repo_is_queued_pinned_and_sized(hub_server, heads, store):
    outcome = send(hub_server, store, kind=MERGED_MODEL, repo_id="team/merged")
    assert outcome.status == "queued", outcome.reasons
    stored = store.get("requests", outcome.request["id"])
    config = json.loads(hub_server.files("team/merged")["config.json"])
    assert (stored["kind"], stored["repo_id"], stored["revision"], stored["commit"]) == (
        "merged_model", "team/merged", "main", heads["team/merged"])
    assert stored["params_total"] == estimate_parameters(config)  # from the safetensors header: the same count
    assert "recipe" not in stored and "base_model" not in stored
    duplicate = send(hub_server, store, kind=MERGED_MODEL, repo_id="team/merged", team="Another team")
    assert duplicate.status == "duplicate" and duplicate.request["id"] == stored["id"]


def test_merged_model_with_custom_code_or_without_safetensors_is_refused(hub_server, heads, store):
    remote = send(hub_server, store, kind=MERGED_MODEL, repo_id="team/merged-remote-code")
    assert remote.reasons == [("'team/merged-remote-code' relies on custom model code (auto_map in config.json, "
                              "modeling_custom.py); models must load with transformers' own classes (no "
                              "trust_remote_code): remove the code and auto_map.")]
    pickled = send(hub_server, store, kind=MERGED_MODEL, repo_id="team/merged-bin")
    assert pickled.reasons == [(f"'team/merged-bin' has no .safetensors weights at commit {heads['team/merged-bin'][:7]}: "
                               "save the merged model with safe_serialization (pickled .bin files are not loaded).")]
    assert send(hub_server, store, kind="zip").reasons[0] == (
        "Choose what you submit: 'merged_model' (merged model repo), 'merge_recipe' (merge recipe).")
    assert store.all("requests") == []


def test_queue_shows_the_kind_and_name_of_merging_requests(hub_server, heads, store):
    send(hub_server, store, kind=MERGED_MODEL, repo_id="team/merged")
    recipe(hub_server, store, two_loras(heads), team="Recipe team")
    models = {row["team"]: row["model"] for row in queue_rows(store.all("requests"))}
    assert models == {"Mergers": f"merged model: team/merged@{heads['team/merged'][:7]}",
                      "Recipe team": "merge recipe: recipe:linear:org/tiny-llama (3 components)"}


def test_the_submit_endpoint_takes_recipes_and_merged_models(hub_server, heads, store):
    with gr.Blocks() as demo:
        gr.api(submit_api(store, HubModels(hub_api(hub_server.url)), require_sign_in=False), api_name="submit")
    port = free_port()
    demo.launch(prevent_thread_lock=True, server_port=port, quiet=True)
    try:
        client = Client(f"http://127.0.0.1:{port}/", verbose=False)
        queued = client.predict(challenge="merging", team="API mergers", recipe=two_loras(heads),
                                contact_email="a@b.org", api_name="/submit")
        assert queued["status"] == "queued" and queued["message"].startswith(f"Queued as {queued['request_id']}")
        assert store.get("requests", queued["request_id"])["kind"] == "merge_recipe"
        bad = client.predict(challenge="merging", team="API mergers 2", kind="merge_recipe",
                             recipe="merge_method: linear\nmodels: []\nmodels: []\n", contact_email="a@b.org",
                             api_name="/submit")
        assert bad["status"] == "refused" and "Recipe line 3: 'models' is given twice." in bad["reasons"]
        merged = client.predict(challenge="merging", team="API mergers 3", kind="merged_model", repo_id="team/merged",
                                contact_email="a@b.org", api_name="/submit")
        assert merged["status"] == "queued" and store.get("requests", merged["request_id"])["commit"] == \
            heads["team/merged"]
    finally:
        demo.close()

"""The worker on the merging track, end to end on tiny Llamas and LoRA adapters pushed to the local Hub at pinned
commits: a recipe is merged and evaluated, a merged-model repo is evaluated, the time budget stops an overrun,
and the hidden test's scores land in the private store only (the Hub store's private dataset), never in a
public file."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from challenges.definitions import challenges
from evaluator.budget import Budget, BudgetExceeded, merge_budget
from evaluator.failures import EvaluationFailed
from evaluator.merged_models import download
from evaluator.worker import Worker, WorkerConfig, result_id_for
from merges.recipe import parse_recipe
from merges.references import Component
from merges.run import run_recipe
from merges.templates import TEMPLATES
from models.loading import LoadOptions, ModelPool
from store.base import LocalStore
from store.details_files import details_columns, details_info
from store.factory import hub_store_from_env
from store.hub import HubStore
from tests.eval_helpers import FIXTURES, write_jsonl
from tests.hub_server import HubServer
from tests.merge_records import file_text
from tests.tiny_models import build_lora, build_tiny_llama

HIDDEN_MARK = "Zanzibar-hidden-7431"  # in the hidden XSum rows only


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    """A local Hub holding two tiny Llamas, two LoRA adapters on the first, and a submitted merged model."""
    root = tmp_path_factory.mktemp("components")
    base = build_tiny_llama(root / "base", seed=0)
    folders = {"org/base": base, "org/other": build_tiny_llama(root / "other", seed=1),
               "team/lora-a": build_lora(base, root / "lora_a", seed=2),
               "team/lora-b": build_lora(base, root / "lora_b", seed=3),
               "team/merged": build_tiny_llama(root / "merged", seed=4)}
    with HubServer() as server:
        server.folders = folders
        server.pins = {repo: server.add_model(repo, {p.name: p.read_bytes() for p in folder.iterdir()})
                       for repo, folder in folders.items()}
        for repo, folder in folders.items():  # a later commit, which must not be what is read
            config = next(p for p in folder.glob("*config.json") if p.name in ("config.json", "adapter_config.json"))
            server.push(repo, {config.name: json.dumps({**json.loads(config.read_text()), "later": True}).encode(),
                               "README.md": b"a later commit", "modeling_evil.py": b"raise SystemExit",
                               "pytorch_model.bin": b"pickled"})
        yield server


@pytest.fixture(autouse=True)
def hub_endpoint(hub, monkeypatch):
    monkeypatch.setenv("HF_ENDPOINT", hub.url)
    monkeypatch.delenv("MERGING_HIDDEN_TEST", raising=False)


def pinned(hub: HubServer, repo: str) -> str:
    return f"{repo}@{hub.pins[repo]}"


def average_recipe(hub: HubServer) -> str:
    return TEMPLATES["two_model_average"].render(first=pinned(hub, "org/base"), second=pinned(hub, "org/other"))


def recipe_request(rid: str, text: str) -> dict:
    """A merge_recipe request as the submission side writes it (see the merging contract)."""
    recipe = parse_recipe(text)
    components = [{"repo": c.repo, "revision": c.revision, "kind": c.kind} for c in recipe.components]
    return {"id": rid, "challenge": "merging", "kind": "merge_recipe", "recipe": text, "components": components,
            "method": recipe.method, "params_total": 1, "repo_id": f"recipe:{recipe.method}:{components[0]['repo']}",
            "team": "Merge Team", "submitted_at": "2026-03-10T10:00:00+00:00", "state": "PENDING", "attempts": 0,
            "rules_version": "v1"}


def merged_model_request(rid: str, hub: HubServer) -> dict:
    return {"id": rid, "challenge": "merging", "kind": "merged_model", "repo_id": "team/merged", "revision": "main",
            "commit": hub.pins["team/merged"], "params_total": 1, "team": "Merge Team",
            "submitted_at": "2026-03-10T10:00:00+00:00", "state": "PENDING", "attempts": 0, "rules_version": "v1"}


def worker(store, **config) -> Worker:
    pool = ModelPool(options=LoadOptions("cpu", torch.float32, False))
    return Worker(store, pool, WorkerConfig(worker_id="w1", data_dir=FIXTURES, limit=1, heartbeat_s=0.2, **config))


def hidden_folder(root: Path) -> Path:
    """Hidden test files: CosmosQA = the validation rows (so its score must equal validation's), XSum = rows
    marked as hidden (so a leak of its samples is visible)."""
    folder = root / "hidden"
    folder.mkdir()
    shutil.copy(FIXTURES / "cosmos_qa.jsonl", folder / "test_cosmos_qa.jsonl")
    write_jsonl(folder / "test_xsum.jsonl", [{"document": f"{HIDDEN_MARK} The council met on Tuesday.",
                                              "summary": f"{HIDDEN_MARK} council meets", "id": "h0"}])
    return folder


def hub_store(hub: HubServer, owner: str, private: bool) -> HubStore:
    """The Space's store on new datasets of ``owner``: public requests and results (with details), and with
    ``private`` the private dataset, as ``store.factory`` configures them."""
    for name in ("requests", "results", "private"):
        hub.add_dataset(f"{owner}/{name}", private=name == "private")
    repos = {"requests": f"{owner}/requests", "results": f"{owner}/results", "details": f"{owner}/results"}
    if private:
        repos.update({"private": f"{owner}/private", "hidden_scores": f"{owner}/private"})
    return HubStore(repos, token=hub.token, endpoint=hub.url)


def public_text(hub: HubServer, owner: str) -> str:
    """Every file of the public datasets (requests, results, details), as one text (Parquet details as their rows
    and footer, since their bytes are compressed)."""
    return "\n".join(file_text(path, content) for repo in (f"{owner}/requests", f"{owner}/results")
                     for path, content in hub.files(repo, "dataset").items())


def test_a_recipe_is_merged_scored_and_its_hidden_scores_go_only_to_the_private_dataset(hub, tmp_path, monkeypatch):
    monkeypatch.setenv("MERGING_HIDDEN_TEST", str(hidden_folder(tmp_path)))
    store = hub_store(hub, "space", private=True)
    text = average_recipe(hub)
    store.put("requests", recipe_request("avg", text))
    assert worker(store).run_once() == "avg"
    assert store.get("requests", "avg")["state"] == "FINISHED"
    result = store.get("results", result_id_for("avg"))
    assert set(result["scores"]) == {"cosmos_qa", "xsum"} and result["source"] == "partial"
    assert result["average"] == pytest.approx((result["scores"]["cosmos_qa"] + result["scores"]["xsum"]) / 2)
    assert (result["name"], result["model_repo"], result["base_model"]) == ("recipe:linear:org/base", None, None)
    merge = result["merge"]
    assert (merge["kind"], merge["recipe"], merge["method"]) == ("merge_recipe", text, "linear")
    assert merge["components"] == [{"repo": "org/base", "revision": hub.pins["org/base"], "kind": "model"},
                                   {"repo": "org/other", "revision": hub.pins["org/other"], "kind": "model"}]
    snapshots = {c: hub.folders[c.repo] for c in parse_recipe(text).components}  # anyone redoing the merge
    assert merge["merged_sha256"] == run_recipe(parse_recipe(text), snapshots, tmp_path).weights_sha256
    assert result["provenance"]["merge_budget_s"] == 3600  # merging.yaml: gpu_hours_max 1
    (hidden,) = store.all("hidden_scores")
    assert {k: hidden[k] for k in ("id", "challenge", "request_id", "team", "name")} == {
        "id": result["id"], "challenge": "merging", "request_id": "avg", "team": "Merge Team",
        "name": "recipe:linear:org/base"}
    assert set(hidden["scores"]) == {"test_cosmos_qa", "test_xsum"} and hidden["evaluated_at"]
    assert hidden["scores"]["test_cosmos_qa"] == result["scores"]["cosmos_qa"]  # same model, same rows
    assert hidden["average"] == pytest.approx(sum(hidden["scores"].values()) / 2)
    assert "hidden_scores/" in "".join(hub.files("space/private", "dataset"))
    published = public_text(hub, "space")
    assert "result-avg" in published and f"{result['scores']['xsum']!r}" in published  # the grep can find things
    distinctive = [repr(v) for v in (*hidden["scores"].values(), hidden["average"]) if v != round(v, 1)]
    for secret in ("test_cosmos_qa", "test_xsum", "CosmosQA (test)", HIDDEN_MARK, str(tmp_path / "hidden"),
                   *distinctive):
        assert secret not in published


def test_a_lora_recipe_without_a_hidden_test_writes_no_hidden_scores(hub, tmp_path):
    store = LocalStore(tmp_path / "data")
    text = TEMPLATES["two_loras"].render(base=pinned(hub, "org/base"), first_lora=pinned(hub, "team/lora-a"),
                                         second_lora=pinned(hub, "team/lora-b"))
    store.put("requests", recipe_request("loras", text))
    worker(store).run_once()
    result = store.get("results", result_id_for("loras"))
    assert store.get("requests", "loras")["state"] == "FINISHED"
    assert [c["kind"] for c in result["merge"]["components"]] == ["model", "lora", "lora"]
    assert len(result["merge"]["merged_sha256"]) == 64 and result["merge"]["method"] == "linear"
    assert store.all("hidden_scores") == [] and "hidden" not in json.dumps(result).lower()


def test_a_merged_model_repo_is_scored_at_its_pinned_commit(hub, tmp_path):
    store = LocalStore(tmp_path / "data")
    store.put("requests", merged_model_request("repo", hub))
    worker(store).run_once()
    result = store.get("results", result_id_for("repo"))
    assert (result["model_repo"], result["model_commit"]) == ("team/merged", hub.pins["team/merged"])
    assert result["merge"] == {"kind": "merged_model", "recipe": None, "components": [], "merged_sha256": None,
                               "method": None}
    assert set(result["scores"]) == {"cosmos_qa", "xsum"}
    assert details_columns(store, result["id"]) == {"cosmos_qa": 1, "xsum": 1}


def test_an_evaluation_over_the_time_budget_fails_and_writes_nothing(hub, tmp_path, monkeypatch):
    monkeypatch.setenv("MERGING_HIDDEN_TEST", str(hidden_folder(tmp_path)))
    store = LocalStore(tmp_path / "data")
    store.put("requests", recipe_request("slow", average_recipe(hub)))
    worker(store, merge_budget_s=0.001).run_once()
    failed = store.get("requests", "slow")
    assert failed["state"] == "FAILED" and failed["failure"]["cause"] == "submission"
    assert failed["failure"]["reason"].startswith(
        "merge and evaluation took longer than the 0.001 s (EVALUATOR_MERGE_BUDGET_S) budget")
    assert store.all("results") == [] and store.all("hidden_scores") == []
    assert details_info(store, result_id_for("slow")) is None


def test_the_budget_defaults_to_the_challenge_and_its_override_must_be_positive() -> None:
    assert WorkerConfig.from_env({"EVALUATOR_MERGE_BUDGET_S": "90"}).merge_budget_s == 90.0
    assert WorkerConfig.from_env({}).merge_budget_s is None
    with pytest.raises(ValueError, match="EVALUATOR_MERGE_BUDGET_S must be a positive number of seconds"):
        WorkerConfig(merge_budget_s=0)


def test_a_hidden_test_without_a_private_store_fails_before_any_work(hub, tmp_path, monkeypatch):
    monkeypatch.setenv("MERGING_HIDDEN_TEST", str(hidden_folder(tmp_path)))
    store = hub_store(hub, "bare-space", private=False)
    store.put("requests", recipe_request("nowhere", average_recipe(hub)))
    w = worker(store)
    w.run_once()
    failed = store.get("requests", "nowhere")
    assert failed["state"] == "FAILED" and failed["failure"]["cause"] == "evaluator"
    assert "no private store for its scores" in failed["failure"]["reason"]
    assert str(tmp_path) not in json.dumps(failed) and w.pool.loads == {}
    assert store.all("results") == []


def test_a_hidden_test_in_a_private_dataset_is_read_with_the_workers_token(hub, tmp_path, monkeypatch):
    folder = hidden_folder(tmp_path)
    hub.add_dataset("organisers/hidden-test", {p.name: p.read_bytes() for p in folder.iterdir()}, private=True)
    monkeypatch.setenv("MERGING_HIDDEN_TEST", "organisers/hidden-test")
    monkeypatch.setenv("HF_TOKEN", hub.token)
    store = LocalStore(tmp_path / "data")
    store.put("requests", merged_model_request("private-data", hub))
    worker(store).run_once()
    (hidden,) = store.all("hidden_scores")
    result = store.get("results", result_id_for("private-data"))
    assert hidden["scores"]["test_cosmos_qa"] == result["scores"]["cosmos_qa"]
    assert set(hidden["scores"]) == {"test_cosmos_qa", "test_xsum"}


def test_a_hidden_test_that_cannot_be_read_fails_without_naming_its_location(hub, tmp_path, monkeypatch):
    monkeypatch.setenv("MERGING_HIDDEN_TEST", "organisers/not-there")
    store = LocalStore(tmp_path / "data")
    store.put("requests", merged_model_request("unreadable", hub))
    w = worker(store)
    w.run_once()
    failed = store.get("requests", "unreadable")
    assert failed["state"] == "FAILED" and failed["failure"]["cause"] == "evaluator"
    assert failed["failure"]["reason"].startswith("the hidden test data could not be read on this worker")
    assert "not-there" not in json.dumps(failed) and w.pool.loads == {}  # failed before anything was loaded
    assert store.all("results") == [] and store.all("hidden_scores") == []


def test_the_budget_stops_at_the_first_check_past_it() -> None:
    seconds = iter([0.0, 1.0, 3599.0, 3601.0])
    budget = merge_budget(challenges()["merging"])
    budget = Budget(budget.seconds, budget.label, clock=lambda: next(seconds))
    budget.check()
    budget.check()
    with pytest.raises(BudgetExceeded) as exceeded:
        budget.check()
    assert exceeded.value.cause == "submission"
    assert exceeded.value.reason.startswith("merge and evaluation took longer than the 1 h budget (stopped after "
                                            "3601 s)")


def test_the_private_dataset_keeps_the_hidden_scores(hub, tmp_path) -> None:
    env = {"HF_ENDPOINT": hub.url, "HF_TOKEN": hub.token, "REQUESTS_DATASET": "cfg/requests",
           "RESULTS_DATASET": "cfg/results", "HUB_CACHE_DIR": str(tmp_path)}
    assert not hub_store_from_env(env).serves("hidden_scores")
    store = hub_store_from_env({**env, "PRIVATE_DATASET": "cfg/private"})
    assert store.repos["hidden_scores"] == store.repos["private"] == "cfg/private"


def test_only_safetensors_configs_and_tokenizers_are_downloaded_at_the_pinned_commit(hub, tmp_path):
    pinned_folder = download(Component("team/merged", hub.pins["team/merged"], "model"), tmp_path / "pinned")
    assert {p.name for p in pinned_folder.iterdir() if p.is_file()} == {
        p.name for p in hub.folders["team/merged"].iterdir()}
    assert "later" not in json.loads((pinned_folder / "config.json").read_text())
    latest = download(Component("team/merged", hub.head("team/merged"), "model"), tmp_path / "latest")
    assert json.loads((latest / "config.json").read_text())["later"] is True
    assert not {"README.md", "modeling_evil.py", "pytorch_model.bin"} & {p.name for p in latest.iterdir()}
    hub.add_model("team/pickled", {"config.json": b"{}", "pytorch_model.bin": b"pickled"})
    with pytest.raises(EvaluationFailed, match="has no safetensors weights at that commit"):
        download(Component("team/pickled", hub.head("team/pickled"), "model"), tmp_path / "pickled")


def test_a_private_component_is_the_submissions_fault(hub, tmp_path):
    secret = hub.add_model("team/secret", {p.name: p.read_bytes() for p in hub.folders["team/merged"].iterdir()},
                           private=True)
    with pytest.raises(EvaluationFailed, match="it is not public, or has no such commit") as refused:
        download(Component("team/secret", secret, "model"), tmp_path / "secret")
    assert refused.value.cause == "submission"

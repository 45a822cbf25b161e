"""Merged entries, end to end without a browser: a merge recipe and a merged-model repo (tiny Llamas pushed to
the local Hub at pinned commits) are submitted through the submit service, evaluated by the real worker, shown
on the merging board, and served in the Compare tab's service once verified: the recipe entry merged again
from its stored recipe into the arena's merge cache, checked against the recorded digest."""

from __future__ import annotations

import copy
from datetime import UTC, datetime

import pytest
import torch
from huggingface_hub import constants

from arena.limits import Limits
from arena.memory import MemoryCheck
from arena.merge_cache import MergeCache
from arena.service import ArenaService
from evaluator.worker import Worker, WorkerConfig
from leaderboard.api import board_api
from leaderboard.boards import Boards
from merges.run import weights_sha256
from models.loading import LoadOptions, ModelPool
from store.base import LocalStore
from submissions.hub_models import HubModels, hub_api
from submissions.merge_form import MERGE_RECIPE, MERGED_MODEL, MergeForm
from submissions.merge_service import submit_merge
from tests.eval_helpers import FIXTURES
from tests.hub_server import HubServer
from tests.merge_hub_repos import OLD, average, folder_files
from tests.tiny_models import build_tiny_llama

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
CPU = LoadOptions("cpu", torch.float32, False)
QUESTION = "What is the capital of France?"


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory):
    """Both kinds submitted and evaluated on the local Hub: (hub, the store, recipe result, merged-model result).
    The worker reads the local validation fixtures, so its results are partial."""
    root = tmp_path_factory.mktemp("merged-entries")
    repos = {"org/tiny-llama": 0, "org/tiny-llama-b": 1, "team/merged": 4}
    with HubServer() as hub, pytest.MonkeyPatch.context() as env:
        env.setenv("HF_ENDPOINT", hub.url)
        # the arena loads the merged-model repo with transformers, which reads the endpoint fixed at import
        env.setattr(constants, "ENDPOINT", hub.url)
        env.setattr(constants, "HUGGINGFACE_CO_URL_TEMPLATE", hub.url + "/{repo_id}/resolve/{revision}/{filename}")
        env.delenv("MERGING_HIDDEN_TEST", raising=False)
        heads = {repo: hub.add_model(repo, folder_files(build_tiny_llama(root / repo.replace("/", "-"), seed=seed)),
                                     date=OLD) for repo, seed in repos.items()}
        store = LocalStore(root / "data")
        models = HubModels(hub_api(hub.url))
        recipe = average(f"org/tiny-llama@{heads['org/tiny-llama']}", f"org/tiny-llama-b@{heads['org/tiny-llama-b']}")
        forms = [MergeForm("merging", MERGE_RECIPE, team="Recipe Team", recipe=recipe, contact_email="r@team.org"),
                 MergeForm("merging", MERGED_MODEL, team="Repo Team", repo_id="team/merged", contact_email="m@team.org")]
        for form in forms:
            outcome = submit_merge(store, models, form, now=NOW)
            assert outcome.status == "queued", outcome.reasons
        worker = Worker(store, ModelPool(options=CPU), WorkerConfig(worker_id="w1", data_dir=FIXTURES, limit=1))
        assert worker.run_once() and worker.run_once()
        by_team = {r["team"]: r for r in store.all("results")}
        yield hub, store, by_team["Recipe Team"], by_team["Repo Team"]


def verified(result: dict, **changes) -> dict:
    """The same result as a full evaluation (official data, no question limit) writes it."""
    record = copy.deepcopy(result)
    record.update(source="evaluated", provenance={**record["provenance"], "partial": None, "limit": None}, **changes)
    return record


def arena_on(tmp_path, records, **kwargs) -> ArenaService:
    store = LocalStore(tmp_path / "arena-data")
    for record in records:
        store.put("results", record)
    pool = ModelPool(max_adapters=4, max_models=2, options=CPU)
    kwargs.setdefault("merges", MergeCache(tmp_path / "merge-cache"))
    return ArenaService(store, pool=pool, limits=Limits(max_new_tokens=8), **kwargs)


def test_both_kinds_are_evaluated_onto_the_merging_board_with_their_merge_block(evaluated):
    hub, store, recipe, repo = evaluated
    assert {r["state"] for r in store.all("requests")} == {"FINISHED"}
    read_board, _export, read_details = board_api(Boards(store), store)
    rows = {row["team"]: row for row in read_board("merging", sources=["partial"])["rows"]}
    assert set(rows) == {"Recipe Team", "Repo Team"}
    for row, result in ((rows["Recipe Team"], recipe), (rows["Repo Team"], repo)):
        assert (row["cosmos_qa"], row["xsum"]) == (result["scores"]["cosmos_qa"], result["scores"]["xsum"])
        assert row["average"] == pytest.approx((row["cosmos_qa"] + row["xsum"]) / 2)
    merge = read_details(recipe["id"])["result"]["merge"]
    assert merge["kind"] == "merge_recipe" and merge["recipe"].startswith("merge_method: linear")
    assert len(merge["merged_sha256"]) == 64
    assert (repo["model_repo"], repo["model_commit"]) == ("team/merged", hub.head("team/merged"))
    assert recipe["params_total"] == repo["params_total"] > 0  # the request's count, carried to the result


def test_partial_published_and_recheck_results_are_not_offered(evaluated, tmp_path):
    _hub, _store, recipe, repo = evaluated
    recheck = verified(repo, id="result-recheck", rechecks="published-merging-x")
    published = {"id": "published-merging-1", "challenge": "merging", "source": "published", "average": 99.0,
                 "team": "Old", "model_repo": "team/merged", "model_commit": repo["model_commit"]}
    arena = arena_on(tmp_path, [recipe, repo, recheck, published])
    assert arena.entries("merging") == []
    assert "This board has 0 entries the arena can serve" in arena.board_note("merging")


def test_verified_recipe_and_merged_model_entries_are_offered_and_answer(evaluated, tmp_path):
    _hub, _store, recipe, repo = evaluated
    arena = arena_on(tmp_path, [verified(recipe), verified(repo)])
    assert {entry_id for _, entry_id in arena.entry_choices("merging")} == {recipe["id"], repo["id"]}
    battle = arena.new_battle("merging", recipe["id"], repo["id"], anonymous=False)
    frames = list(arena.answer(battle, QUESTION, 0.0, 8, voter="v1"))
    assert [f.status for f in frames if f.status.startswith("Merging")] == [
        f"Merging Model A from its recipe (first use only): {step}…"
        for step in ("downloading component 1 of 2: org/tiny-llama", "downloading component 2 of 2: org/tiny-llama-b",
                     "merging", "checking the merged weights against the recorded sha256")]
    final = frames[-1]
    assert not final.warning and final.battle.turns[0][1] and final.battle.turns[0][2]
    digest = recipe["merge"]["merged_sha256"]
    folder = tmp_path / "merge-cache" / digest
    assert weights_sha256(folder) == digest and [p.name for p in (tmp_path / "merge-cache").iterdir()] == [digest]
    again = list(arena.answer(final.battle, "And of Italy?", 0.0, 8, voter="v1"))
    assert not any(f.status.startswith("Merging") for f in again) and not again[-1].warning  # merged once
    arena.vote(again[-1].battle, "a", voter="v1")
    sides = arena.store.all("votes")[0]
    assert sides["a"]["merged_sha256"] == digest and sides["a"]["model_repo"] is None  # no path of this machine
    assert (sides["b"]["model_repo"], sides["b"]["model_commit"]) == ("team/merged", repo["model_commit"])


def test_a_recipe_whose_merge_gives_other_weights_is_refused(evaluated, tmp_path):
    _hub, _store, recipe, repo = evaluated
    wrong = "0" * 64
    altered = verified(recipe, merge={**recipe["merge"], "merged_sha256": wrong})
    arena = arena_on(tmp_path, [altered, verified(repo)])
    battle = arena.new_battle("merging", altered["id"], repo["id"], anonymous=False)
    final = list(arena.answer(battle, QUESTION, 0.0, 8, voter="v1"))[-1]
    assert final.warning and final.status.startswith("⚠️ Model A: This entry's merge is not reproducible: redoing "
                                                     f"its recipe gave weights with sha256 "
                                                     f"{recipe['merge']['merged_sha256'][:12]}…, but the evaluated "
                                                     "weights had 000000000000…. It is not served.")
    assert final.battle.turns == () and list((tmp_path / "merge-cache").iterdir()) == []  # nothing kept
    second = list(arena.answer(battle, QUESTION, 0.0, 8, voter="v1"))
    assert len(second) == 1 and second[0].status == final.status  # refused again at once, without a new merge


def test_the_memory_check_counts_a_recipe_entrys_recorded_size_before_it_is_merged(evaluated, tmp_path):
    _hub, _store, recipe, repo = evaluated
    big = verified(recipe, params_total=7_000_000_000)  # 7e9 × 4 B (fp32 on CPU) × 1.2 = 34 GB
    arena = arena_on(tmp_path, [big, verified(repo)], memory=MemoryCheck(CPU, {"ARENA_MEMORY_GB": "16"}))
    assert [entry.id for entry in arena.entries("merging")] == [repo["id"]]
    assert "needs about 34 GB of memory (ARENA_MEMORY_GB)" in arena.board_note("merging")


def test_the_merge_cache_folder_is_configurable(tmp_path):
    assert MergeCache.from_env({"ARENA_MERGE_CACHE": str(tmp_path)}).root == tmp_path
    assert MergeCache.from_env({}).root.name == "arena-merges"

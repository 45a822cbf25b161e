"""An organiser re-checks a published (self-reported) row: the queue takes it like a submission but counts it
against no team; its verified result shows beside the published numbers, which stay exactly as published."""

from __future__ import annotations

import csv
import json
from dataclasses import replace
from datetime import timedelta

import pytest
import torch

from challenges.definitions import challenges
from evaluator.worker import Worker, WorkerConfig, result_id_for
from leaderboard.about import about_markdown
from leaderboard.aggregate import refresh_boards
from leaderboard.boards import Boards
from leaderboard.details import lookup_details
from leaderboard.published import PUBLISHED_DIR, all_published_records
from leaderboard.render import render_page
from leaderboard.table import BoardQuery, board_frame, query_page, visible_keys
from models.loading import LoadOptions, ModelPool
from store.aggregates import find_result
from store.base import LocalStore
from store.hub import HubStore
from submissions.queue_view import queue_rows
from submissions.recheck import NOT_ORGANISER, RECHECKS_OFF, RecheckForm, queue_recheck
from submissions.rules import SubmissionForm
from submissions.service import submit
from tests.board_records import finish
from tests.eval_helpers import FIXTURES
from tests.hub_server import HubServer
from tests.test_submit_service import NOW, adapter, hub, models  # noqa: F401  (hub: the local Hub fixture)
from tests.tiny_models import build_lora, build_tiny_llama

TOKEN = "a-long-organiser-secret"
ORGANISER = {"ORGANISER_TOKEN": TOKEN}
ROW = "published-general_nlp-zeroone.ai-internlm3-8b-instruct-2026-01-14"  # ZeroOne.AI, 2.9 GB, 69.25 = 66.13 / 80.76 / 60.87
FORM = RecheckForm(published_id=ROW, repo_id="team/adapter", base_model="org/small-base", organiser_token=TOKEN)


@pytest.fixture
def store(tmp_path) -> LocalStore:
    store = LocalStore(tmp_path)
    refresh_boards(store)
    return store


def recheck(store, hub_models, form=FORM, environ=ORGANISER, now=NOW):
    return queue_recheck(store, hub_models, form, now=now, environ=environ)


@pytest.mark.parametrize("environ, typed, message", [({}, TOKEN, RECHECKS_OFF), (ORGANISER, "", NOT_ORGANISER),
                                                     (ORGANISER, TOKEN[:-1], NOT_ORGANISER)])
def test_anyone_but_an_organiser_is_refused_and_nothing_changes(hub, store, environ, typed, message):  # noqa: F811
    before = store.all("results")
    outcome = recheck(store, models(hub), replace(FORM, organiser_token=typed), environ)
    assert outcome.status == "refused" and outcome.reasons == [message]
    assert store.all("requests") == [] and store.all("results") == before


def test_an_organiser_queues_a_pinned_recheck_linked_to_the_row(hub, store):  # noqa: F811
    outcome = recheck(store, models(hub))
    assert outcome.status == "queued" and outcome.position == 1
    assert f"re-checks the published row {ROW} (ZeroOne.AI) and counts against no team's" in outcome.message
    stored = store.get("requests", outcome.request["id"])
    assert (stored["rechecks"], stored["state"], stored["team"], stored["comm_gb"]) == (ROW, "PENDING", "ZeroOne.AI", 2.9)
    assert stored["commit"] == hub.head("team/adapter") and stored["base_commit"] == hub.head("org/small-base")
    assert stored["account"] is None
    assert "Organiser re-check of the published row" in queue_rows(store.all("requests"))[0]["notes"]
    again = recheck(store, models(hub), now=NOW + timedelta(hours=1))
    assert again.status == "duplicate" and again.request["id"] == stored["id"] and len(store.all("requests")) == 1


def test_a_recheck_counts_against_no_team_and_duplicates_no_submission(hub, store):  # noqa: F811
    team = SubmissionForm(challenge_id="general_nlp", repo_id="team/adapter", team="ZeroOne.AI", comm_gb="2.9",
                          code_url="https://github.com/z/fl", base_model="org/small-base", contact_email="z@z.ai")
    hub.add_model("team/a2", adapter("org/small-base"))
    assert recheck(store, models(hub)).status == "queued"
    assert submit(store, models(hub), team, now=NOW).status == "queued"  # same adapter commit: not a duplicate
    assert submit(store, models(hub), replace(team, repo_id="team/a2"), now=NOW).status == "queued"
    hub.add_model("team/a3", adapter("org/small-base"))
    assert recheck(store, models(hub), replace(FORM, repo_id="team/a3")).status == "queued"  # team at its limit


@pytest.mark.parametrize("change, message", [
    ({"published_id": "published-general_nlp-999"}, "is not a published row"),
    ({"published_id": "published-merging-readapt-median-2024-07-29"}, "takes no PEFT adapters"),
    ({"repo_id": "team/private-adapter"}, "was not found on the Hugging Face Hub, or it is private"),
    ({"repo_id": "team/not-an-adapter"}, "has no adapter_config.json"),
    ({"revision": "v9"}, "Revision 'v9' does not exist"),
    ({"base_model": "org/other-base"}, "The adapter's base model does not match"),
    ({"base_model": ""}, "Give the base model repo"),
    ({"repo_id": "team/huge-adapter", "base_model": "org/huge-base"}, "this challenge allows at most 13 B"),
])
def test_bad_rechecks_say_why_and_change_nothing(hub, store, change, message):  # noqa: F811
    outcome = recheck(store, models(hub), replace(FORM, **change))
    assert outcome.status == "refused" and message in outcome.message, outcome.message
    assert store.all("requests") == []


def test_a_verified_result_is_not_a_published_row(hub, store):  # noqa: F811
    store.put("results", {"id": "result-x", "challenge": "general_nlp", "source": "evaluated", "average": 1.0})
    assert "is not a published row" in recheck(store, models(hub), replace(FORM, published_id="result-x")).message


def recheck_result(rid: str, average: float, source: str = "evaluated", date: str = "2026-03-11") -> dict:
    """A re-check's result as the worker writes it (its own tests below check the fields it carries on)."""
    return {"id": rid, "request_id": rid[len("result-"):], "challenge": "general_nlp", "source": source,
            "rechecks": ROW, "team": "ZeroOne.AI", "average": average, "date": date,
            "scores": {"stem": average, "social_sciences": average, "humanities": average}, "provenance": {}}


def published_seed(line: int = 1) -> dict[str, str]:
    with (PUBLISHED_DIR / "general_nlp.csv").open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))[line - 1]


@pytest.mark.parametrize("verified, delta, flagged", [(70.75, 1.5, False), (71.25, 2.0, False), (64.25, -5.0, True),
                                                      (72.0, 2.75, True)])
def test_the_board_shows_verified_and_delta_beside_the_published_numbers(store, verified, delta, flagged):
    store.put("results", recheck_result("result-old", 10.0, date="2026-03-01"))
    store.put("results", recheck_result("result-new", verified))
    store.put("results", recheck_result("result-partial", 0.0, source="partial", date="2026-03-12"))
    nlp = challenges()["general_nlp"]
    frame = board_frame(nlp, [*all_published_records(), *store.all("results")])
    assert not frame["id"].str.startswith("result-").any()  # a re-check is no row of its own
    row = frame.set_index("id").loc[ROW]
    seed = published_seed()
    assert [row[k] for k in ("average", "stem", "social_sciences", "humanities", "comm_gb")] == \
        [float(seed[k]) for k in ("average", "stem", "social_sciences", "humanities", "comm_gb")]
    assert (row["verified"], row["delta"], row["flagged"], row["recheck_id"]) == (verified, delta, flagged, "result-new")
    others = frame[frame["id"] != ROW]
    assert others["verified"].isna().all() and not others["flagged"].any()
    html = render_page(nlp, query_page(frame, BoardQuery()), BoardQuery(), visible_keys(nlp, None))
    cells = html[html.index(f'data-id="{ROW}"'):].split("</tr>")[0]
    shown = f"{'+' if delta >= 0 else '−'}{abs(delta):.2f}"
    assert f'data-col="verified">{verified:.2f}</td>' in cells and shown in cells
    assert ('class="recheck-flag"' in cells) is flagged and ">69.25</td>" in cells


def test_the_tolerance_comes_from_the_challenge_definition(store):
    store.put("results", recheck_result("result-new", 70.75))
    nlp = challenges()["general_nlp"]
    strict = replace(nlp, checks=replace(nlp.checks, recheck_tolerance=1.0))
    records = [*all_published_records(), *store.all("results")]
    assert bool(board_frame(strict, records).set_index("id").loc[ROW, "flagged"]) is True


def test_about_explains_verified_and_delta_with_the_definitions_tolerance():
    about = about_markdown(challenges()["finance"])
    assert "*Δ* = verified − self-reported, marked ⚠ when it is more than 2 points" in about
    assert "Verified" not in about_markdown(challenges()["merging"])  # no published adapters to re-check


def test_details_show_both_numbers_for_the_row_and_for_its_recheck(store):
    assert "This row has not been re-checked yet." in lookup_details(store, ROW)
    finish(store, recheck_result("result-new", 64.25))  # finished, not yet in an aggregate
    for shown in (ROW, "result-new"):
        lines = lookup_details(store, shown).splitlines()
        assert f"| Self-reported (published) | 69.25 | [{ROW}](?details={ROW}) |" in lines
        assert "| Verified (re-evaluated by this Space) | 64.25 | [result-new](?details=result-new) |" in lines
        assert "| Δ (verified − self-reported) | −5.00 | **⚠ differs by more than 2 points** |" in lines


def test_the_worker_carries_the_link_and_a_partial_recheck_verifies_nothing(hub, store, tmp_path):  # noqa: F811
    """The re-check request, evaluated by the real worker (tiny Llama + LoRA, one question per column): its
    result names the row it re-checks, is no row of its own, and as a smoke run (local data, a limit) it
    shows no Verified score."""
    outcome = recheck(store, models(hub))
    base = build_tiny_llama(tmp_path / "base")
    lora = build_lora(base, tmp_path / "lora")
    request = {**outcome.request, "repo_id": str(lora), "commit": None, "base_model": str(base), "base_commit": None,
               "comm_check": {"warning": None, "summary": "agrees"}}
    store.put("requests", request)
    worker = Worker(store, ModelPool(options=LoadOptions("cpu", torch.float32, False)),
                    WorkerConfig(worker_id="w1", data_dir=FIXTURES, limit=1, heartbeat_s=0.2))
    assert worker.run_once() == request["id"]
    result = store.get("results", result_id_for(request["id"]))
    assert result["rechecks"] == ROW and result["comm_check"] == request["comm_check"]
    frame = Boards(store).frame("general_nlp")
    assert result["id"] not in set(frame["id"]) and frame.set_index("id")["verified"].isna().all()


def test_a_recheck_is_one_request_file_in_the_hub_requests_dataset(hub):  # noqa: F811
    """The same service on the Hub store a Space runs: the published rows and the re-check are dataset files."""
    store = HubStore({"requests": "org/requests", "results": "org/results", "private": "org/private",
                      "boards": "org/results"}, token=HubServer.token, endpoint=hub.url)
    refresh_boards(store)
    assert recheck(store, models(hub), replace(FORM, organiser_token="nope")).status == "refused"
    outcome = recheck(store, models(hub))
    files = hub.files("org/requests", repo_type="dataset")
    (content,) = [c for path, c in files.items() if path.startswith("requests/")]
    assert json.loads(content)["rechecks"] == ROW and json.loads(content)["id"] == outcome.request["id"]
    assert find_result(store, ROW, challenges())["average"] == float(published_seed()["average"])

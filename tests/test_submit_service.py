"""Submitting through the real client against the local Hub, into both stores."""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections import Counter
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest
from safetensors.numpy import save

from store.base import LocalStore, Store
from store.hub import HubStore
from submissions.hub_models import HubModels, hub_api
from submissions.rules import SubmissionForm
from submissions.service import queue_position, submit
from tests.concurrency import run_in_threads
from tests.hub_server import Fault, HubServer

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=timezone.utc)
SMALL_BASE = {"model_type": "llama", "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
              "num_attention_heads": 4, "vocab_size": 400}
HUGE_BASE = {"model_type": "llama", "hidden_size": 8192, "intermediate_size": 28672, "num_hidden_layers": 80,
             "num_attention_heads": 64, "num_key_value_heads": 8, "vocab_size": 128256}


def adapter(base: str) -> dict[str, bytes]:
    config = {"peft_type": "LORA", "base_model_name_or_path": base, "r": 4, "target_modules": ["q_proj"]}
    return {"adapter_config.json": json.dumps(config).encode(),
            "adapter_model.safetensors": save({"lora_A": np.zeros((4, 64), dtype=np.float32)})}


@pytest.fixture
def hub(hub_server: HubServer) -> HubServer:  # noqa: F811
    hub_server.add_model("org/small-base", {"config.json": json.dumps(SMALL_BASE).encode()})
    hub_server.add_model("org/huge-base", {"config.json": json.dumps(HUGE_BASE).encode()})
    hub_server.add_model("org/mystery-base", {"README.md": b"no config"})
    hub_server.add_model("team/adapter", adapter("org/small-base"))
    hub_server.add_model("team/huge-adapter", adapter("org/huge-base"))
    hub_server.add_model("team/mystery-adapter", adapter("org/mystery-base"))
    hub_server.add_model("team/private-adapter", adapter("org/small-base"), private=True)
    hub_server.add_model("team/not-an-adapter", {"config.json": json.dumps(SMALL_BASE).encode()})
    for dataset in ("org/requests", "org/results", "org/private"):
        hub_server.add_dataset(dataset, private=dataset == "org/private")
    return hub_server


@pytest.fixture(params=["local", "hub"])
def store(request, hub: HubServer, tmp_path) -> Store:
    if request.param == "local":
        return LocalStore(tmp_path)
    return HubStore({"requests": "org/requests", "results": "org/results", "private": "org/private"},
                    token=HubServer.token, endpoint=hub.url)


def models(hub: HubServer) -> HubModels:
    return HubModels(hub_api(hub.url))


FORM = SubmissionForm(challenge_id="general_nlp", repo_id="team/adapter", team="Team A", comm_gb="3.5",
                      code_url="https://github.com/team/fl", base_model="org/small-base",
                      contact_email="lead@team.org")


def test_valid_adapter_is_queued_pinned_to_its_commit(hub, store):
    outcome = submit(store, models(hub), FORM, now=NOW)
    assert outcome.status == "queued" and outcome.position == 1
    assert outcome.message.startswith(f"Queued as {outcome.request['id']}, position 1")
    stored = store.get("requests", outcome.request["id"])
    assert stored["commit"] == hub.head("team/adapter") and stored["base_commit"] == hub.head("org/small-base")
    assert (stored["state"], stored["team"], stored["comm_gb"], stored["base_params"]) == ("PENDING", "Team A", 3.5,
                                                                                          SMALL_BASE_PARAMS)
    assert "lead@team.org" not in json.dumps(stored)  # the e-mail is only in the private collection
    assert store.get("private", outcome.request["id"])["contact_email"] == "lead@team.org"
    hub.push("team/adapter", {"adapter_config.json": b"{}"})  # a later push does not change what was queued
    assert store.get("requests", outcome.request["id"])["commit"] != hub.head("team/adapter")


SMALL_BASE_PARAMS = 2 * 400 * 64 + 2 * (4 * 64 * 64 + 3 * 64 * 128 + 2 * 64) + 64


def test_same_commit_points_to_the_existing_entry(hub, store):
    first = submit(store, models(hub), FORM, now=NOW)
    again = submit(store, models(hub), replace(FORM, team="Team B"), now=NOW + timedelta(hours=1))
    assert again.status == "duplicate" and again.request["id"] == first.request["id"]
    assert "already submitted" in again.message and len(store.all("requests")) == 1


def test_third_submission_in_a_week_is_refused(hub, store):
    for name in ("a2", "a3"):
        hub.add_model(f"team/{name}", adapter("org/small-base"))
    assert submit(store, models(hub), FORM, now=NOW).status == "queued"
    assert submit(store, models(hub), replace(FORM, repo_id="team/a2"), now=NOW + timedelta(days=1)).position == 2
    third = submit(store, models(hub), replace(FORM, repo_id="team/a3", team="team a"), now=NOW + timedelta(days=2))
    assert third.status == "refused" and "already has 2 submission(s)" in third.message
    assert len(store.all("requests")) == 2
    later = submit(store, models(hub), replace(FORM, repo_id="team/a3"), now=NOW + timedelta(days=7, minutes=1))
    assert later.status == "queued"


@pytest.mark.parametrize("change, message", [
    ({"repo_id": "team/missing"}, "was not found on the Hugging Face Hub, or it is private"),
    ({"repo_id": "team/private-adapter"}, "was not found on the Hugging Face Hub, or it is private"),
    ({"repo_id": "team/not-an-adapter"}, "has no adapter_config.json"),
    ({"revision": "v9"}, "Revision 'v9' does not exist in 'team/adapter'"),
    ({"base_model": "org/other-base"}, "The adapter's base model does not match: adapter_config.json names "
                                       "'org/small-base', you declared 'org/other-base'"),
    ({"repo_id": "team/huge-adapter", "base_model": "org/huge-base"}, "B parameters; this challenge allows at most 13 B"),
    ({"repo_id": "team/mystery-adapter", "base_model": "org/mystery-base"}, "cannot be determined"),
    ({"comm_gb": "250"}, "exceeds the 200 GB budget"),
])
def test_refusals_say_why_and_change_nothing(hub, store, change, message):
    outcome = submit(store, models(hub), replace(FORM, **change), now=NOW)
    assert outcome.status == "refused"
    assert message in outcome.message, outcome.message
    assert store.all("requests") == []


def test_queue_position_counts_pending_only_oldest_first():
    requests = [{"id": "b", "state": "PENDING", "submitted_at": "2026-01-02"},
                {"id": "a", "state": "RUNNING", "submitted_at": "2026-01-01"},
                {"id": "c", "state": "PENDING", "submitted_at": "2026-01-01"}]
    assert [queue_position(requests, i) for i in "abc"] == [None, 2, 1]


def test_200_submissions_from_20_threads(hub, store):
    """20 teams x 10 tries over 4 adapters each: exactly 2 queued per team, no duplicates, none lost."""
    for team in range(20):
        for k in range(4):
            hub.add_model(f"t{team}/a{k}", adapter("org/small-base"))
    hubs = models(hub)
    outcomes: list[tuple[int, str]] = []
    lock = threading.Lock()

    def worker(thread: int) -> None:
        for attempt in range(10):
            team = (thread + attempt) % 20
            form = replace(FORM, team=f"Team {team}", repo_id=f"t{team}/a{(thread * 7 + attempt) % 4}")
            result = submit(store, hubs, form, now=NOW + timedelta(seconds=thread))
            with lock:
                outcomes.append((team, result.status))

    run_in_threads(worker, 20, timeout=120)
    stored = store.all("requests")
    assert len(outcomes) == 200
    assert Counter(status for _, status in outcomes)["queued"] == len(stored) == 40
    assert Counter(r["team"] for r in stored) == Counter({f"Team {t}": 2 for t in range(20)})
    assert len({(r["repo_id"], r["commit"]) for r in stored}) == 40


# --- sign-in on a Space ----------------------------------------------------------------------------------

def test_on_a_space_an_unsigned_submission_is_refused_and_writes_nothing(hub, store):
    unsigned = submit(store, models(hub), FORM, account=None, now=NOW, require_account=True)
    assert unsigned.status == "refused" and "Sign in with Hugging Face to submit" in unsigned.message
    assert store.all("requests") == [] and store.all("private") == []
    signed = submit(store, models(hub), FORM, account="alice", now=NOW, require_account=True)
    assert signed.status == "queued" and store.get("requests", signed.request["id"])["account"] == "alice"


# --- privacy: an e-mail is kept only with a queued request, and no hash of it is public ---------------------

def test_only_queued_requests_leave_a_contact_and_the_public_record_holds_no_trace_of_it(hub, store):
    for k in range(3):
        hub.add_model(f"team/p{k}", adapter("org/small-base"))
    outcomes = [submit(store, models(hub), replace(FORM, repo_id=repo, contact_email=f"{n}@team.org"), now=NOW)
                for n, repo in enumerate(["team/p0", "team/p0", "team/p1", "team/p2", "team/missing"])]
    assert [o.status for o in outcomes] == ["queued", "duplicate", "queued", "refused", "refused"]
    queued_ids = {o.request["id"] for o in outcomes if o.status == "queued"}
    private = store.all("private")
    assert {r["id"] for r in private} == queued_ids and {r["contact_email"] for r in private} == {"0@team.org",
                                                                                                   "2@team.org"}
    for record in store.all("requests"):
        assert "contact_hash" not in record
        text = json.dumps(record)
        assert all(f"{n}@team.org" not in text and hashlib.sha256(f"{n}@team.org".encode()).hexdigest() not in text
                   for n in range(5))


# --- a request that failed because of us does not use up the team's window ---------------------------------

def test_a_request_failed_by_the_evaluator_gives_the_submission_back(hub, store):
    for k in range(3):
        hub.add_model(f"team/f{k}", adapter("org/small-base"))
    first = submit(store, models(hub), replace(FORM, repo_id="team/f0"), now=NOW)
    second = submit(store, models(hub), replace(FORM, repo_id="team/f1"), now=NOW)
    assert (first.status, second.status) == ("queued", "queued")
    failed = {**second.request, "state": "FAILED", "failure": {"reason": "worker out of memory", "cause": "evaluator"}}
    store.put("requests", failed)
    assert submit(store, models(hub), replace(FORM, repo_id="team/f2"), now=NOW).status == "queued"
    theirs = {**first.request, "state": "FAILED", "failure": {"reason": "adapter does not load", "cause": "submission"}}
    store.put("requests", theirs)
    hub.add_model("team/f3", adapter("org/small-base"))
    fourth = submit(store, models(hub), replace(FORM, repo_id="team/f3"), now=NOW)
    assert "already has 2 submission(s)" in fourth.message


# --- look-alike team names share one limit; the name is stored cleaned -------------------------------------

def test_look_alike_team_names_are_one_team_and_names_are_stored_cleaned(hub, store):
    for k in range(4):
        hub.add_model(f"team/n{k}", adapter("org/small-base"))
    first = submit(store, models(hub), replace(FORM, repo_id="team/n0", team="\uff25vade  Labs "), now=NOW)
    assert first.status == "queued" and store.get("requests", first.request["id"])["team"] == "Evade Labs"
    assert submit(store, models(hub), replace(FORM, repo_id="team/n1", team="EVADE LABS"), now=NOW).status == "queued"
    for spelling in ("\u0415\u0412\u0410DE LABS", "Eva\u200bde Labs", "\u0415vade Labs", "\u0395VADE LABS",
                     "évade labs"):
        outcome = submit(store, models(hub), replace(FORM, repo_id="team/n2", team=spelling), now=NOW)
        assert outcome.status == "refused", (spelling, outcome.message)
    assert len(store.all("requests")) == 2 and len(store.all("private")) == 2


# --- the Hub refuses the commit, or takes it and loses the answer ------------------------------------------

def hub_store(hub: HubServer) -> HubStore:
    return HubStore({"requests": "org/requests", "results": "org/results", "private": "org/private"},
                    token=HubServer.token, endpoint=hub.url)


def test_a_commit_that_landed_but_answered_500_is_reported_queued(hub):
    store = hub_store(hub)
    lost = hub.inject(Fault(path="org/requests/commit/", method="POST", status=500, after=True))
    outcome = submit(store, models(hub), FORM, now=NOW)
    assert lost.hits == 1
    assert outcome.status == "queued" and outcome.message.startswith(f"Queued as {outcome.request['id']}, position 1")
    assert "already submitted" not in outcome.message
    assert [r["id"] for r in store.all("requests")] == [outcome.request["id"]]
    assert [r["id"] for r in store.all("private")] == [outcome.request["id"]]


def test_a_commit_the_hub_refuses_says_nothing_was_queued(hub):
    store = hub_store(hub)
    refusing = hub.inject(Fault(path="org/requests/commit/", method="POST", status=429, times=None))
    started = time.monotonic()
    outcome = submit(store, models(hub), FORM, now=NOW)
    assert time.monotonic() - started < 120 and refusing.hits >= 1  # however long the store retries
    assert outcome.status == "unsaved"
    assert outcome.message.startswith("The submission could not be saved: ")
    assert outcome.message.endswith("Nothing was queued; please try again in a few minutes.")
    hub.clear_faults()
    assert store.all("requests") == [] and store.all("private") == []
    assert submit(store, models(hub), FORM, now=NOW).status == "queued"  # and trying again works


def test_a_contact_that_cannot_be_saved_is_reported_and_the_request_stays_queued(hub):
    store = hub_store(hub)
    # e.g. a token without write access to the private dataset: refused at once, not retried
    hub.inject(Fault(path="org/private/commit/", method="POST", status=403, times=None))
    outcome = submit(store, models(hub), FORM, now=NOW)
    assert outcome.status == "queued" and len(store.all("requests")) == 1
    assert f"please send it to the organisers with your request id {outcome.request['id']}" in outcome.message
    hub.clear_faults()
    assert store.all("private") == []


def test_a_challenge_that_takes_no_adapters_is_refused(hub, store):
    outcome = submit(store, models(hub), replace(FORM, challenge_id="merging"), now=NOW)
    assert outcome.status == "refused" and "does not take submissions through this form" in outcome.message
    assert store.all("requests") == []


def _commit_lands_then_the_store_cannot_read(hub: HubServer) -> None:
    """The commit lands behind a 500, then every read of the branch head fails, so the store gives up."""
    hub.inject(Fault(path="org/requests/refs", method="GET", status=None, times=1))  # the read before the commit
    hub.inject(Fault(path="org/requests/refs", method="GET", status=500, times=None))
    hub.inject(Fault(path="org/requests/commit/", method="POST", status=500, after=True))


def test_a_store_that_gives_up_after_our_commit_landed_still_reports_queued(hub):
    store = hub_store(hub)
    _commit_lands_then_the_store_cannot_read(hub)
    outcome = submit(store, models(hub), FORM, now=NOW)
    assert outcome.status == "queued" and outcome.message == f"Queued as {outcome.request['id']}."
    hub.clear_faults()
    stored = [r["id"] for r in store.all("requests")], [r["id"] for r in store.all("private")]
    assert stored == ([outcome.request["id"]], [outcome.request["id"]])


def test_when_the_store_cannot_tell_whether_it_queued_the_participant_is_told_to_look(hub):
    store = hub_store(hub)
    _commit_lands_then_the_store_cannot_read(hub)
    hub.inject(Fault(path="org/requests/resolve/", method="GET", status=500, times=None))
    outcome = submit(store, models(hub), FORM, now=NOW)
    assert outcome.status == "unsaved" and "It may or may not have been queued: look for your team" in outcome.message
    hub.clear_faults()
    replica = hub_store(hub)  # (this store keeps serving what it read last for a few seconds after an outage)
    assert len(replica.all("requests")) == 1 and replica.all("private") == []  # it had landed; no e-mail kept

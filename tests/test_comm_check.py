"""The reported communication cost against 2 × adapter size × clients per round × rounds, with the adapter's
size read from its weights on the (local) Hub: a mismatch is a warning on the request, never a refusal."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
from safetensors.numpy import save

from challenges.definitions import challenges
from leaderboard.about import about_markdown
from leaderboard.details import details_markdown
from store.base import LocalStore
from submissions.api import submit_api
from submissions.comm_check import BYTES_PER_GB, expected_comm_gb
from submissions.hub_models import HubModels, hub_api
from submissions.queue_view import queue_rows
from submissions.rules import SubmissionForm
from submissions.service import submit
from tests.board_records import result
from tests.hub_server import HubServer
from tests.test_submit_service import NOW, SMALL_BASE

MIB = 1024**2
CONFIG = {"peft_type": "LORA", "base_model_name_or_path": "org/small-base", "r": 4, "target_modules": ["q_proj"]}


def one_mib_adapter() -> dict[str, bytes]:
    """1 MiB of arrays in two dtypes: half a MiB of float32 (131,072 values) and half of float16 (262,144)."""
    weights = {"lora_A": np.zeros((128, 1024), dtype=np.float32), "lora_B": np.zeros((256, 1024), dtype=np.float16)}
    return {"adapter_config.json": json.dumps(CONFIG).encode(), "adapter_model.safetensors": save(weights)}


@pytest.fixture
def hub(hub_server: HubServer) -> HubModels:
    hub_server.add_model("org/small-base", {"config.json": json.dumps(SMALL_BASE).encode()})
    hub_server.add_model("team/adapter", one_mib_adapter())
    hub_server.add_model("team/torn-adapter", {"adapter_config.json": json.dumps(CONFIG).encode(),
                                               "adapter_model.safetensors": b"\xff" * 64})
    hub_server.add_model("team/bin-adapter", {"adapter_config.json": json.dumps(CONFIG).encode(),
                                              "adapter_model.bin": b"\0" * (2 * MIB)})
    return HubModels(hub_api(hub_server.url))


# 2 × 1 MiB × 5 clients per round × 100 rounds = 1000 MiB: exactly 1 GB as the published boards count it
FORM = SubmissionForm(challenge_id="general_nlp", repo_id="team/adapter", team="Team A", comm_gb="1.0",
                      code_url="https://github.com/team/fl", base_model="org/small-base",
                      contact_email="lead@team.org", num_clients="5", num_rounds="100")


def test_a_gb_is_the_official_trackers_mb_over_1000():
    """The tracker logs bytes / 1024² as MB against a 200,000 MB budget, shown as 200 GB."""
    assert BYTES_PER_GB == 1000 * 1024**2
    assert expected_comm_gb(50 * MIB, clients_per_round=10, rounds=100) == 100.0
    assert 2 * 50 * MIB * 10 * 100 / 1e9 == pytest.approx(104.8576)  # what 10^9-byte GB would have said


def test_about_states_the_unit_and_the_tolerance():
    about = about_markdown(challenges()["code"])
    assert "A GB here is the official tracker's MB / 1000, i.e. 1000 × 1024² bytes" in about
    assert "2 × adapter size × clients per round × rounds; more than 25% apart is a warning" in about


def test_a_matching_cost_is_queued_without_a_warning(hub, tmp_path):
    store = LocalStore(tmp_path)
    outcome = submit(store, hub, FORM, now=NOW)
    assert outcome.status == "queued" and "Warning" not in outcome.message
    check = store.get("requests", outcome.request["id"])["comm_check"]
    assert check["adapter_bytes"] == MIB and check["adapter_size_source"] == "safetensors header"
    assert (check["expected_gb"], check["agrees"], check["warning"]) == (1.0, True, None)
    assert check["summary"].startswith("agrees: reported 1 GB, computed 2 × 1 MB adapter")
    assert queue_rows(store.all("requests"))[0]["notes"] == ""


@pytest.mark.parametrize("reported, warned", [("1.2", False), ("0.8", False), ("1.3", True), ("3.5", True),
                                              ("0.1", True)])
def test_a_cost_further_apart_than_the_tolerance_is_a_warning_not_a_refusal(hub, tmp_path, reported, warned):
    store = LocalStore(tmp_path)
    outcome = submit(store, hub, replace(FORM, comm_gb=reported), now=NOW)
    assert outcome.status == "queued"
    stored = store.get("requests", outcome.request["id"])
    assert stored["comm_gb"] == float(reported) and stored["comm_check"]["agrees"] is (not warned)
    warning = stored["comm_check"]["warning"]
    assert (warning is not None) is warned
    if warned:
        assert f"reported communication cost ({reported} GB) differs from 2 × 1 MB adapter" in warning
        assert "× 5 clients per round × 100 rounds = 1 GB" in warning and "tolerance 25%" in warning
        assert warning in outcome.message and warning in outcome.notes
        assert warning in queue_rows(store.all("requests"))[0]["notes"]


def test_the_tolerance_comes_from_the_challenge_definition(hub, tmp_path, monkeypatch):
    from challenges import definitions

    strict = {cid: replace(c, checks=replace(c.checks, comm_tolerance=0.1)) for cid, c in definitions.challenges().items()}
    monkeypatch.setattr("submissions.service.challenges", lambda: strict)
    outcome = submit(LocalStore(tmp_path), hub, replace(FORM, comm_gb="1.2"), now=NOW)
    assert outcome.request["comm_check"]["tolerance"] == 0.1 and "tolerance 10%" in outcome.message


def test_without_clients_and_rounds_nothing_is_checked_or_read(hub, tmp_path):
    store = LocalStore(tmp_path)
    outcome = submit(store, hub, replace(FORM, num_clients="", num_rounds="", comm_gb="99"), now=NOW)
    assert outcome.status == "queued" and store.get("requests", outcome.request["id"])["comm_check"] is None


def test_a_pickled_adapter_is_sized_by_its_file(hub, tmp_path):
    outcome = submit(LocalStore(tmp_path), hub, replace(FORM, repo_id="team/bin-adapter", comm_gb="2.0"), now=NOW)
    check = outcome.request["comm_check"]
    assert (check["adapter_bytes"], check["adapter_size_source"]) == (2 * MIB, "adapter_model.bin file size")
    assert check["expected_gb"] == 2.0 and check["agrees"] is True


def test_an_unreadable_size_is_said_and_the_request_still_queued(hub, tmp_path):
    outcome = submit(LocalStore(tmp_path), hub, replace(FORM, repo_id="team/torn-adapter"), now=NOW)
    check = outcome.request["comm_check"]
    assert outcome.status == "queued" and (check["adapter_bytes"], check["agrees"]) == (None, None)
    assert check["warning"].startswith("The communication cost could not be checked: the header of "
                                       "adapter_model.safetensors in 'team/torn-adapter' cannot be read")
    assert check["warning"] in outcome.message


def test_bad_clients_or_rounds_are_refused_and_nothing_is_queued(hub, tmp_path):
    store = LocalStore(tmp_path)
    outcome = submit(store, hub, replace(FORM, num_clients="2.5"), now=NOW)
    assert outcome.status == "refused" and "is not a whole number" in outcome.message
    assert store.all("requests") == []


def test_the_api_answers_the_check(hub, tmp_path):
    answer = submit_api(LocalStore(tmp_path), hub, require_sign_in=False)(
        "general_nlp", "Team A", "team/adapter", "main", "org/small-base", "https://github.com/team/fl", "3.5",
        num_clients="5", num_rounds="100", contact_email="lead@team.org")
    assert answer["status"] == "queued" and answer["comm_check"]["expected_gb"] == 1.0
    assert answer["comm_check"]["agrees"] is False and answer["comm_check"]["warning"] in answer["notes"]


def test_details_show_the_check_a_result_carries():
    warning = "Warning: the reported communication cost (3.5 GB) differs from ..."
    record = {**result("r1", "T", 50.0), "comm_check": {"warning": warning, "summary": warning}}
    assert f"| Comm. cost check | {warning} |" in details_markdown(record).splitlines()

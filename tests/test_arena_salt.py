"""The salt of the hashed voter ids: without it an account hash is reversible from a list of user names.

On a Space the arena takes ``ARENA_VOTER_SALT`` (a secret) or creates one salt in the private store and keeps
it there; with neither, the arena refuses to start and says what to set, while the rest of the app starts.
The Hub store runs against the local Hub through the real client.
"""

from __future__ import annotations

import gradio as gr
import pytest

from arena.salt import SALT_RECORD, SaltUnavailable, voter_salt
from arena.service import ArenaService
from arena.ui import arena_tabs
from arena.votes import VoteRefused, voter_id
from store.base import LocalStore
from store.hub import HubStore
from tests.concurrency import run_in_threads
from tests.hub_server import Fault, HubServer

PUBLIC = {"requests": "org/requests", "results": "org/results", "votes": "org/results", "details": "org/results"}
SPACE = {"SPACE_ID": "org/space", "ARENA_DEMO": "off"}


@pytest.fixture
def hub(hub_server: HubServer) -> HubServer:
    for dataset in ("org/requests", "org/results", "org/private"):
        hub_server.add_dataset(dataset, private=dataset == "org/private")
    return hub_server


def hub_store(hub: HubServer, private: bool) -> HubStore:
    repos = dict(PUBLIC, private="org/private") if private else PUBLIC
    return HubStore(repos, token=HubServer.token, endpoint=hub.url, backoff_s=0.005, max_backoff_s=0.05)


def test_replicas_sharing_a_store_create_one_salt_and_agree_on_it(hub):
    """Four replicas start at once with no salt configured: one salt is written to the private dataset, all
    four read back the same one, and a later start reuses it."""
    salts: dict[int, str] = {}

    def start(i: int) -> None:
        salts[i] = voter_salt(hub_store(hub, private=True), "", on_space=True)

    run_in_threads(start, 4)
    assert len(salts) == 4 and len(set(salts.values())) == 1
    salt = salts[0]
    assert len(salt) >= 32
    records = hub_store(hub, private=True).all("private")
    assert [r["id"] for r in records] == [SALT_RECORD] and records[0]["salt"] == salt
    assert not any(salt in str(r) for r in hub_store(hub, private=True).all("votes"))
    # two service instances (replicas) hash the same account alike, and not as an unsalted hash would
    first = ArenaService.from_env(hub_store(hub, private=True), SPACE)
    second = ArenaService.from_env(hub_store(hub, private=True), SPACE)
    assert first.voter("alice", "s1") == second.voter("alice", "s2") == voter_id("alice", None, salt)
    assert first.voter("alice", "s1") != voter_id("alice", None, "")
    assert len(hub_store(hub, private=True).all("private")) == 1


def test_a_salt_commit_that_landed_but_answered_500_is_read_back_not_doubled(hub):
    hub.inject(Fault(path=r"/commit/", method="POST", status=500, after=True, times=1))
    salt = voter_salt(hub_store(hub, private=True), "", on_space=True)
    (record,) = hub_store(hub, private=True).all("private")
    assert record["salt"] == salt and hub.commit_count("org/private", "dataset") == 1 + 1  # creation + salt


def test_a_store_that_does_not_answer_refuses_the_vote_with_a_message_and_recovers(hub):
    service = ArenaService(hub_store(hub, private=True), salt=None)
    hub.inject(Fault(path=r"/commit/", method="POST", status=500, times=None))  # every commit fails
    with pytest.raises(VoteRefused, match="The vote store did not answer; nothing was recorded"):
        service.voter("alice", None)
    assert hub_store(hub, private=True).all("private") == []
    hub.clear_faults()
    alice = service.voter("alice", None)  # the salt is created now
    (record,) = hub_store(hub, private=True).all("private")
    assert alice == voter_id("alice", None, record["salt"])


def test_a_space_without_secret_and_without_private_store_refuses_the_arena(hub):
    store = hub_store(hub, private=False)
    with pytest.raises(SaltUnavailable) as refusal:
        ArenaService.from_env(store, SPACE)
    message = str(refusal.value)
    assert "ARENA_VOTER_SALT" in message and "PRIVATE_DATASET" in message and "secret" in message
    # the rest of the app still starts: the two tabs say the arena is off, and why
    with gr.Blocks() as demo:
        with gr.Tabs():
            gr.Tab("Board")
            service = arena_tabs(store, SPACE)
    assert service is None
    notices = [c.get("props", {}).get("value") for c in demo.config["components"]]
    assert sum(isinstance(v, str) and "The arena is off" in v and "ARENA_VOTER_SALT" in v for v in notices) == 2
    # with the secret set, it starts and uses it
    assert ArenaService.from_env(store, dict(SPACE, ARENA_VOTER_SALT="s3cret")).voter("bob", None) == \
        voter_id("bob", None, "s3cret")
    assert store.all("votes") == []


def test_locally_a_per_install_salt_is_created_and_kept(tmp_path):
    salt = voter_salt(LocalStore(tmp_path), "", on_space=False)
    assert len(salt) >= 32 and voter_salt(LocalStore(tmp_path), "", on_space=False) == salt
    assert voter_salt(LocalStore(tmp_path / "other"), "", on_space=False) != salt
    assert voter_salt(LocalStore(tmp_path), "configured", on_space=False) == "configured"


def test_an_unusable_salt_record_is_an_operator_message_not_a_silent_empty_salt(tmp_path):
    store = LocalStore(tmp_path)
    store.put("private", {"id": SALT_RECORD, "salt": ""})
    with pytest.raises(SaltUnavailable, match=f"'{SALT_RECORD}'"):
        voter_salt(store, "", on_space=True)


def test_a_bad_arena_setting_keeps_the_arena_off_with_the_variable_named(hub):
    with gr.Blocks() as demo:
        with gr.Tabs():
            assert arena_tabs(hub_store(hub, private=True), dict(SPACE, ARENA_VOTES_PER_DAY="lots")) is None
    notices = [c.get("props", {}).get("value") for c in demo.config["components"]]
    assert sum(isinstance(v, str) and "The arena is off: ARENA_VOTES_PER_DAY must be a whole number of at least "
               "1, not 'lots'" in v for v in notices) == 2


def test_on_a_space_the_compare_tab_offers_sign_in_next_to_the_votes(hub, space_oauth):
    with gr.Blocks() as demo:
        with gr.Tabs():
            service = arena_tabs(hub_store(hub, private=True), dict(SPACE, ARENA_VOTES_PER_DAY="7"))
    assert service is not None and service.vote_rules.sign_in_required and service.vote_rules.per_day == 7
    ids = {c.get("props", {}).get("elem_id"): c for c in demo.config["components"]}
    login = ids["compare-login"]["props"]
    assert (login["value"], login["variant"]) == ("Sign in with Hugging Face", "huggingface")
    assert "sign in with Hugging Face to vote" in ids["compare-sign-in"]["props"]["value"]
    assert "stored in a public dataset" in ids["compare-public-notice"]["props"]["value"]

"""One bad record must not take the Space down (HubStore): the same corrupt-record kinds as files in the local
Hub's dataset repos are set aside with a reason and listed, and everything else keeps working."""

from __future__ import annotations

import json

import pytest

from app import build_app
from store.base import StoreError, dump_record
from store.hub import HubStore
from submissions.hub_models import HubModels
from tests.bad_records import (
    CONTENT_KINDS,
    GOOD,
    GOOD_RESULT,
    claim_works,
    corrupt_content,
    reading_paths_work,
)
from tests.hub_server import HubServer

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")
REPOS = {"requests": "org/requests", "results": "org/results", "votes": "org/results", "details": "org/results",
         "boards": "org/results", "private": "org/private"}
HUB_KINDS = {
    **CONTENT_KINDS,
    "a folder named bad.json": "is a folder, not a file",
    "a wrong field type": "must be",
}
WRONG_TYPE = {"requests": ("submitted_at", "'submitted_at' must be an ISO 8601 time"),
              "results": ("challenge", "'challenge' must be text"),
              "votes": ("a", "'a' must be a JSON object with an 'entry' text")}


def hub_file(kind: str, collection: str) -> dict[str, bytes]:
    path = f"{collection}/bad.json"
    if kind == "a folder named bad.json":
        return {f"{path}/inner.json": b"{}"}
    if kind == "a wrong field type":
        return {path: json.dumps({**GOOD[collection], "id": "bad", WRONG_TYPE[collection][0]: 5}).encode()}
    return {path: corrupt_content(kind, collection)}


@pytest.fixture
def hub(hub_server: HubServer) -> HubServer:
    for repo in ("org/requests", "org/results"):
        hub_server.add_dataset(repo)
    hub_server.add_dataset("org/private", private=True)
    return hub_server


def good_store(hub: HubServer, tmp_path) -> HubStore:
    store = HubStore(REPOS, token=hub.token, endpoint=hub.url, cache_dir=tmp_path / "cache")
    for collection, record in GOOD.items():
        store.put(collection, record)
    return store


@pytest.mark.parametrize("collection", ["requests", "results", "votes"])
@pytest.mark.parametrize("kind", list(HUB_KINDS))
def test_a_corrupt_file_in_a_dataset_is_set_aside(hub, tmp_path, collection, kind):
    store = good_store(hub, tmp_path)
    hub.push(REPOS[collection], hub_file(kind, collection), repo_type="dataset")
    if collection == "results":  # nothing lists the results: the board reads those FINISHED requests name
        store.put("requests", {**GOOD["requests"], "id": "bad-request", "state": "FINISHED", "result_id": "bad"})
    reading_paths_work(store)
    claim_works(store)
    listed = [(item.collection, item.path, item.reason) for item in store.quarantined()]
    if (collection, kind) == ("results", "a folder named bad.json"):  # read by name, a folder is no file at all
        assert listed == [] and store.get("results", "bad") is None
        return
    assert len(listed) == 1 and listed[0][:2] == (collection, f"{REPOS[collection]}/{collection}/bad.json"), listed
    reason = WRONG_TYPE[collection][1] if kind == "a wrong field type" else HUB_KINDS[kind]
    assert reason in listed[0][2]


def test_the_app_starts_on_a_dataset_with_every_kind_of_corrupt_file(hub, tmp_path):
    store = good_store(hub, tmp_path)
    for collection in ("requests", "results", "votes"):
        for number, kind in enumerate(HUB_KINDS):
            files = hub_file(kind, collection)
            hub.push(REPOS[collection], {path.replace("bad.json", f"bad-{number}.json"): content.replace(
                b'"bad"', f'"bad-{number}"'.encode()) for path, content in files.items()}, repo_type="dataset")
    hub.push("org/private", {"private/junk.json": b"\x00\x01"}, repo_type="dataset")
    build_app(store, hub=HubModels())
    reading_paths_work(store)
    store.all("private")
    store.all("results")  # nothing in the app lists the results (a bad one is set aside when a board reads it)
    assert len(store.quarantined()) == 3 * len(HUB_KINDS) + 1


def test_a_set_aside_file_on_the_hub_is_never_overwritten(hub, tmp_path):
    store = good_store(hub, tmp_path)
    hub.push("org/results", {"results/bad.json": b"{"}, repo_type="dataset")
    commits = hub.commit_count("org/results", "dataset")
    with pytest.raises(StoreError, match=r"org/results/results/bad.json was set aside \(it is not valid JSON"):
        store.put("results", {**GOOD_RESULT, "id": "bad"})
    assert store.put_missing("results", [{**GOOD_RESULT, "id": "bad"}]) == 0
    assert hub.commit_count("org/results", "dataset") == commits
    assert hub.files("org/results", "dataset")["results/bad.json"] == b"{"
    hub.push("org/results", {"results/bad.json": dump_record({**GOOD_RESULT, "id": "bad"})}, repo_type="dataset")
    assert {r["id"] for r in store.all("results")} == {"good-result", "bad"} and store.quarantined() == []

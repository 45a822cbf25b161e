"""The local Hub answers the real huggingface_hub client the way the Hub does (status codes, headers,
error codes), so the other Hub tests mean something."""

from __future__ import annotations

import base64
import json
import time

import httpx2
import pytest
from huggingface_hub import CommitOperationAdd, CommitOperationDelete, HfApi, hf_hub_download
from huggingface_hub.errors import (
    EntryNotFoundError,
    GatedRepoError,
    HfHubHTTPError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)

from tests.hub_repos import git_blob_sha
from tests.hub_server import Fault, HubServer

FILES = {"config.json": b'{"model_type": "llama"}', "sub/dir/notes.txt": b"hello", "README.md": b"# card\n"}


@pytest.fixture
def api(hub_server: HubServer) -> HfApi:
    return HfApi(endpoint=hub_server.url, token=False)


@pytest.fixture
def writer(hub_server: HubServer) -> HfApi:
    return HfApi(endpoint=hub_server.url, token=hub_server.token)


def test_model_info(hub_server: HubServer, api: HfApi) -> None:
    first = hub_server.add_model("org/m", FILES)
    second = hub_server.push("org/m", {"extra.txt": b"x"})
    info = api.model_info("org/m")
    assert (info.id, info.sha, info.private, info.gated, info.safetensors) == (
        "org/m",
        second,
        False,
        False,
        None,
    )
    assert sorted(s.rfilename for s in info.siblings) == sorted([*FILES, "extra.txt"])
    assert info.last_modified is not None
    old = api.model_info("org/m", revision=first)
    assert old.sha == first and "extra.txt" not in [s.rfilename for s in old.siblings]


def test_errors_carry_the_hub_error_codes(hub_server: HubServer, api: HfApi, writer: HfApi) -> None:
    hub_server.add_model("org/private", FILES, private=True)
    hub_server.add_model("org/m", FILES)
    for repo_id in ("org/missing", "org/private"):
        with pytest.raises(RepositoryNotFoundError) as anonymous:
            api.model_info(repo_id)
        assert anonymous.value.response.status_code == 401  # as the Hub: 401 without a token ...
        with pytest.raises(RepositoryNotFoundError) as missing:
            HfApi(endpoint=hub_server.url, token="hf_someone_else").model_info(repo_id)
        assert missing.value.response.status_code == 404  # ... and 404 with one
    assert writer.model_info("org/private").private is True
    with pytest.raises(RevisionNotFoundError):
        api.model_info("org/m", revision="v9")
    with pytest.raises(RepositoryNotFoundError):
        api.dataset_info("org/m")  # a model is not a dataset


def test_gated_repo_shows_info_but_not_files(hub_server: HubServer, api: HfApi, tmp_path) -> None:
    hub_server.add_model("org/gated", FILES, gated=True)
    assert api.model_info("org/gated").gated == "manual"
    with pytest.raises(GatedRepoError):
        hf_hub_download("org/gated", "config.json", endpoint=hub_server.url, cache_dir=tmp_path, token=False)
    path = hf_hub_download(
        "org/gated", "config.json", endpoint=hub_server.url, cache_dir=tmp_path, token=hub_server.token
    )
    assert open(path, "rb").read() == FILES["config.json"]


def test_tree_listing(hub_server: HubServer, api: HfApi) -> None:
    hub_server.add_model("org/m", FILES)
    top = {entry.path: type(entry).__name__ for entry in api.list_repo_tree("org/m")}
    assert top == {"README.md": "RepoFile", "config.json": "RepoFile", "sub": "RepoFolder"}
    deep = {entry.path for entry in api.list_repo_tree("org/m", recursive=True)}
    assert deep == {"README.md", "config.json", "sub", "sub/dir", "sub/dir/notes.txt"}
    (notes,) = api.list_repo_tree("org/m", path_in_repo="sub/dir")
    assert (notes.size, notes.blob_id) == (5, git_blob_sha(b"hello"))
    assert sorted(api.list_repo_files("org/m")) == sorted(FILES)
    with pytest.raises(EntryNotFoundError):
        list(api.list_repo_tree("org/m", path_in_repo="nothing"))


def test_download_headers_and_ranges(hub_server: HubServer, tmp_path) -> None:
    sha = hub_server.add_model("org/m", FILES)
    url = f"{hub_server.url}/org/m/resolve/main/sub/dir/notes.txt"
    head = httpx2.head(url)
    assert head.status_code == 200 and head.content == b""
    assert head.headers["X-Repo-Commit"] == sha
    assert head.headers["ETag"] == f'"{git_blob_sha(b"hello")}"'
    assert head.headers["Content-Length"] == "5"
    ranged = httpx2.get(url, headers={"Range": "bytes=1-3"})
    assert (ranged.status_code, ranged.content, ranged.headers["Content-Range"]) == (
        206,
        b"ell",
        "bytes 1-3/5",
    )
    assert httpx2.get(url, headers={"Range": "bytes=-2"}).content == b"lo"
    assert httpx2.get(url, headers={"Range": "bytes=9-"}).status_code == 416
    missing = httpx2.get(f"{hub_server.url}/org/m/resolve/main/nope.txt")
    assert (missing.status_code, missing.headers["X-Error-Code"], missing.headers["X-Repo-Commit"]) == (
        404,
        "EntryNotFound",
        sha,
    )
    path = hf_hub_download(
        "org/m", "sub/dir/notes.txt", revision=sha, endpoint=hub_server.url, cache_dir=tmp_path, token=False
    )
    assert open(path, "rb").read() == b"hello"
    with pytest.raises(EntryNotFoundError):
        hf_hub_download("org/m", "nope.txt", endpoint=hub_server.url, cache_dir=tmp_path, token=False)


def test_dataset_commit_cycle(hub_server: HubServer, writer: HfApi) -> None:
    start = hub_server.add_dataset("org/d", {"keep.json": b"{}", "old/a.json": b"1"})
    info = writer.create_commit(
        "org/d",
        [CommitOperationAdd("new/b.json", b'{"id": "b"}'), CommitOperationDelete("old/")],
        commit_message="update",
        repo_type="dataset",
        parent_commit=start,
    )
    assert info.oid == hub_server.head("org/d", "dataset") != start
    assert writer.dataset_info("org/d").sha == info.oid
    assert writer.list_repo_refs("org/d", repo_type="dataset").branches[0].target_commit == info.oid
    assert set(hub_server.files("org/d", "dataset")) == {".gitattributes", "keep.json", "new/b.json"}
    assert hub_server.files("org/d", "dataset", revision=start)["old/a.json"] == b"1"  # history is kept
    with pytest.raises(HfHubHTTPError) as stale:
        writer.create_commit(
            "org/d",
            [CommitOperationAdd("c.json", b"{}")],
            commit_message="late",
            repo_type="dataset",
            parent_commit=start,
        )
    assert stale.value.response.status_code == 412
    assert "A commit has happened since. Please refresh and try again." in str(stale.value)
    assert hub_server.rejected_commits == 1 and "c.json" not in hub_server.files("org/d", "dataset")


def test_preupload_answers_regular_mode_with_existing_oids(hub_server: HubServer) -> None:
    hub_server.add_dataset("org/d", {"a.json": b"{}"})
    sample = base64.b64encode(b"{}").decode()
    answer = httpx2.post(
        f"{hub_server.url}/api/datasets/org/d/preupload/main",
        json={
            "files": [
                {"path": "a.json", "sample": sample, "size": 2},
                {"path": "b.json", "sample": sample, "size": 2},
            ]
        },
        headers={"Authorization": f"Bearer {hub_server.token}"},
    ).json()["files"]
    assert [(f["path"], f["uploadMode"], f["oid"]) for f in answer] == [
        ("a.json", "regular", git_blob_sha(b"{}")),
        ("b.json", "regular", None),
    ]


def test_commits_need_the_token_and_a_branch(hub_server: HubServer, api: HfApi, writer: HfApi) -> None:
    start = hub_server.add_dataset("org/d")
    with pytest.raises(HfHubHTTPError) as anonymous:
        api.create_commit(
            "org/d", [CommitOperationAdd("x.json", b"{}")], commit_message="m", repo_type="dataset"
        )
    assert anonymous.value.response.status_code == 401
    with pytest.raises(RevisionNotFoundError):
        writer.create_commit(
            "org/d",
            [CommitOperationAdd("x.json", b"{}")],
            commit_message="m",
            repo_type="dataset",
            revision="no-such-branch",
        )
    assert hub_server.head("org/d", "dataset") == start


def test_unknown_routes_and_bad_bodies_answer_json(hub_server: HubServer) -> None:
    hub_server.add_dataset("org/d")
    unknown = httpx2.get(f"{hub_server.url}/api/spaces/org/x")
    assert unknown.status_code == 404 and "error" in unknown.json()
    broken = httpx2.post(
        f"{hub_server.url}/api/datasets/org/d/commit/main",
        content=b"not json\n",
        headers={"Authorization": f"Bearer {hub_server.token}"},
    )
    assert broken.status_code == 400 and json.loads(broken.content)["error"].startswith("malformed NDJSON")


def test_injected_faults_refuse_answer_late_or_hang_up(hub_server: HubServer, writer: HfApi) -> None:
    hub_server.add_dataset("org/d")
    before = hub_server.head("org/d", "dataset")
    add = [CommitOperationAdd("a.json", b"{}")]
    refused = hub_server.inject(Fault(path=r"/commit/", method="POST", status=429))
    with pytest.raises(HfHubHTTPError) as error:
        writer.create_commit("org/d", add, commit_message="m", repo_type="dataset")
    assert error.value.response.status_code == 429 and refused.hits == 1
    assert hub_server.head("org/d", "dataset") == before  # refused: nothing landed

    hub_server.inject(Fault(path=r"/commit/", method="POST", status=500, after=True))
    with pytest.raises(HfHubHTTPError) as error:
        writer.create_commit("org/d", add, commit_message="m", repo_type="dataset")
    assert error.value.response.status_code == 500
    assert "a.json" in hub_server.files("org/d", "dataset")  # it landed, only the answer was lost

    hub_server.inject(Fault(path=r"/refs", hang_up=True))
    with pytest.raises(httpx2.TransportError):
        writer.list_repo_refs("org/d", repo_type="dataset")
    assert writer.list_repo_refs("org/d", repo_type="dataset").branches  # the fault was used up

    hub_server.inject(Fault(path=r"/refs", status=None, delay_s=0.3))
    start = time.monotonic()
    writer.list_repo_refs("org/d", repo_type="dataset")
    assert time.monotonic() - start >= 0.3

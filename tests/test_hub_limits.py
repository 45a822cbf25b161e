"""The local Hub enforces the Hub's limits when a test asks (``@pytest.mark.hub_limits``), and the real
huggingface_hub client sees what it sees on the Hub: the commit quota's 429, the API and resolver quotas'
429 with ``RateLimit`` headers, tree listings in pages, 412 on a stale parent. Without the mark it counts
traffic and refuses nothing, as before."""

from __future__ import annotations

import httpx2
import pytest
from huggingface_hub import CommitOperationAdd, HfApi, hf_hub_url
from huggingface_hub.errors import HfHubHTTPError
from huggingface_hub.utils import build_hf_headers, get_session, hf_raise_for_status

from localhub.limits import COMMIT_QUOTA_MESSAGE, HUB_LIMITS, caller_of
from tests.hub_server import HubServer

REPO = "org/requests"


@pytest.fixture
def writer(hub_server: HubServer) -> HfApi:
    return HfApi(endpoint=hub_server.url, token=hub_server.token)


def commit(api: HfApi, name: str, repo: str = REPO, parent: str | None = None) -> str:
    operation = CommitOperationAdd(f"requests/{name}.json", f'{{"id": "{name}"}}'.encode())
    return api.create_commit(repo, [operation], commit_message=name, repo_type="dataset", parent_commit=parent).oid


def info_answer(server: HubServer, token: str) -> httpx2.Response:
    """The raw answer to a repo-info call, headers and all."""
    return get_session().get(f"{server.url}/api/datasets/{REPO}", headers=build_hf_headers(token=token))


def test_the_hub_preset_holds_the_hubs_numbers() -> None:
    assert (HUB_LIMITS.commits_per_repo, HUB_LIMITS.commit_window_s) == (128, 3600)
    assert (HUB_LIMITS.api_calls, HUB_LIMITS.resolver_calls, HUB_LIMITS.window_s) == (1000, 5000, 300)
    assert (HUB_LIMITS.api_calls_anonymous, HUB_LIMITS.resolver_calls_anonymous) == (500, 3000)
    assert (HUB_LIMITS.tree_page_size, HUB_LIMITS.tree_expand_page_size) == (1000, 50)


@pytest.mark.hub_limits
def test_the_129th_commit_in_an_hour_gets_the_hubs_429(hub_server: HubServer, writer: HfApi) -> None:
    hub_server.add_dataset(REPO)  # set-up commits are not counted
    hub_server.add_dataset("org/results")
    for n in range(128):
        commit(writer, f"r{n}")
    head = hub_server.head(REPO, "dataset")
    with pytest.raises(HfHubHTTPError) as refused:
        commit(writer, "r128")
    assert type(refused.value) is HfHubHTTPError  # the type huggingface_hub raises for the Hub's quota
    response = refused.value.response
    assert response.status_code == 429 and COMMIT_QUOTA_MESSAGE in str(refused.value)
    assert response.headers["Retry-After"] == "3600"  # the clock stood still: the whole hour is left
    assert hub_server.head(REPO, "dataset") == head  # nothing landed
    commit(writer, "other", repo="org/results")  # the quota is per repo

    hub_server.limits.clock.advance(3599)
    with pytest.raises(HfHubHTTPError) as still:
        commit(writer, "r128")
    assert still.value.response.headers["Retry-After"] == "1"
    hub_server.limits.clock.advance(1)  # an hour after the first 128: the quota is free again
    commit(writer, "r128")
    assert "requests/r128.json" in hub_server.files(REPO, "dataset")
    assert hub_server.stats()["commits"]["datasets/org/requests"] == {
        "last_hour": 1,
        "peak": 128,
        "total": 129,
        "refused": 2,
    }
    assert hub_server.limits.peak_ratios()["commits_per_repo_hour"] == 1.0


@pytest.mark.hub_limits
def test_a_stale_parent_gets_412_and_costs_no_quota(hub_server: HubServer, writer: HfApi) -> None:
    start = hub_server.add_dataset(REPO)
    commit(writer, "first", parent=start)
    with pytest.raises(HfHubHTTPError) as stale:
        commit(writer, "late", parent=start)
    assert stale.value.response.status_code == 412
    assert "A commit has happened since. Please refresh and try again." in str(stale.value)
    assert "requests/late.json" not in hub_server.files(REPO, "dataset")
    assert hub_server.stats()["commits"]["datasets/org/requests"]["total"] == 1


@pytest.mark.hub_limits
def test_the_1001st_api_call_in_five_minutes_is_refused(hub_server: HubServer, writer: HfApi) -> None:
    hub_server.add_dataset(REPO)
    for _ in range(1000):
        writer.dataset_info(REPO)
    with pytest.raises(HfHubHTTPError) as refused:
        writer.dataset_info(REPO)
    assert refused.value.response.status_code == 429
    assert refused.value.response.headers["RateLimit"] == '"api";r=0;t=300'
    assert refused.value.response.headers["RateLimit-Policy"] == '"fixed window";"api";q=1000;w=300'
    assert "you have reached your 'api' rate limit" in str(refused.value)
    assert "(0/1000 requests remaining in current 300s window)" in str(refused.value)

    other = HfApi(endpoint=hub_server.url, token="hf_another_user")  # quotas are per token
    assert other.dataset_info(REPO).id == REPO
    hub_server.limits.clock.advance(120)
    with pytest.raises(HfHubHTTPError, match="Retry after 180 seconds"):
        writer.dataset_info(REPO)
    hub_server.limits.clock.advance(180)  # the next 5-minute window
    served = info_answer(hub_server, writer.token)
    assert served.status_code == 200 and served.headers["RateLimit"] == '"api";r=999;t=300'
    api = hub_server.stats()["api"][caller_of(writer.token)]
    assert api == {"window": 1, "peak": 1000, "refused": 2}


@pytest.mark.hub_limits(api_calls_anonymous=3)
def test_anonymous_calls_are_counted_by_address(hub_server: HubServer) -> None:
    hub_server.add_dataset(REPO)
    anonymous = HfApi(endpoint=hub_server.url, token=False)
    for _ in range(3):
        anonymous.dataset_info(REPO)
    with pytest.raises(HfHubHTTPError, match="you have reached your 'api' rate limit"):
        anonymous.dataset_info(REPO)
    assert hub_server.stats()["api"]["ip:127.0.0.1"]["refused"] == 1


@pytest.mark.hub_limits(resolver_calls=20)
def test_downloads_have_their_own_quota(hub_server: HubServer, writer: HfApi) -> None:
    hub_server.add_dataset(REPO, {"requests/a.json": b"{}"})
    url = hf_hub_url(REPO, "requests/a.json", repo_type="dataset", endpoint=hub_server.url)
    headers = build_hf_headers(token=writer.token)
    for _ in range(20):  # the way the Hub store downloads a record
        hf_raise_for_status(get_session().get(url, headers=headers))
    with pytest.raises(HfHubHTTPError, match="you have reached your 'resolvers' rate limit") as refused:
        hf_raise_for_status(get_session().get(url, headers=headers))
    assert refused.value.response.headers["RateLimit-Policy"] == '"fixed window";"resolvers";q=20;w=300'
    assert writer.dataset_info(REPO).id == REPO  # API calls are another bucket
    stats = hub_server.stats()
    assert stats["resolvers"][caller_of(writer.token)] == {"window": 20, "peak": 20, "refused": 1}
    assert hub_server.limits.peak_ratios()["resolvers_per_window"] == 20 / 5000


def folder_of(count: int) -> dict[str, bytes]:
    return {f"results/r{n:05d}.json": b"{}" for n in range(count)}


def tree_requests(server: HubServer) -> int:
    return sum(1 for method, path in server.requests if "/tree/" in path)


@pytest.mark.hub_limits
def test_tree_listings_come_in_pages_the_client_follows(hub_server: HubServer, writer: HfApi) -> None:
    hub_server.add_dataset(REPO, {**folder_of(2345), "results/sub/x.json": b"{}"})
    listed = [entry.path for entry in writer.list_repo_tree(REPO, "results", repo_type="dataset")]
    assert len(listed) == len(set(listed)) == 2346  # 2,345 files and the folder "results/sub"
    assert set(listed) == {*folder_of(2345), "results/sub"}
    assert tree_requests(hub_server) == 3  # 1,000 + 1,000 + 346

    page_sizes, url = [], f"{hub_server.url}/api/datasets/{REPO}/tree/main/results?recursive=true"
    while url:
        page = httpx2.get(url, headers=build_hf_headers(token=writer.token))
        page_sizes.append(len(page.json()))
        url = page.links.get("next", {}).get("url")
    assert page_sizes == [1000, 1000, 347]  # recursive: the folder and its file too

    before = tree_requests(hub_server)
    expanded = list(writer.list_repo_tree(REPO, "results/sub", repo_type="dataset", expand=True))
    assert [entry.path for entry in expanded] == ["results/sub/x.json"]
    everything = list(writer.list_repo_tree(REPO, repo_type="dataset", expand=True, recursive=True))
    assert len(everything) == 2349  # with .gitattributes and the folder "results"
    assert tree_requests(hub_server) - before == 1 + 47  # pages of 50 with expand=true


def test_without_the_mark_nothing_is_refused_or_paged(hub_server: HubServer, writer: HfApi) -> None:
    hub_server.add_dataset(REPO, folder_of(1500))
    assert len(list(writer.list_repo_tree(REPO, "results", repo_type="dataset"))) == 1500
    assert tree_requests(hub_server) == 1
    for n in range(130):
        commit(writer, f"r{n}")
    assert "RateLimit" not in info_answer(hub_server, writer.token).headers
    stats = hub_server.stats()
    assert stats["commits"]["datasets/org/requests"] == {"last_hour": 130, "peak": 130, "total": 130, "refused": 0}
    assert hub_server.limits.peak_ratios()["commits_per_repo_hour"] == 130 / 128  # counted against the Hub's

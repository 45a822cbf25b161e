"""The public Gradio API, called with the real client against the real app (``app.build_app``) on a local store."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import fastapi
import gradio as gr
import pytest
import uvicorn
from gradio_client import Client
from gradio_client.exceptions import AppError

import app
from arena.votes import make_vote
from store.base import LocalStore
from store.details_files import write_details
from store.hub import HubStore
from submissions.hub_models import HubModels, hub_api
from tests.board_records import aggregated, result
from tests.browser import free_port
from tests.hub_server import HubServer
from tests.test_submit_api import FIELDS
from tests.test_submit_service import SMALL_BASE, adapter

PUBLIC = {"/read_board", "/export_board", "/read_details", "/submit", "/read_queue", "/arena_ratings"}
RESULTS = [
    result("res-a", "Alpha", 60.0, comm_gb=10.0, date="2026-01-10", stem=70.0, social_sciences=55.0, humanities=55.0),
    result("res-b", "Beta", 50.0, comm_gb=2.0, date="2026-02-10", stem=40.0, social_sciences=60.0, humanities=50.0),
    result("res-c", "Gamma", 40.0, comm_gb=5.0, date="2026-03-10", base="Mistral-7B-v0.3", stem=45.0,
           social_sciences=35.0, humanities=40.0),
    result("res-d", "=HYPERLINK(1)", 30.0, comm_gb=1.0, date="2026-03-11", stem=30.0, social_sciences=30.0,
           humanities=30.0),
]
REQUESTS = [
    {"id": f"req-{team.lower()}", "challenge": challenge, "repo_id": f"{team.lower()}/adapter", "commit": "c" * 40,
     "team": team, "team_key": team.lower(), "submitted_at": when, "state": state, "attempts": 0}
    for team, challenge, when, state in [("Alpha", "general_nlp", "2026-03-10T09:00:00+00:00", "PENDING"),
                                         ("Beta", "finance", "2026-03-10T10:00:00+00:00", "PENDING"),
                                         ("Gamma", "general_nlp", "2026-03-09T10:00:00+00:00", "FAILED")]
]


RES_B_SAMPLES = {"stem": [{"prompt": f"question {i}", "output": " B", "parsed": "b", "gold": "B", "correct": i % 2 == 0}
                         for i in range(12)],
                "humanities": [{"prompt": "h", "output": " C", "parsed": "c", "gold": "D", "correct": False}] * 2}


def _vote(number: int, outcome: str, anonymous: bool = True):
    return make_vote(board="general_nlp", conversation_id=f"conv-{number}", a={"entry": "res-a", "label": "Alpha"},
                     b={"entry": "res-b", "label": "Beta"}, conversation=[{"user": f"q{number}", "a": "x", "b": "y"}],
                     outcome=outcome, voter=f"session-{number}", anonymous=anonymous)


@pytest.fixture(scope="module")
def api(tmp_path_factory) -> Iterator[tuple[Client, LocalStore]]:
    """The whole app, as `python app.py` composes it, with results, requests and votes in its store."""
    store = LocalStore(tmp_path_factory.mktemp("store"))
    aggregated(store, RESULTS)
    store.put("details", {"id": "res-a", "samples": {"stem": [{"prompt": "p", "output": "a", "correct": True}] * 3}})
    write_details(store, "res-b", 1, "gpu-1", RES_B_SAMPLES)
    for record in REQUESTS:
        store.put("requests", record)
    for number, outcome in enumerate(["a", "a", "b", "tie"]):
        store.put("votes", _vote(number, outcome))
    store.put("votes", _vote(9, "b", anonymous=False))  # a picked pair: kept, not rated
    with HubServer() as hub, pytest.MonkeyPatch.context() as env:
        env.setenv("ARENA_DEMO", "off")
        env.delenv("SPACE_ID", raising=False)
        hub.add_model("org/small-base", {"config.json": json.dumps(SMALL_BASE).encode()})
        hub.add_model("team/adapter", adapter("org/small-base"))
        demo = app.build_app(store, HubModels(hub_api(hub.url)))
        port = free_port()
        demo.launch(prevent_thread_lock=True, server_port=port, quiet=True)
        try:
            yield Client(f"http://127.0.0.1:{port}/", verbose=False), store
        finally:
            demo.close()


def read_board(client: Client, challenge: str = "general_nlp", **params) -> dict:
    """Verified rows only unless ``sources`` says otherwise (the app also imports the published rows)."""
    return client.predict(challenge, **{"sources": ["verified"], **params}, api_name="/read_board")


def test_view_api_lists_exactly_the_public_named_endpoints(api):
    client, _ = api
    info = client.view_api(return_format="dict", print_info=False)
    assert set(info["named_endpoints"]) == PUBLIC and not info["unnamed_endpoints"]
    names = [p["parameter_name"] for p in info["named_endpoints"]["/read_board"]["parameters"]]
    assert names == ["challenge", "query", "base_models", "comm_min", "comm_max", "date_from", "date_to", "sources",
                     "sort_by", "descending", "page", "page_size"]
    assert [p["parameter_name"] for p in info["named_endpoints"]["/arena_ratings"]["parameters"]] == ["board"]
    assert [p["parameter_name"] for p in info["named_endpoints"]["/submit"]["parameters"]] == [  # no OAuth profile
        "challenge", "team", "repo_id", "revision", "base_model", "code_url", "comm_gb", "num_clients", "num_rounds",
        "contact_email", "description", "kind", "recipe"]


def test_read_board_takes_sort_column_direction_and_page_from_its_parameters(api):
    client, _ = api
    answer = read_board(client, sort_by="comm_gb", descending=True, page=2, page_size=1)
    assert (answer["total"], answer["page"], answer["pages"]) == (4, 2, 4)
    assert [row["team"] for row in answer["rows"]] == ["Gamma"]
    assert answer["rows"][0]["comm_gb"] == 5.0 and answer["rows"][0]["stem"] == 45.0
    by_stem = read_board(client, sort_by="stem", descending=False)
    assert [row["team"] for row in by_stem["rows"]] == ["=HYPERLINK(1)", "Beta", "Gamma", "Alpha"]
    default = read_board(client)  # the call before leaves nothing behind: rank order, first page
    ranks = [row["rank"] for row in default["rows"]]  # ranked among the published rows too
    assert ranks == sorted(ranks) and [row["team"] for row in default["rows"]][:3] == ["Alpha", "Beta", "Gamma"]
    assert default["rows"][0]["details_url"] == "?details=res-a"
    assert default["precision"] == "4-bit FP4 (bitsandbytes, float32 compute), float32"  # General NLP's official


def test_read_board_filters_from_its_parameters(api):
    client, _ = api
    assert [r["team"] for r in read_board(client, query="gamma")["rows"]] == ["Gamma"]
    assert [r["team"] for r in read_board(client, base_models=["model:Mistral-7B-v0.3"])["rows"]] == ["Gamma"]
    assert [r["team"] for r in read_board(client, comm_min=2, comm_max=5)["rows"]] == ["Beta", "Gamma"]
    assert [r["team"] for r in read_board(client, date_from="01.02.26", date_to="2026-03-10")["rows"]] == \
        ["Beta", "Gamma"]
    published = read_board(client, sources=["published"])
    assert published["total"] > 0 and {r["source"] for r in published["rows"]} == {"published"}


def test_export_board_is_the_query_it_is_given_not_the_previous_one(api):
    client, _ = api
    read_board(client, query="gamma")
    text = client.predict("general_nlp", sources=["verified"], sort_by="average", descending=False,
                          columns=["team", "average", "comm_gb"], api_name="/export_board")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows == [["Team", "Comm. Costs (GB)", "Average (↑)"], ["'=HYPERLINK(1)", "1", "30.0"],
                    ["Gamma", "5", "40.0"], ["Beta", "2", "50.0"], ["Alpha", "10", "60.0"]]


@pytest.mark.parametrize(("endpoint", "args", "params", "message"), [
    ("/read_board", ["nope"], {}, "Unknown challenge 'nope': use one of general_nlp"),
    ("/read_board", ["general_nlp"], {"sort_by": "shoe_size"}, "sort_by 'shoe_size' is not a column of General NLP"),
    ("/read_board", ["general_nlp"], {"date_from": "garbage"}, "'garbage' is not a date: use YYYY-MM-DD"),
    ("/read_board", ["general_nlp"], {"comm_min": 5, "comm_max": 1}, "comm_min (5) is larger than comm_max (1)"),
    ("/read_board", ["general_nlp"], {"comm_min": -1}, "comm_min must be a number of GB, 0 or more"),
    ("/read_board", ["general_nlp"], {"sources": ["rumoured"]}, "unknown source 'rumoured'"),
    ("/read_board", ["general_nlp"], {"base_models": ["Qwen"]}, "must start with 'family:' or 'model:'"),
    ("/read_board", ["general_nlp"], {"page": 0}, "page must be 1 or more"),
    ("/read_board", ["general_nlp"], {"page_size": 10_000}, "page_size must be between 1 and 100"),
    ("/export_board", ["general_nlp"], {"columns": ["password"]}, "columns: 'password' is not a column"),
    ("/export_board", ["finance"], {"date_to": "31.02.26"}, "'31.02.26' is not a date"),
    ("/read_details", ["res-zzz"], {}, "No result with id 'res-zzz'"),
    ("/read_details", ["../../etc/passwd"], {}, "No result with id '../../etc/passwd'"),
    ("/read_queue", ["medicine"], {}, "Unknown challenge 'medicine'"),
    ("/read_queue", [], {"page_size": 0}, "page_size must be between 1 and 100"),
    ("/arena_ratings", ["chess"], {}, "Unknown arena board 'chess': use one of general_nlp"),
    ("/read_board", ["general_nlp"], {"page": "abc"}, "page must be a whole number, not 'abc'"),
    ("/read_board", ["general_nlp"], {"page": 1.5}, "page must be a whole number, not 1.5"),
    ("/read_board", ["general_nlp"], {"comm_max": "ten"}, "comm_max must be a number or null, not 'ten'"),
    ("/read_board", ["general_nlp"], {"descending": "yes"}, "descending must be true or false, not 'yes'"),
    ("/read_board", ["general_nlp"], {"sources": "verified"}, "sources must be a list of text or null, not 'verified'"),
    ("/read_board", [None], {}, "challenge must be text, not None"),
    ("/read_details", [5], {}, "result_id must be text, not 5"),
    ("/read_details", ["res-b"], {"column": "econometrics"},
     "column 'econometrics' has no per-sample outputs in res-b: use one of stem, humanities"),
    ("/read_details", ["res-b"], {"offset": -1}, "offset must be 0 or more (got -1)"),
    ("/read_details", ["res-b"], {"limit": 0}, "limit must be between 1 and 100 (got 0)"),
    ("/read_details", ["res-b"], {"limit": 1000}, "limit must be between 1 and 100 (got 1000)"),
    ("/read_details", ["res-b"], {"offset": "ten"}, "offset must be a whole number, not 'ten'"),
    ("/read_details", ["res-b"], {"column": ["stem"]}, "column must be text, not ['stem']"),
    ("/read_queue", ["", ["Team"]], {}, "team must be text, not ['Team']"),
])
def test_bad_input_is_an_error_whose_message_the_client_sees(api, endpoint, args, params, message):
    client, store = api
    before = {c: store.version(c) for c in ("results", "requests", "votes")}
    with pytest.raises(AppError, match=re.escape(message)):
        client.predict(*args, **params, api_name=endpoint)
    assert {c: store.version(c) for c in before} == before


def test_read_details_returns_the_stored_result_and_its_sample_counts(api):
    client, _ = api
    answer = client.predict("res-a", api_name="/read_details")  # details stored as JSON, before Parquet
    assert answer["result"] == RESULTS[0] and answer["sample_counts"] == {"stem": 3}
    assert answer["samples"]["total"] == 3 and answer["samples"]["rows"][0] == {
        "column": "stem", "index": 0, "prompt": "p", "output": "a", "correct": True}


def test_read_details_reads_one_slice_of_one_column(api):
    client, _ = api
    everything = client.predict("res-b", api_name="/read_details")
    assert everything["sample_counts"] == {"stem": 12, "humanities": 2} and everything["notice"] is None
    assert everything["samples"]["total"] == 14 and len(everything["samples"]["rows"]) == 14
    page = client.predict("res-b", column="stem", offset=10, limit=5, api_name="/read_details")["samples"]
    assert (page["column"], page["offset"], page["limit"], page["total"]) == ("stem", 10, 5, 12)
    assert page["rows"] == [{"column": "stem", "index": i, **RES_B_SAMPLES["stem"][i]} for i in (10, 11)]


def test_read_queue_filters_by_challenge_and_team_and_pages(api):
    client, _ = api
    everything = client.predict(api_name="/read_queue")
    ids = [row["id"] for row in everything["rows"]]
    assert {"req-alpha", "req-beta", "req-gamma"} <= set(ids) and ids.index("req-gamma") > ids.index("req-alpha")
    nlp = client.predict("general_nlp", api_name="/read_queue")
    assert {row["id"] for row in nlp["rows"]} >= {"req-alpha", "req-gamma"} and "req-beta" not in \
        {row["id"] for row in nlp["rows"]}
    beta = client.predict("", "BETA", api_name="/read_queue")
    assert [(r["id"], r["state"], r["status"]) for r in beta["rows"]] == [("req-beta", "PENDING", "position 2")]
    paged = client.predict("", "", 2, 1, api_name="/read_queue")
    assert paged["rows"] == everything["rows"][1:2] and paged["pages"] == everything["total"]


def test_arena_ratings_counts_rated_and_picked_pair_votes(api):
    client, _ = api
    answer = client.predict("general_nlp", api_name="/arena_ratings")
    assert (answer["rated_votes"], answer["picked_pair_votes"], answer["unsigned_votes"]) == (4, 1, 0)
    entries = {e["label"]: e for e in answer["entries"]}
    assert set(entries) == {"Alpha", "Beta"} and entries["Alpha"]["rating"] > entries["Beta"]["rating"]
    assert (entries["Alpha"]["wins"], entries["Alpha"]["losses"], entries["Alpha"]["ties"]) == (2, 1, 1)
    assert entries["Alpha"]["provisional"] is True and entries["Alpha"]["rank"] is None  # 4 < 10 rated votes


def test_submit_queues_through_the_api_and_read_queue_shows_it(api):
    client, store = api
    answer = client.predict(*FIELDS, api_name="/submit")
    assert answer["status"] == "queued" and isinstance(answer["position"], int) and answer["reasons"] == []
    assert answer["message"] == f"Queued as {answer['request_id']}, position {answer['position']} in the queue."
    named = client.predict(challenge="general_nlp", team="Named Team", repo_id="team/adapter", revision="main",
                           base_model="org/small-base", code_url="https://github.com/t/fl", comm_gb="3.5",
                           contact_email="lead@team.org", api_name="/submit")
    assert named["status"] == "duplicate" and named["request_id"] == answer["request_id"]
    refused = client.predict(challenge="general_nlp", team="X", repo_id="not a repo", comm_gb="1,000",
                             api_name="/submit")
    assert refused["status"] == "refused" and refused["request_id"] is None
    assert any("1,000" in reason for reason in refused["reasons"])
    assert [r["id"] for r in store.all("requests") if r["team"] in ("API Team", "Named Team", "X")] == \
        [answer["request_id"]]
    queued = client.predict("general_nlp", "API Team", api_name="/read_queue")
    assert [(r["team"], r["state"]) for r in queued["rows"]] == [("API Team", "PENDING")]


@contextlib.contextmanager
def served_as_on_a_space(demo) -> Iterator[str]:
    """Serve ``demo`` as a Space does (its OAuth routes are the real ones) under uvicorn: ``demo.launch()`` on a
    Space also starts the Spaces hot-reloader, which needs the ``spaces`` package."""
    served = gr.mount_gradio_app(fastapi.FastAPI(), demo, path="/")
    server = uvicorn.Server(uvicorn.Config(served, host="127.0.0.1", port=free_port(), log_level="warning",
                                           timeout_graceful_shutdown=1))  # the client's event stream stays open
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{server.config.port}/"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def test_on_a_space_the_submit_endpoint_still_requires_signing_in(tmp_path, monkeypatch, space_oauth):
    monkeypatch.setenv("ARENA_DEMO", "off")
    store = LocalStore(tmp_path)
    with served_as_on_a_space(app.build_app(store)) as url:
        client = Client(url, verbose=False)
        assert set(client.view_api(return_format="dict", print_info=False)["named_endpoints"]) == PUBLIC
        answer = client.predict(*FIELDS, api_name="/submit")
    assert answer["status"] == "refused" and "Sign in with Hugging Face to submit" in answer["message"]
    assert store.all("requests") == []


def test_the_readme_example_runs_against_the_app(api, capsys):
    client, _ = api
    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## API\n", 1)[1].split("\n## ", 1)[0]
    example = section.split("```python\n", 1)[1].split("```", 1)[0]
    assert 'Client("http://127.0.0.1:7860/")' in example
    scope: dict = {}
    exec(example.replace("http://127.0.0.1:7860/", client.src), scope)  # noqa: S102 - our own README's code
    assert scope["board"]["rows"] and scope["csv_text"].startswith("Rank,") and "rows" in scope["queue"]
    assert scope["details"]["result"]["id"] == scope["board"]["rows"][0]["id"]
    printed = [line for line in capsys.readouterr().out.splitlines() if not line.startswith("Loaded as API")]
    samples = [f"{s['column']} {s['index']} {s.get('correct')}" for s in scope["details"]["samples"]["rows"]]
    assert printed == [f"{r['rank']} {r['team']} {r['average']} {r['comm_gb']}" for r in scope["board"]["rows"]] \
        + samples


def test_arena_ratings_says_when_the_arena_is_off(tmp_path, monkeypatch):
    monkeypatch.setenv("ARENA_DEMO", "off")
    monkeypatch.setenv("ARENA_VOTES_PER_DAY", "lots")  # a bad setting switches the arena off
    demo = app.build_app(LocalStore(tmp_path))
    port = free_port()
    demo.launch(prevent_thread_lock=True, server_port=port, quiet=True)
    try:
        client = Client(f"http://127.0.0.1:{port}/", verbose=False)
        with pytest.raises(AppError, match=r"The arena is off on this Space \(its Arena tab says why\)"):
            client.predict("general_nlp", api_name="/arena_ratings")
        assert client.predict("general_nlp", api_name="/read_board")["total"] > 0  # the rest of the API runs
    finally:
        demo.close()


def test_during_a_hub_outage_reads_serve_the_last_data_and_say_it_may_be_out_of_date(hub_server, tmp_path, monkeypatch):
    monkeypatch.setenv("ARENA_DEMO", "off")
    for repo in ("org/requests", "org/results"):
        hub_server.add_dataset(repo)
    repos = {"requests": "org/requests", "results": "org/results", "votes": "org/results", "details": "org/results",
             "boards": "org/results"}
    store = HubStore(repos, token=hub_server.token, endpoint=hub_server.url, cache_dir=tmp_path, timeout_s=0.5)
    aggregated(store, [RESULTS[1]])
    store.put("requests", REQUESTS[0])
    demo = app.build_app(store)
    port = free_port()
    demo.launch(prevent_thread_lock=True, server_port=port, quiet=True)
    try:
        client = Client(f"http://127.0.0.1:{port}/", verbose=False)
        assert client.predict(api_name="/read_queue")["notice"] is None
        hub_server.stop()
        time.sleep(0.1)
        queue = client.predict(api_name="/read_queue")
        assert [row["id"] for row in queue["rows"]] == ["req-alpha"] and "Could not reach the Hub" in queue["notice"]
        assert [row["team"] for row in read_board(client)["rows"]] == ["Beta"]  # the last results read
        during = client.predict("res-b", api_name="/read_details")
        assert during["result"]["team"] == "Beta" and during["samples"] is None
        assert "cannot be read now" in during["notice"]
    finally:
        demo.close()

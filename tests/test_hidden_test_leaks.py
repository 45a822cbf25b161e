"""No hidden-test score leaks before the reveal, checked on the whole app (``app.build_app``) over a Hub store on
the local Hub server, as a Space runs it (public requests/results datasets, a private one): every public Gradio
API endpoint through ``gradio_client``, the CSV export and every file of the public datasets. Then a refused
reveal changes nothing and an organiser's reveal shows the test columns, the rank by test average, the gaps and
the correlation through ``read_board`` (and makes the values appear where the checks look, so the checks can
see them)."""

from __future__ import annotations

import csv
import io
import json
import statistics
import time
from collections.abc import Iterator

import pytest
from gradio_client import Client
from gradio_client.exceptions import AppError

import app
from challenges.definitions import challenges
from leaderboard.hidden_test import HIDDEN_SCORES, NOT_ORGANISER, reveal_hidden_test
from store.details_files import write_details
from store.factory import DERIVED_COLLECTIONS, hub_store_from_env
from submissions.hub_models import HubModels, hub_api
from tests.browser import free_port
from tests.hub_fixtures import add_store_datasets
from tests.hub_server import HubServer
from tests.merge_records import GAPS, HIDDEN, RESULTS, file_text, leaks

TOKEN = "organiser-secret-for-the-reveal"
PUBLIC_REPOS = ("org/requests", "org/results", *(f"org/results-{c}" for c in DERIVED_COLLECTIONS))
MERGING = challenges()["merging"]


@pytest.fixture(scope="module")
def space() -> Iterator[tuple[Client, object, HubServer]]:
    with HubServer() as hub, pytest.MonkeyPatch.context() as env:
        add_store_datasets(hub, "org/requests", "org/results", "org/private")
        env.setenv("ARENA_DEMO", "off")
        env.setenv("ORGANISER_TOKEN", TOKEN)
        env.delenv("SPACE_ID", raising=False)
        store = hub_store_from_env({"REQUESTS_DATASET": "org/requests", "RESULTS_DATASET": "org/results",
                                    "PRIVATE_DATASET": "org/private", "HF_TOKEN": hub.token, "HF_ENDPOINT": hub.url})
        for record in RESULTS:
            store.put("results", record)
            store.put("requests", {"id": record["request_id"], "challenge": "merging", "team": record["team"],
                                   "repo_id": record["name"], "submitted_at": "2026-03-10T09:00:00+00:00",
                                   "state": "FINISHED", "result_id": record["id"], "kind": "merge_recipe"})
        store.put("details", {"id": "m-alpha", "samples": {"cosmos_qa": [{"prompt": "p", "output": "A",
                                                                          "correct": True}]}})
        write_details(store, "m-beta", 1, "gpu-1", {"cosmos_qa": [{"prompt": "p", "output": [-1.0, -2.0],
                                                                   "parsed": 0, "gold": 0, "correct": True}],
                                                     "xsum": [{"prompt": "d", "output": "s", "parsed": "s",
                                                               "gold": "s", "rougeL": 0.5}]})
        for record in HIDDEN:
            store.put(HIDDEN_SCORES, record)
        demo = app.build_app(store, HubModels(hub_api(hub.url)))
        port = free_port()
        demo.launch(prevent_thread_lock=True, server_port=port, quiet=True)
        try:
            yield Client(f"http://127.0.0.1:{port}/", verbose=False), store, hub
        finally:
            demo.close()


def every_public_answer(client: Client) -> dict[str, object]:
    """One call to each endpoint of app.PUBLIC_API (a refusal's message counts as its answer)."""
    def call(*args, api_name: str, **params):
        try:
            return client.predict(*args, **params, api_name=api_name)
        except AppError as error:
            return f"refused: {error}"

    answers = {f"read_board {cid}": call(cid, page_size=100, api_name="/read_board") for cid in challenges()}
    answers["read_board by test"] = call("merging", sort_by="test_average", api_name="/read_board")
    answers["export_board"] = call("merging", api_name="/export_board")
    answers["export_board test"] = call("merging", columns=["name", "test_average"], api_name="/export_board")
    for record in RESULTS:
        answers[f"read_details {record['id']}"] = call(record["id"], api_name="/read_details")
    answers["read_queue"] = call(api_name="/read_queue")
    answers["read_queue merging"] = call("merging", api_name="/read_queue")
    for board in ("merging", "general_nlp", "demo"):
        answers[f"arena_ratings {board}"] = call(board, api_name="/arena_ratings")
    answers["submit"] = call("merging", "Leak Team", "not a repo", api_name="/submit")
    assert set(app.PUBLIC_API) == {name.split()[0] for name in answers}  # every public endpoint was called
    return answers


def public_files(hub: HubServer) -> dict[str, str]:
    return {f"{repo}/{path}": file_text(path, content)
            for repo in PUBLIC_REPOS for path, content in hub.files(repo, "dataset").items()}


def read_board_once_revealed(client: Client, within_s: float = 90) -> dict:
    """The merging board as soon as the app sees the reveal (made by another process, as another replica's
    would be: the boards ask the Hub for the reveals every sixth 10 s refresh, so within about 60 s)."""
    deadline = time.monotonic() + within_s
    while True:
        board = client.predict("merging", page_size=100, api_name="/read_board")
        if "correlation" in board or time.monotonic() > deadline:
            return board
        time.sleep(0.5)


def test_before_the_reveal_no_endpoint_export_or_public_dataset_file_holds_a_hidden_score(space):
    client, _, hub = space
    answers = every_public_answer(client)
    board = answers["read_board merging"]
    assert {"m-alpha", "m-beta"} <= {row["id"] for row in board["rows"]}  # the entries are there, untested
    assert "correlation" not in board and "test_average" not in board["columns"]
    assert answers["read_board by test"].startswith("refused: sort_by 'test_average' is not a column")
    assert answers["export_board test"].startswith("refused: columns: 'test_average' is not a column")
    texts = {name: json.dumps(answer, ensure_ascii=False) for name, answer in answers.items()
             if not name.endswith(" test")}  # those two refusals only repeat the key the caller typed
    assert {name: leaks(text) for name, text in texts.items() if leaks(text)} == {}
    files = public_files(hub)
    assert any(path.startswith("org/results/results/m-alpha") for path in files)
    assert '"rougeL": "0.5"' in files["org/results-details/details/m-beta.parquet"]  # the check reads the Parquet rows
    assert answers["read_details m-beta"]["sample_counts"] == {"cosmos_qa": 1, "xsum": 1}
    assert {path: leaks(text) for path, text in files.items() if leaks(path + text)} == {}
    private = "".join(content.decode() for content in hub.files("org/private", "dataset").values())
    assert "31.4159" in private  # the scores are stored: privately


def test_a_refused_reveal_changes_nothing_and_an_organisers_reveal_ranks_by_the_test(space):
    client, store, hub = space
    files_before = public_files(hub)
    assert reveal_hidden_test(store, MERGING, "a guess") == NOT_ORGANISER
    assert public_files(hub) == files_before
    assert "correlation" not in client.predict("merging", api_name="/read_board")

    assert reveal_hidden_test(store, MERGING, TOKEN).startswith("Revealed the hidden test")
    board = read_board_once_revealed(client)
    for key in ("test_average", "test_cosmos_qa", "test_xsum", "gap"):
        assert key in board["columns"]
    ranked = [row for row in board["rows"] if row["rank"] is not None]
    assert [(row["rank"], row["id"]) for row in ranked[:3]] == [(1, "m-beta"), (2, "m-alpha"), (3, "m-gamma")]
    assert ranked[3]["id"] == "published-merging-readapt-median-2024-07-29" and ranked[3]["test_average"] is None
    by_id = {row["id"]: row for row in board["rows"]}
    assert by_id["m-alpha"]["test_cosmos_qa"] == 31.4159 and by_id["m-alpha"]["test_average"] == 29.29935
    assert {key: pytest.approx(by_id[key]["gap"]) for key in GAPS} == GAPS
    assert board["correlation"] == {"n": 3, "spearman": pytest.approx(0.5),
                                    "pearson": pytest.approx(statistics.correlation([60, 50, 40],
                                                                                    [29.29935, 43.4567, 15.5555]))}
    assert board["test_revealed_at"]

    rows = list(csv.reader(io.StringIO(client.predict("merging", columns=["rank", "name", "average", "test_average",
                                                                          "gap"], api_name="/export_board"))))
    assert rows[0] == ["Rank", "Model / Submission", "Validation Performance", "Test average", "Gap (test − val.)"]
    assert rows[1] == ["1", "beta-merge", "50.0", "43.4567", "-6.5433"]  # numbers as plain numbers
    assert "31.4159" in json.dumps(client.predict("merging", api_name="/read_board"))
    assert any("31.4159" in text for path, text in public_files(hub).items() if path.startswith("org/results/reveals/"))

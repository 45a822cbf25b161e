"""What a Space gets by default: no in-app evaluator without a GPU, and no start without a durable store."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from evaluator.scheduler import evaluator_enabled
from store.base import LocalStore, StoreError
from store.factory import NO_DURABLE_STORE, NO_QUEUE_DATABASE, open_store
from store.hub import HubStore
from store.outbox import OutboxStore
from store.sql import SqlStore
from submissions.ui import queue_refresh_s

ROOT = Path(__file__).resolve().parent.parent
SPACE = {"SPACE_ID": "org/space"}


def no_gpu() -> bool:
    return False


def a_gpu() -> bool:
    return True


def test_the_evaluator_runs_in_the_app_off_a_space_as_before():
    assert evaluator_enabled({}, has_gpu=no_gpu)
    assert not evaluator_enabled({"EVALUATOR_ENABLED": "0"}, has_gpu=no_gpu)


def test_a_space_without_a_gpu_leaves_evaluations_to_workers():
    assert not evaluator_enabled(SPACE, has_gpu=no_gpu)
    assert not evaluator_enabled(SPACE)  # this machine has no CUDA: the real check says the same
    assert evaluator_enabled(SPACE, has_gpu=a_gpu)


@pytest.mark.parametrize("value", ["1", "true", "on"])
def test_evaluator_enabled_still_forces_it_on(value):
    assert evaluator_enabled({**SPACE, "EVALUATOR_ENABLED": value}, has_gpu=no_gpu)


def test_a_space_without_a_store_refuses_naming_what_to_set():
    with pytest.raises(StoreError) as refused:
        open_store(SPACE)
    message = str(refused.value)
    assert message == NO_DURABLE_STORE
    for name in ("REQUESTS_DATASET", "RESULTS_DATASET", "HF_TOKEN", "LEADERBOARD_DATA_DIR=/data", "./data"):
        assert name in message


def test_a_space_with_a_store_configured_opens_it(tmp_path):
    persistent = tmp_path / "persistent"
    store = open_store({**SPACE, "LEADERBOARD_DATA_DIR": str(persistent)})
    assert isinstance(store.backend("results"), LocalStore) and store.backend("results").root == persistent
    live = store.backend("requests")
    assert isinstance(live, SqlStore) and live.url == f"sqlite:///{persistent / 'live.sqlite3'}"
    assert store.backend("votes") is live and (persistent / "live.sqlite3").is_file()
    hub = {**SPACE, "REQUESTS_DATASET": "org/requests", "RESULTS_DATASET": "org/results",
           "HUB_CACHE_DIR": str(tmp_path / "cache")}
    database = f"sqlite:///{tmp_path / 'queue.sqlite3'}"
    store = open_store({**hub, "DATABASE_URL": database})
    assert isinstance(store.default, HubStore) and store.default.repos["results"] == "org/results"
    outbox = store.backend("results")  # staged in the queue database, published to org/results in batches
    assert isinstance(outbox, OutboxStore) and outbox.hub is store.default and outbox.live is store.backend("requests")
    assert outbox.repos() == {"org/results": ("results",), "org/results-details": ("details",)}
    assert store.backend("requests").url == database


def test_a_space_on_the_hub_without_a_queue_database_refuses_naming_what_to_set(tmp_path):
    with pytest.raises(StoreError) as refused:
        open_store({**SPACE, "REQUESTS_DATASET": "org/requests", "RESULTS_DATASET": "org/results",
                    "HUB_CACHE_DIR": str(tmp_path / "cache")})
    assert str(refused.value) == NO_QUEUE_DATABASE
    for name in ("DATABASE_URL", "PostgreSQL", "LEADERBOARD_DATA_DIR=/data", "./data"):
        assert name in NO_QUEUE_DATABASE


def test_local_runs_keep_the_default_folder(tmp_path):
    store = open_store({"LEADERBOARD_DATA_DIR": str(tmp_path)})
    assert store.backend("results").root == tmp_path
    assert store.backend("requests").url == f"sqlite:///{tmp_path / 'live.sqlite3'}"


def test_the_first_open_imports_the_requests_and_votes_of_the_json_folder_once(tmp_path):
    folder = LocalStore(tmp_path)
    request = {"id": "r1", "submitted_at": "2026-03-10T10:00:00+00:00", "state": "PENDING"}
    vote = {"id": "v1", "board": "general_nlp", "conversation_id": "c", "outcome": "a",
            "created_at": "2026-03-10T10:00:00+00:00", "a": {"entry": "x"}, "b": {"entry": "y"}}
    folder.put("requests", request)
    folder.put("votes", vote)
    store = open_store({"LEADERBOARD_DATA_DIR": str(tmp_path)})
    assert store.all("requests") == [request] and store.all("votes") == [vote]
    store.rewrite("requests", lambda snapshot: ([], ["r1"], None))  # removed in the database after the upgrade
    assert open_store({"LEADERBOARD_DATA_DIR": str(tmp_path)}).all("requests") == []  # not imported again


def test_the_app_on_a_space_without_a_store_exits_with_the_message(tmp_path):
    keep = {k: v for k, v in os.environ.items()
            if k not in ("REQUESTS_DATASET", "RESULTS_DATASET", "LEADERBOARD_DATA_DIR", "PRIVATE_DATASET")}
    env = {**keep, "SPACE_ID": "org/space", "GRADIO_SERVER_PORT": "1", "HOME": str(tmp_path)}
    done = subprocess.run([sys.executable, "app.py"], check=False, cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=240)
    assert done.returncode != 0
    assert f"Not starting: {NO_DURABLE_STORE}" in done.stderr
    assert "Traceback" not in done.stderr


def test_the_queue_refresh_interval_is_read_and_checked():
    assert queue_refresh_s({}) == 10.0 and queue_refresh_s({"QUEUE_REFRESH_S": "2.5"}) == 2.5
    for bad in ("often", "0", "-3", "inf"):
        with pytest.raises(ValueError, match="QUEUE_REFRESH_S must be a positive number of seconds"):
            queue_refresh_s({"QUEUE_REFRESH_S": bad})

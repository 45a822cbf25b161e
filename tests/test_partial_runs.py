"""Issue 14's scenario: two random tiny adapters evaluated on one question per dataset (EVALUATOR_LIMIT=1) became
Finance #1 and #2, "verified", above the published baseline. Such smoke runs are partial: never ranked, shown
as partial on the board and in the API, and their details say why."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pandas as pd
import pytest
import torch

from evaluator.worker import Worker, WorkerConfig
from leaderboard.aggregate import refresh_boards
from leaderboard.api import board_api
from leaderboard.boards import Boards
from leaderboard.details import lookup_details
from models.loading import LoadOptions, ModelPool
from store.base import LocalStore
from tests.eval_helpers import FIXTURES
from tests.tiny_models import build_lora, build_tiny_llama


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("partial")
    base = build_tiny_llama(root / "base")
    return base, [build_lora(base, root / f"lora-{seed}", seed=seed) for seed in (21, 22)]


def test_smoke_runs_on_finance_stay_below_the_published_baseline_and_say_why(tmp_path, models):
    base, adapters = models
    store = LocalStore(tmp_path / "store")
    refresh_boards(store)
    for team, adapter in zip(("Random A", "Random B"), adapters, strict=True):
        store.put("requests", {"id": team.replace(" ", "-").lower(), "challenge": "finance", "repo_id": str(adapter),
                               "commit": None, "base_model": str(base), "base_commit": None, "team": team,
                               "comm_gb": 0.1, "code_url": "https://github.com/t/t", "state": "PENDING",
                               "submitted_at": "2026-03-10T10:00:00+00:00", "attempts": 0})
    config = WorkerConfig.from_env({"EVALUATOR_LIMIT": "1", "EVALUATOR_DATA_DIR": str(FIXTURES)})
    worker = Worker(store, ModelPool(options=LoadOptions("cpu", torch.float32, False)), config,
                    clock=lambda: datetime(2026, 3, 10, 12, tzinfo=UTC))
    assert {worker.run_once(), worker.run_once()} == {"random-a", "random-b"}

    results = [store.get("results", f"result-random-{x}") for x in "ab"]
    assert [r["source"] for r in results] == ["partial", "partial"]
    assert all(r["provenance"]["sample_counts"] == {"fpb": 1, "fiqa": 1, "tfns": 1} for r in results)

    frame = Boards(store).frame("finance")
    baseline = frame[frame["team"] == "Baseline"].iloc[0]
    assert baseline["rank"] == 1 and baseline["source"] == "published"
    assert all(r["average"] > baseline["average"] for r in results)  # one lucky question each: 66.67 > 45.27
    smoke = frame[frame["team"].str.startswith("Random")]
    assert smoke["source"].tolist() == ["partial", "partial"] and smoke["rank"].isna().all()
    assert smoke.index.min() > baseline.name  # listed after every ranked row, whatever their averages

    read_board, _, _ = board_api(Boards(store), store)
    rows = read_board("finance")["rows"]
    assert (rows[0]["team"], rows[0]["rank"], rows[0]["source"]) == ("Baseline", 1, "published")
    assert {(r["team"], r["rank"], r["source"]) for r in rows[1:]} == {("Random A", None, "partial"),
                                                                       ("Random B", None, "partial")}
    assert read_board("finance", sources=["sample"])["total"] == 2  # the old word still filters

    details = lookup_details(store, "result-random-a")
    assert "| Source | partial |" in details
    assert ("| Not ranked | a partial (smoke) run: local data override (EVALUATOR_DATA_DIR): not the official "
            "datasets; at most 1 questions per dataset (EVALUATOR_LIMIT) |") in details


def test_a_result_stored_as_sample_reads_as_partial_everywhere(tmp_path):
    """Smoke runs were stored as source "sample" with their reasons in provenance.sample: such a stored record
    stays readable, and reads as partial on the board, in the API and in its details."""
    store = LocalStore(tmp_path / "store")
    refresh_boards(store)
    old = {"id": "result-old", "challenge": "finance", "team": "Old Smoke", "source": "sample", "average": 99.0,
           "scores": {"fpb": 99.0}, "date": "2025-12-01",
           "provenance": {"sample": ["at most 2 questions per dataset (EVALUATOR_LIMIT)"], "limit": 2}}
    (tmp_path / "store" / "results" / "result-old.json").write_text(json.dumps(old), encoding="utf-8")
    store.put("requests", {"id": "old", "state": "FINISHED", "result_id": "result-old", "challenge": "finance",
                           "submitted_at": "2025-12-01T09:00:00+00:00"})
    frame = Boards(store).frame("finance")
    row = frame[frame["team"] == "Old Smoke"].iloc[0]
    assert row["source"] == "partial" and pd.isna(row["rank"]) and row.name == len(frame) - 1
    _, _, read_details = board_api(Boards(store), store)
    stored = read_details("result-old")["result"]
    assert stored["source"] == "partial" and stored["provenance"]["partial"] == old["provenance"]["sample"]
    details = lookup_details(store, "result-old")
    assert "| Not ranked | a partial (smoke) run: at most 2 questions per dataset (EVALUATOR_LIMIT) |" in details
    assert "| Partial run, because | at most 2 questions per dataset (EVALUATOR_LIMIT) |" in details

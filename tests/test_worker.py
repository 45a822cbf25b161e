"""The worker end to end on a tiny Llama + LoRA (real lm-eval, real peft) and its queue transitions."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta, timezone

import pytest
import torch
import yaml

from challenges.definitions import DEFINITIONS_DIR, parse_challenge
from evaluator import queue
from evaluator.worker import Worker, WorkerConfig, result_id_for
from leaderboard.boards import Boards
from models.loading import LoadOptions, ModelPool
from store.base import LocalStore
from store.details_files import details_columns, read_details_slice
from tests.eval_helpers import FIXTURES
from tests.tiny_models import build_lora, build_tiny_llama

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("models")
    base = build_tiny_llama(root / "base")
    return {"base": base, "lora": build_lora(base, root / "lora"),
            "zero": build_lora(base, root / "zero", scale=0.0)}


def request(rid, base, adapter, challenge="finance", submitted="2026-03-10T10:00:00+00:00", **extra):
    return {"id": rid, "challenge": challenge, "repo_id": str(adapter), "commit": None, "base_model": str(base),
            "base_commit": None, "team": "Tiny Team", "comm_gb": 1.5, "code_url": "https://github.com/t/t",
            "submitted_at": submitted, "state": "PENDING", "attempts": 0, "rules_version": "v1", **extra}


def worker(store, **config) -> Worker:
    pool = ModelPool(options=LoadOptions("cpu", torch.float32, False))
    return Worker(store, pool, WorkerConfig(worker_id="w1", data_dir=FIXTURES, limit=1, heartbeat_s=0.2, **config))


def test_evaluates_oldest_first_and_the_result_reaches_the_board(tmp_path, models):
    store = LocalStore(tmp_path)
    store.put("requests", request("newer", models["base"], models["lora"], submitted="2026-03-10T11:00:00+00:00"))
    store.put("requests", request("older", models["base"], models["lora"], challenge="general_nlp"))
    w = worker(store)
    assert w.run_once() == "older"
    done = store.get("requests", "older")
    assert done["state"] == "FINISHED" and done["result_id"] == result_id_for("older")
    assert store.get("requests", "newer")["state"] == "PENDING"
    result = store.get("results", result_id_for("older"))
    assert set(result["scores"]) == {"stem", "social_sciences", "humanities"}
    assert all(0.0 <= v <= 100.0 for v in result["scores"].values())
    assert result["average"] == pytest.approx(sum(result["scores"].values()) / 3)
    provenance = result["provenance"]
    assert result["source"] == "partial" and len(provenance["partial"]) == 2  # local data + a limit: a smoke run
    assert provenance["versions"]["lm_eval"] == "0.4.13" and provenance["device"] == "cpu"
    assert provenance["sample_counts"] == {"stem": 1, "social_sciences": 1, "humanities": 1}
    assert len(provenance["task_definition_hash"]) >= 12 and provenance["duration_s"] > 0
    mmlu_file = FIXTURES / "mmlu.jsonl"  # the three columns read one local file: its hash is what they read
    read_at = f"local:mmlu.jsonl@sha256:{hashlib.sha256(mmlu_file.read_bytes()).hexdigest()}"
    assert provenance["dataset_revisions"] == {"stem": read_at, "social_sciences": read_at, "humanities": read_at}
    assert details_columns(store, result["id"]) == {"stem": 1, "social_sciences": 1, "humanities": 1}
    row = Boards(store).frame("general_nlp").iloc[0]
    assert (row["team"], row["source"], row["details_url"]) == ("Tiny Team", "partial", f"?details={result['id']}")
    assert (provenance["dtype"], provenance["quantization"]) == ("float32", "4-bit FP4 (bitsandbytes, float32 compute)")
    assert provenance["batch_size"] == 1 and provenance["precision_official"] is True  # one prompt per call
    assert w.run_once() == "newer" and w.run_once() is None
    finance = store.get("results", result_id_for("newer"))["provenance"]
    assert (finance["dtype"], finance["quantization"], finance["batch_size"]) == ("float16", None, 4)
    # once per official precision (General NLP 4-bit, Finance float16): never reused at the other one
    assert w.pool.loads == {next(iter(w.pool.loads)): 2}


def test_adapter_without_effect_fails_with_a_reason(tmp_path, models):
    store = LocalStore(tmp_path)
    store.put("requests", request("zero", models["base"], models["zero"]))
    worker(store).run_once()
    failed = store.get("requests", "zero")
    assert failed["state"] == "FAILED" and failed["failure"]["reason"].startswith("adapter had no effect")
    assert store.all("results") == []


def test_unloadable_adapter_fails_with_a_reason(tmp_path, models):
    store = LocalStore(tmp_path)
    store.put("requests", request("missing", models["base"], tmp_path / "nowhere"))
    worker(store).run_once()
    failed = store.get("requests", "missing")
    assert failed["state"] == "FAILED" and failed["failure"]["log_tail"]
    assert store.all("results") == []


def test_stale_running_request_is_requeued_then_failed_after_max_attempts(tmp_path):
    store = LocalStore(tmp_path)
    store.put("requests", {**request("r", "b", "a"), "state": "RUNNING", "worker": "dead", "attempts": 1,
                           "heartbeat_at": (NOW - timedelta(minutes=11)).isoformat()})
    claim, claimed = queue.claim_next(store, "w2", NOW, timedelta(minutes=10), max_attempts=2)
    assert (claimed["id"], claimed["worker"], claim.attempt) == ("r", "w2", 2)
    assert queue.claim_next(store, "w3", NOW, timedelta(minutes=10), 2) is None  # fresh heartbeat: not stale
    later = NOW + timedelta(minutes=30)
    assert queue.claim_next(store, "w3", later, timedelta(minutes=10), 2) is None
    failed = store.get("requests", "r")
    assert failed["state"] == "FAILED" and "interrupted 2 times" in failed["failure"]["reason"]


def test_a_worker_that_lost_its_claim_cannot_write(tmp_path):
    store = LocalStore(tmp_path)
    store.put("requests", request("r", "b", "a"))
    claim, _ = queue.claim_next(store, "w1", NOW, timedelta(minutes=10), 3)
    later = NOW + timedelta(minutes=20)
    claim2, _ = queue.claim_next(store, "w2", later, timedelta(minutes=10), 3)  # w1 looked dead
    assert not queue.heartbeat(store, claim, later)
    assert not queue.mark_finished(store, claim, "result-r", later)
    assert queue.mark_finished(store, claim2, "result-r", later)
    assert store.get("requests", "r")["worker"] == "w2"


def test_result_written_before_a_crash_is_not_evaluated_again(tmp_path, models):
    store = LocalStore(tmp_path)
    store.put("requests", request("r", models["base"], models["lora"]))
    store.put("results", {"id": result_id_for("r"), "challenge": "finance", "average": 1.0})
    w = worker(store)
    assert w.run_once() == "r"
    assert store.get("requests", "r")["state"] == "FINISHED"
    assert w.pool.loads == {}  # nothing was loaded: the earlier result stands
    assert len(store.all("results")) == 1


def short_code_challenge():
    """The Code definition with a 300-token total length (the fixture prompts take 53-268 tokens): a random
    tiny model never stops on its own, and the protocol's 1024/2048 tokens are the code suite tests' business."""
    raw = yaml.safe_load((DEFINITIONS_DIR / "code.yaml").read_text())
    for column in raw["columns"]:
        column["evaluation"]["max_length"] = 300
    return {"code": parse_challenge(raw)}


def test_code_challenge_runs_the_code_suite_through_the_worker(tmp_path, models):
    from tests.code_fixtures import write_data_dir

    store = LocalStore(tmp_path / "store")
    store.put("requests", request("code", models["base"], models["lora"], challenge="code"))
    w = worker(store)
    w.definitions = short_code_challenge()
    w.config.data_dir = write_data_dir(tmp_path / "code-data", ["HumanEval/0"])
    assert w.run_once() == "code"
    finished = store.get("requests", "code")
    assert finished["state"] == "FINISHED", finished["failure"]
    result = store.get("results", result_id_for("code"))
    assert set(result["scores"]) == {"mbpp", "humaneval", "multiple_js", "multiple_cpp"}
    assert result["provenance"]["sample_counts"] == {"mbpp": 1, "humaneval": 1, "multiple_js": 1, "multiple_cpp": 1}
    assert "isolated" in result["provenance"]["settings"]["sandbox"]
    (record,), _ = read_details_slice(store, result["id"], "humaneval")
    assert {"prompt", "raw_output", "program", "passed"} <= set(record)

"""The worker when things go wrong: whose fault a failure is, a claim lost to another worker, out of memory
while loading. Real tiny Llama + LoRA, real lm-eval, real LocalStore."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
import torch

from evaluator import queue
from evaluator.claim_watch import ClaimLost
from evaluator.code_lm import SandboxError
from evaluator.failures import EVALUATOR, SUBMISSION, classify
from evaluator.sandbox import SandboxUnavailable
from evaluator.worker import Worker, WorkerConfig, result_id_for
from models.loading import LoadOptions, ModelPool
from store.base import LocalStore
from store.details_files import details_info, read_details_slice
from tests.eval_helpers import FIXTURES
from tests.test_worker import models, request  # noqa: F401  (the module-scoped tiny models fixture)

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=timezone.utc)
CPU = LoadOptions("cpu", torch.float32, False)
OOM_MESSAGE = "CUDA out of memory. Tried to allocate 2.00 GiB (GPU 0; 79.15 GiB total capacity)"


def make_worker(store, pool=None, worker_id="w1", clock=lambda: NOW, **config) -> Worker:
    settings = {"data_dir": FIXTURES, "limit": 1, "heartbeat_s": 60.0, **config}
    return Worker(store, pool or ModelPool(options=CPU), WorkerConfig(worker_id=worker_id, **settings), clock=clock)


# --- whose fault ------------------------------------------------------------------------------------------
def failure_of(store, rid):
    record = store.get("requests", rid)
    assert record["state"] == "FAILED", record
    assert set(record["failure"]) == {"reason", "log_tail", "cause"}
    return record["failure"]


def test_a_broken_adapter_is_the_submission_s_fault(tmp_path, models):
    store = LocalStore(tmp_path / "store")
    store.put("requests", request("zero", models["base"], models["zero"]))
    store.put("requests", request("missing", models["base"], tmp_path / "nowhere", submitted="2026-03-10T10:01:00+00:00"))
    w = make_worker(store)
    assert (w.run_once(), w.run_once()) == ("zero", "missing")
    assert failure_of(store, "zero")["cause"] == SUBMISSION
    missing = failure_of(store, "missing")
    assert missing["cause"] == SUBMISSION and missing["reason"].startswith("the adapter could not be loaded")


def test_a_missing_dataset_or_base_model_is_the_evaluator_s_fault(tmp_path, models):
    store = LocalStore(tmp_path / "store")
    store.put("requests", request("nodata", models["base"], models["lora"]))
    empty = tmp_path / "no-data"
    empty.mkdir()
    make_worker(store, data_dir=empty).run_once()
    nodata = failure_of(store, "nodata")
    assert nodata["cause"] == EVALUATOR and "FileNotFoundError" in nodata["reason"]
    assert "does not count against your submission limit" in nodata["reason"]
    store.put("requests", request("nobase", tmp_path / "no-base", models["lora"]))
    make_worker(store).run_once()
    nobase = failure_of(store, "nobase")
    assert nobase["cause"] == EVALUATOR and nobase["reason"].startswith("the base model")


def test_a_worker_interrupted_max_attempts_times_is_the_evaluator_s_fault(tmp_path):
    store = LocalStore(tmp_path)
    store.put("requests", {**request("r", "b", "a"), "state": "RUNNING", "worker": "dead", "attempts": 2,
                           "heartbeat_at": (NOW - timedelta(hours=1)).isoformat()})
    assert queue.claim_next(store, "w2", NOW, timedelta(minutes=10), max_attempts=2) is None
    failure = failure_of(store, "r")
    assert failure["cause"] == EVALUATOR and "interrupted 2 times" in failure["reason"]


def test_code_that_cannot_be_isolated_is_the_evaluator_s_fault():
    for error in (SandboxUnavailable("bubblewrap is not installed"), SandboxError("bubblewrap is not installed")):
        reason, cause = classify(error)
        assert cause == EVALUATOR and "cannot be run in isolation" in reason and "bubblewrap is not installed" in reason
    assert classify(KeyError("column"))[1] == EVALUATOR  # any unexpected crash of our code


def test_published_failure_text_is_redacted_and_cut(tmp_path, models, monkeypatch):
    monkeypatch.setenv("EVALUATOR_TEST_SECRET", "s3cr3t-value-123")
    store = LocalStore(tmp_path / "store")
    adapter = tmp_path.joinpath(*["x" * 200] * 4, "hf_abcdefghijklmnop1234", "s3cr3t-value-123")
    store.put("requests", request("leaky", models["base"], adapter))
    make_worker(store).run_once()
    failure = failure_of(store, "leaky")
    published = failure["reason"] + failure["log_tail"]
    assert "hf_abcdefghijklmnop1234" not in published and "s3cr3t-value-123" not in published
    assert "[redacted]" in published
    assert len(failure["reason"]) <= 500 and len(failure["log_tail"]) <= 2000


# --- a lost claim -----------------------------------------------------------------------------------------
class TakenOverStore(LocalStore):
    """A LocalStore on which another worker ("w2", one hour later) re-queues the request as stale and claims it
    just before the ``take_over_at``-th write step (``rewrite``) on the requests collection, as another replica
    would."""

    def __init__(self, root, take_over_at: int):
        super().__init__(root)
        self.take_over_at, self.calls, self.after_takeover = take_over_at, 0, []

    def rewrite(self, collection, decide):
        if collection == "requests":
            self.calls += 1
            if self.calls == self.take_over_at:
                self.second = queue.claim_next(LocalStore(self.root), "w2", NOW + timedelta(hours=1),
                                               timedelta(minutes=10), 3)
        if self.calls >= self.take_over_at:
            self.after_takeover.append(collection)
        return super().rewrite(collection, decide)


@pytest.mark.parametrize("heartbeat_s", [60.0, 0.02], ids=["noticed at a progress beat", "noticed by the heartbeat"])
def test_a_worker_that_lost_its_claim_stops_and_writes_nothing(tmp_path, models, heartbeat_s):
    # requests write steps of w1 without background beats: 1 claim, 2 progress 0/3, 3 progress 1/3 (after the
    # first column); with them, the takeover lands before one of the background beats
    store = TakenOverStore(tmp_path / "store", take_over_at=3)
    store.put("requests", request("r", models["base"], models["lora"], challenge="general_nlp"))
    store.calls = 0
    first = make_worker(store, heartbeat_s=heartbeat_s, limit=4, batch_size=1)
    assert first.run_once() == "r"
    claim2, claimed = store.second
    assert (claim2.worker, claim2.attempt) == ("w2", 2)
    assert store.get("requests", "r") == claimed  # untouched since w2 claimed it
    assert set(store.after_takeover) == {"requests"}  # the beat(s) that found the claim gone; nothing after
    assert len(store.after_takeover) <= 2  # at most one beat per thread: the evaluation stopped at once
    assert details_info(store, result_id_for("r")) is None and store.all("results") == []
    # the new owner evaluates and finishes; the old one never overwrites it
    second = make_worker(store, pool=first.pool, worker_id="w2", clock=lambda: NOW + timedelta(hours=1))
    assert second._process(claim2, claimed) is None
    finished = store.get("requests", "r")
    assert (finished["state"], finished["worker"], finished["attempts"]) == ("FINISHED", "w2", 2)
    details = details_info(store, result_id_for("r"))
    assert (details.attempt, details.worker) == (2, "w2")


def test_a_lost_claim_stops_the_running_dataset_at_its_next_model_call(tmp_path, models):
    w = make_worker(LocalStore(tmp_path / "store"), limit=4, batch_size=1)  # one forward per question
    calls = []

    def check():  # as ClaimWatch.check once a beat found the claim gone
        calls.append(1)
        if len(calls) > 2:
            raise ClaimLost("r: attempt 1 lost its claim")

    progress = []
    with pytest.raises(ClaimLost):
        w.evaluate(request("r", models["base"], models["lora"], challenge="general_nlp"), progress.append, check)
    assert len(calls) == 3  # checked before every forward: the third call stopped it
    assert [p["done"] for p in progress] == [0]  # the first dataset did not finish


def test_details_of_a_newer_attempt_are_never_replaced(tmp_path):
    from evaluator.worker import write_details

    store = LocalStore(tmp_path)
    assert write_details(store, {"id": "result-r", "attempt": 2, "samples": {"a": [{"v": 1}]}})
    assert not write_details(store, {"id": "result-r", "attempt": 1, "samples": {"a": [{"v": 0}]}})
    assert read_details_slice(store, "result-r", "a") == ([{"column": "a", "index": 0, "v": 1}], 1)
    assert write_details(store, {"id": "result-r", "attempt": 3, "samples": {"a": [{"v": 3}]}})


# --- out of memory while loading --------------------------------------------------------------------------
class OutOfMemoryPool(ModelPool):
    """A ModelPool on a machine too small: reading ``base`` (or attaching an adapter) raises CUDA's
    out-of-memory error the first ``times`` times, as transformers/peft do when weights do not fit."""

    def __init__(self, times: int, where: str = "load"):
        super().__init__(options=CPU)
        self.times, self.where, self.raised, self.released = times, where, 0, 0

    def _out_of_memory(self, where: str) -> None:
        if where == self.where and self.raised < self.times:
            self.raised += 1
            raise torch.cuda.OutOfMemoryError(OOM_MESSAGE)

    def _load(self, ref, options):
        self._out_of_memory("load")
        return super()._load(ref, options)

    def _attach(self, entry, adapter):
        self._out_of_memory("attach")
        return super()._attach(entry, adapter)

    def release_idle(self):
        self.released += 1
        super().release_idle()


def test_out_of_memory_at_first_load_is_retried_after_freeing_memory(tmp_path, models):
    store = LocalStore(tmp_path / "store")
    store.put("requests", request("r", models["base"], models["lora"], challenge="general_nlp"))
    pool = OutOfMemoryPool(times=1)
    make_worker(store, pool=pool).run_once()
    done = store.get("requests", "r")
    assert done["state"] == "FINISHED", done["failure"]
    assert (pool.raised, pool.released) == (1, 1)
    assert store.get("results", result_id_for("r")) is not None


def test_out_of_memory_in_the_adapter_probe_is_retried(tmp_path, models):
    store = LocalStore(tmp_path / "store")
    store.put("requests", request("r", models["base"], models["lora"], challenge="general_nlp"))
    pool = OutOfMemoryPool(times=2, where="attach")
    make_worker(store, pool=pool).run_once()
    assert store.get("requests", "r")["state"] == "FINISHED"
    assert (pool.raised, pool.released) == (2, 2)


def test_a_base_model_that_never_fits_fails_as_the_evaluator_s_fault(tmp_path, models):
    store = LocalStore(tmp_path / "store")
    store.put("requests", request("r", models["base"], models["lora"], challenge="general_nlp"))
    pool = OutOfMemoryPool(times=99)
    make_worker(store, pool=pool, load_retries=2).run_once()
    failure = failure_of(store, "r")
    assert failure["cause"] == EVALUATOR and "does not fit in this worker's memory" in failure["reason"]
    assert pool.raised == 3 and "OutOfMemoryError" in failure["log_tail"]


def test_an_adapter_that_never_fits_beside_its_base_is_the_submission_s_fault(tmp_path, models):
    store = LocalStore(tmp_path / "store")
    store.put("requests", request("r", models["base"], models["lora"], challenge="general_nlp"))
    make_worker(store, pool=OutOfMemoryPool(times=99, where="attach")).run_once()
    failure = failure_of(store, "r")
    assert failure["cause"] == SUBMISSION and "does not fit in memory beside its base model" in failure["reason"]


def test_a_finished_claim_is_not_reported_lost_by_a_beat_after_it(tmp_path, caplog):
    """The heartbeat thread used to beat between FINISHED and the end of the watch, find the request no longer
    RUNNING and warn "claim lost" for a completed evaluation (25 false alarms in the bench's busy hour)."""
    import logging
    import time

    from evaluator.claim_watch import ClaimWatch

    store = LocalStore(tmp_path)
    store.put("requests", {**request("r", "b", "a"), "state": "RUNNING", "worker": "w1", "attempts": 1,
                           "heartbeat_at": NOW.isoformat()})
    claim = queue.Claim("r", "w1", 1)
    with caplog.at_level(logging.WARNING, logger="evaluator.claim_watch"):
        with ClaimWatch(store, claim, lambda: NOW, interval=0.001) as watch:
            time.sleep(0.02)  # beats
            watch.stop_beating()
            assert queue.mark_finished(store, claim, "result-r", NOW)
            time.sleep(0.05)  # fifty intervals: a beat now would find FINISHED
        assert not watch.lost.is_set()
    assert "claim lost" not in caplog.text
    assert store.get("requests", "r")["state"] == "FINISHED"
